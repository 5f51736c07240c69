package compliance

import (
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// This file holds the domain's types; the rooms (catalog, controls,
// evidence, the checklist, snapshots, reports) each keep their logic in
// their own files.

// Text is a sentence in both of anzen's languages.
type Text struct {
	JA string `yaml:"ja" json:"ja"`
	EN string `yaml:"en" json:"en"`
}

// In returns the text in lang ("ja" or "en"), the Japanese one otherwise.
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.JA
}

// Framework kinds.
const (
	KindGuideline = "guideline" // the MHLW guideline (an edition)
	KindChecklist = "checklist" // the MHLW cybersecurity checklist (a fiscal year)
)

// Framework is one catalog: an edition of the guideline or a fiscal year's
// checklist, loaded from a data file embedded in the binary
// (catalogs/*.yaml). Its items form a tree.
type Framework struct {
	ID        string  `yaml:"id" json:"id"`     // "mhlw-gl-5.1", "mhlw-checklist-r6"
	Kind      string  `yaml:"kind" json:"kind"` // KindGuideline or KindChecklist
	Edition   string  `yaml:"edition" json:"edition"`
	Version   int     `yaml:"version" json:"version"` // of the data file; a higher one wins
	Name      Text    `yaml:"name" json:"name"`
	Publisher Text    `yaml:"publisher" json:"publisher"`
	Published string  `yaml:"published" json:"published"` // YYYY-MM-DD, or YYYY-MM
	Source    string  `yaml:"source" json:"source"`       // URL of the official text
	Note      Text    `yaml:"note,omitempty" json:"note,omitempty"`
	Items     []*Item `yaml:"items" json:"items"`

	byRef map[string]*Item // filled by the loader
}

// Item kinds. Headings (chapter, section, topic, sheet, group) group the
// items that are assessed.
const (
	ItemChapter  = "chapter"
	ItemSection  = "section"
	ItemTopic    = "topic"    // a numbered topic of a section, such as 6.5 (1)
	ItemB        = "B"        // rationale (考え方)
	ItemC        = "C"        // minimum requirement (最低限のガイドライン)
	ItemD        = "D"        // recommended (推奨されるガイドライン)
	ItemSheet    = "sheet"    // a sheet of the checklist (hospital, pharmacy, vendor)
	ItemGroup    = "group"    // a numbered section of a checklist sheet
	ItemQuestion = "question" // a checklist question, answered はい/いいえ
)

// Item is one node of a catalog.
type Item struct {
	Ref         string  `yaml:"ref" json:"ref"`       // unique in the framework: "6.5-C-15", "hospital-2-4-server"
	Number      string  `yaml:"number" json:"number"` // as printed: "C-15", "2-④"
	Kind        string  `yaml:"kind" json:"kind"`
	Title       Text    `yaml:"title" json:"title"`
	Summary     Text    `yaml:"summary" json:"summary"`                             // in our own words, never the guideline's sentences
	Revised     bool    `yaml:"revised,omitempty" json:"revised,omitempty"`         // added or changed by edition 5.1
	Unconfirmed bool    `yaml:"unconfirmed,omitempty" json:"unconfirmed,omitempty"` // numbering not checked against the official text
	V6          []V6Ref `yaml:"v6,omitempty" json:"v6,omitempty"`                   // where edition 6.0 carries it
	Target      string  `yaml:"target,omitempty" json:"target,omitempty"`           // checklist cell: server, terminal, network
	Since       string  `yaml:"since,omitempty" json:"since,omitempty"`             // checklist: the fiscal year it was added
	Assess      bool    `yaml:"assess,omitempty" json:"assess,omitempty"`           // a B item whose measure is assessed (6.11 B-1 ④)
	Children    []*Item `yaml:"children,omitempty" json:"children,omitempty"`

	parent *Item
}

// V6Ref is where an item lives in edition 6.0.
type V6Ref struct {
	Volume  string `yaml:"volume" json:"volume"` // overview, management, planning, operations
	Chapter string `yaml:"chapter" json:"chapter"`
	Item    string `yaml:"item,omitempty" json:"item,omitempty"` // such as "③"
}

// Assessable reports whether the item is assessed (a requirement or a
// checklist question) rather than a heading or a rationale.
func (it *Item) Assessable() bool {
	switch it.Kind {
	case ItemC, ItemD, ItemQuestion:
		return true
	case ItemB:
		return it.Assess
	}
	return false
}

// Control is a measure the hospital takes, kept apart from the
// requirements it answers (one control serves several items and several
// frameworks). The built-in library (controls.yaml) lists them.
type Control struct {
	ID           string         `yaml:"id" json:"id"` // "ctl-mfa"
	Title        Text           `yaml:"title" json:"title"`
	Description  Text           `yaml:"description" json:"description"`
	Requirements []string       `yaml:"requirements" json:"requirements"` // "<framework>:<ref>"
	Checks       []string       `yaml:"checks,omitempty" json:"checks,omitempty"`
	Evidence     []EvidenceSpec `yaml:"evidence,omitempty" json:"evidence,omitempty"` // the attestations it needs
}

// EvidenceSpec is a kind of attestation a control needs from people: a
// signed rule, a vendor's MDS/SDS sheet, an asset register.
type EvidenceSpec struct {
	ID       string `yaml:"id" json:"id"`
	Title    Text   `yaml:"title" json:"title"`
	ValidFor int    `yaml:"valid_days" json:"valid_days"` // days from its effective date; 0 = does not expire
}

// Implementation states a control's owner sets.
const (
	ImplNotStarted    = "not_started"
	ImplInProgress    = "in_progress"
	ImplImplemented   = "implemented"
	ImplNotApplicable = "not_applicable"
)

// Readiness of a control, a requirement or a chapter (Drata's rule: ready
// only when every check passes and every piece of evidence is approved and
// in date).
const (
	Ready       = "ready"        // green
	Attention   = "attention"    // orange: a warning, evidence near expiry or awaiting approval
	NotReady    = "not_ready"    // red: a check fails, evidence missing or expired
	NotAssessed = "not_assessed" // grey: no check has run and no evidence yet
	Excluded    = "not_applicable"
)

// CheckRun is one stored result of a check for a facility.
type CheckRun struct {
	CheckID  string         `json:"check_id"`
	Facility int64          `json:"facility"`
	Status   check.Status   `json:"status"`
	DetailID string         `json:"detail_id"`
	Data     map[string]any `json:"data,omitempty"`
	Links    []check.Link   `json:"links,omitempty"`
	Error    string         `json:"error,omitempty"` // the check could not run
	RanAt    time.Time      `json:"ran_at"`
	Took     time.Duration  `json:"took_ns"`
}

// Attestation states.
const (
	AttestPending  = "pending" // uploaded, awaiting a second person's approval
	AttestApproved = "approved"
	AttestRejected = "rejected"
)

// Attestation is a piece of manual evidence: a file a person uploads for a
// control, with its SHA-256, the date it takes effect (which may be before
// the upload), the date it expires, and a second person's approval.
type Attestation struct {
	ID          int64      `json:"id"`
	Facility    int64      `json:"facility"`
	ControlID   string     `json:"control_id"`
	EvidenceID  string     `json:"evidence_id,omitempty"` // an EvidenceSpec of the control, if any
	Title       string     `json:"title"`
	Note        string     `json:"note,omitempty"`
	FileName    string     `json:"file_name"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	EffectiveOn time.Time  `json:"effective_on"`         // a date (midnight UTC)
	ExpiresOn   *time.Time `json:"expires_on,omitempty"` // a date; nil = does not expire
	UploadedBy  string     `json:"uploaded_by"`
	UploadedAt  time.Time  `json:"uploaded_at"`
	State       string     `json:"state"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Reason      string     `json:"reason,omitempty"` // of a rejection
}

// Expiry levels of evidence.
const (
	InDate     = "in_date"
	NearExpiry = "near_expiry" // orange: within NearExpiryDays
	Expired    = "expired"     // red
)

// NearExpiryDays is how long before its expiry evidence turns orange and
// its renewal reminder goes out.
const NearExpiryDays = 30

// Checklist answers.
const (
	AnswerYes = "yes" // はい
	AnswerNo  = "no"  // いいえ
)

// Answer is a facility's answer to one question of the checklist, as the
// form asks it: はい/いいえ, the date it was checked, and for いいえ the
// date by which it will be done.
type Answer struct {
	Facility   int64      `json:"facility"`
	Framework  string     `json:"framework"` // "mhlw-checklist-r6"
	Ref        string     `json:"ref"`
	Value      string     `json:"value"`
	CheckedOn  time.Time  `json:"checked_on"`
	TargetOn   *time.Time `json:"target_on,omitempty"`
	Note       string     `json:"note,omitempty"`
	AnsweredBy string     `json:"answered_by"`
	AnsweredAt time.Time  `json:"answered_at"`
}

// ControlState is a control as it stands for a facility.
type ControlState struct {
	Control      *Control       `json:"control"`
	Owner        string         `json:"owner,omitempty"` // a login
	Impl         string         `json:"implementation"`
	Readiness    string         `json:"readiness"`
	Checks       []CheckRun     `json:"checks"` // the latest run of each of its checks
	Attestations []Attestation  `json:"attestations"`
	Missing      []EvidenceSpec `json:"missing_evidence,omitempty"` // specs with no approved, in-date attestation
	Reasons      []string       `json:"reasons,omitempty"`          // message ids saying why it is not ready
}

// RequirementState is a catalog item with the controls that answer it.
type RequirementState struct {
	Framework string   `json:"framework"`
	Item      *Item    `json:"item"`
	Controls  []string `json:"controls"` // control ids
	Readiness string   `json:"readiness"`
}

// Coverage counts the assessable items under a heading by readiness.
type Coverage struct {
	Ref     string         `json:"ref"`
	Title   Text           `json:"title"`
	Counts  map[string]int `json:"counts"` // readiness → items
	Total   int            `json:"total"`
	Percent int            `json:"percent"` // ready / (total - excluded)
}

// AttentionItem is something that needs doing soon: a failing check,
// evidence near expiry, a checklist いいえ whose target date nears.
type AttentionItem struct {
	Kind  string    `json:"kind"`  // check, evidence, answer, control
	Level string    `json:"level"` // attention (orange) or not_ready (red)
	Ref   string    `json:"ref"`   // the check, control or item
	Title Text      `json:"title"`
	Due   time.Time `json:"due,omitzero"` // zero: nothing is due by a date (a failing check, an approval)
	Link  string    `json:"link"`
}

// State is the whole of a facility's compliance at one moment: what the
// dashboard, the reports, the OSCAL assessment results and the snapshots
// are made of.
type State struct {
	Facility     int64               `json:"facility"`
	FacilityName Text                `json:"facility_name"`
	At           time.Time           `json:"at"`
	Framework    string              `json:"framework"` // the guideline edition assessed
	Controls     []*ControlState     `json:"controls"`
	Requirements []*RequirementState `json:"requirements"` // assessable items of the guideline, in catalog order
	Chapters     []Coverage          `json:"chapters"`     // per chapter of the guideline
	Revised      []*RequirementState `json:"revised"`      // the items edition 5.1 added or changed
	Overall      Coverage            `json:"overall"`
	Checklist    string              `json:"checklist"` // the checklist edition answered
	Answers      []Answer            `json:"answers"`
	Attention    []AttentionItem     `json:"attention"`
}

// DayScore is a facility's readiness counts on one day, for the trend.
type DayScore struct {
	Day    time.Time      `json:"day"`
	Counts map[string]int `json:"counts"` // readiness → assessable items of the guideline
	Total  int            `json:"total"`
}
