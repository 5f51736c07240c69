package detect

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// An alert of the behaviour baselines says in plain words why it was
// raised: "this nurse opened 84 patients' records today; the usual is
// 12–20; 61 are outside their department". It is stored as a message id
// and its numbers, not as text, so that each reader gets it in their
// language and the API can give the numbers themselves.

// Explanation is why a baseline alert was raised: the message ID (in the
// detect.baseline.explain. catalog) and its parameters.
type Explanation struct {
	ID     string            `json:"id"`
	Params ExplanationParams `json:"params"`
}

// ExplanationParams are the numbers of an explanation.
type ExplanationParams struct {
	Metric     string `json:"metric"`               // patients, events, output, outside or hours
	Day        string `json:"day"`                  // the Japan day, YYYY-MM-DD
	Profession string `json:"profession,omitempty"` // the user's (職種), as the source sent it
	Department string `json:"department,omitempty"` // the user's own, for outside
	Value      int    `json:"value"`                // today's value so far
	Lo         int    `json:"lo"`                   // the usual: the 10th percentile of the history
	Hi         int    `json:"hi"`                   // and the 90th
	Threshold  int    `json:"threshold"`            // above this the value raises the alert
	Outside    int    `json:"outside,omitempty"`    // with patients: of them, outside the department
	Hours      []int  `json:"hours,omitempty"`      // with hours: the unusual hours of the day (Japan time)
	// Basis is "user" when the user's own history is the usual, "peers"
	// when the user is still warming up and the same profession's users
	// of the facility are.
	Basis  string `json:"basis"`
	Days   int    `json:"days"`            // the user's active days in the history
	Warmup int    `json:"warmup"`          // the days a user's own baseline needs
	Peers  int    `json:"peers,omitempty"` // with basis peers: how many users
	// Widened counts the alerts of this user and metric resolved as false
	// positives that widened the band (feedback).
	Widened int `json:"widened,omitempty"`
}

// The explanation messages.
const (
	explainPatients        = "detect.baseline.explain.patients"
	explainPatientsOutside = "detect.baseline.explain.patients_outside"
	explainOutside         = "detect.baseline.explain.outside"
	explainEvents          = "detect.baseline.explain.events"
	explainOutput          = "detect.baseline.explain.output"
	explainHours           = "detect.baseline.explain.hours"
)

// encode returns the stored form of the explanation; "" for none.
func (x *Explanation) encode() string {
	if x == nil {
		return ""
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// knownProfessions have a "this <profession>" of their own; others are
// "this user".
var knownProfessions = map[string]bool{"doctor": true, "nurse": true, "pharmacist": true, "clerk": true,
	"radiological_technologist": true, "clinical_laboratory_technologist": true, "radiologist": true}

// Render returns the explanation in lang: the message, then how the
// usual was found when not from the user's own history, then the
// feedback that widened it.
func (x *Explanation) Render(cat *i18n.Catalog, lang string) string {
	if x == nil || cat == nil {
		return ""
	}
	p := x.Params
	who := "detect.baseline.who.other"
	if knownProfessions[p.Profession] {
		who = "detect.baseline.who." + p.Profession
	}
	data := map[string]any{"Who": cat.T(lang, who, nil), "N": p.Value, "Lo": p.Lo, "Hi": p.Hi, "Outside": p.Outside,
		"Department": p.Department, "Hours": hoursText(lang, p.Hours), "Days": p.Days, "Warmup": p.Warmup,
		"Peers": p.Peers, "Widened": p.Widened, "Threshold": p.Threshold}
	parts := []string{cat.T(lang, x.ID, data)}
	if p.Basis == basisPeers {
		parts = append(parts, cat.T(lang, "detect.baseline.basis.peers", data))
	}
	if p.Widened > 0 {
		parts = append(parts, cat.T(lang, "detect.baseline.widened", data))
	}
	sep := " "
	if lang == "ja" {
		sep = ""
	}
	return strings.Join(parts, sep)
}

// hoursText names hours of the day: 2時台・3時台, or 02:00–02:59, 03:00–03:59.
func hoursText(lang string, hours []int) string {
	out := make([]string, len(hours))
	for i, h := range hours {
		if lang == "ja" {
			out[i] = fmt.Sprintf("%d時台", h)
		} else {
			out[i] = fmt.Sprintf("%02d:00–%02d:59", h, h)
		}
	}
	if lang == "ja" {
		return strings.Join(out, "・")
	}
	return strings.Join(out, ", ")
}

// ExplanationJSON is an explanation in the API and in webhooks: the
// message id, its numbers, and the text in Japanese and in English.
type ExplanationJSON struct {
	ID     string            `json:"id"`
	Params ExplanationParams `json:"params"`
	Text   map[string]string `json:"text"`
}

// toJSON returns the explanation for the API; nil for none.
func (x *Explanation) toJSON(cat *i18n.Catalog) *ExplanationJSON {
	if x == nil {
		return nil
	}
	j := &ExplanationJSON{ID: x.ID, Params: x.Params, Text: map[string]string{}}
	if j.Params.Hours == nil && x.Params.Metric == metricNames[metricHours] {
		j.Params.Hours = []int{}
	}
	if cat != nil {
		for _, lang := range []string{"ja", "en"} {
			j.Text[lang] = x.Render(cat, lang)
		}
	}
	return j
}

// alertTitle is an alert's title in lang: a baseline alert's from the
// catalog, a rule's as its file has it.
func alertTitle(a Alert, cat *i18n.Catalog, lang string) string {
	if name, ok := strings.CutPrefix(a.RuleID, "model:"); ok && cat != nil {
		if id := "detect.baseline.title." + name; cat.Has(lang, id) {
			return cat.T(lang, id, nil)
		}
	}
	return a.Title
}
