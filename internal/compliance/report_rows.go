package compliance

import (
	"sort"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// The reports' rows: what the inspection pack and the management report
// say, in the report's language, gathered once from a State so that the
// Excel workbooks and the printable HTML (the PDFs) show the same figures.
// Every figure comes from the State — a check run, a dated attestation, a
// checklist answer — and none is typed in.

// reportWords puts a report into words: its messages, language and time
// zone.
type reportWords struct {
	t    Translator
	lang string
	loc  *time.Location
}

func newReportWords(t Translator, lang string, loc *time.Location) reportWords {
	if lang != "en" {
		lang = "ja"
	}
	if loc == nil {
		loc = reportJapan
	}
	return reportWords{t: t, lang: lang, loc: loc}
}

// reportJapan is the hospitals' time zone when none is configured.
var reportJapan = time.FixedZone("Asia/Tokyo", 9*3600)

// T translates a report message (ids under compliance.report.).
func (w reportWords) T(id string, kv ...any) string {
	var data map[string]any
	if len(kv) > 1 {
		data = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				data[k] = kv[i+1]
			}
		}
	}
	if w.t == nil {
		return id
	}
	return w.t.T(w.lang, id, data)
}

// text picks a catalog text in the report's language.
func (w reportWords) text(t Text) string { return t.In(w.lang) }

// date writes a date as the hospital reads it; "" for the zero time.
func (w reportWords) date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(w.loc).Format("2006-01-02")
}

// dateOnly writes a stored date (midnight UTC) without moving it to the
// hospital's zone, which could make it the day before or after.
func (w reportWords) dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// datePtr is dateOnly of an optional date.
func (w reportWords) datePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return w.dateOnly(*t)
}

// time writes a moment to the minute, in the hospital's zone.
func (w reportWords) time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(w.loc).Format("2006-01-02 15:04")
}

// readiness names a readiness (ready, attention, ...).
func (w reportWords) readiness(r string) string {
	if r == "" {
		r = NotAssessed
	}
	return w.T("compliance.report.readiness." + r)
}

// status names a check's outcome.
func (w reportWords) status(s check.Status) string {
	if !s.Valid() {
		return w.T("compliance.report.check.error")
	}
	return w.T("compliance.report.check." + string(s))
}

// checkText is what a check run found, as a sentence of its part's
// catalog, or why it could not run.
func (w reportWords) checkText(r CheckRun) string {
	if r.Error != "" {
		return w.T("compliance.report.check.could_not_run", "error", r.Error)
	}
	if r.DetailID == "" || w.t == nil {
		return r.DetailID
	}
	return w.t.T(w.lang, r.DetailID, r.Data)
}

// reportControlRow is one control with its readiness.
type reportControlRow struct {
	ID, Title, Owner, Impl, Readiness, ReadinessKey string
	Requirements                                    string
	Checks                                          string // "2/3" passing
	Evidence                                        string // "1/2" in date and approved
	Reasons                                         string
}

// reportEvidenceRow is one piece of evidence: an attestation or the last
// run of a check.
type reportEvidenceRow struct {
	Kind       string // attestation, check
	Control    string
	Title      string
	File       string
	SHA256     string
	Effective  string
	Expires    string
	Level      string // in date, near expiry, expired
	LevelKey   string
	State      string
	By         string // who uploaded, or the check's id
	ApprovedBy string
	ApprovedAt string
	Result     string // a check's outcome and its sentence
	ResultKey  string
	RanAt      string
}

// reportChecklistRow is one question of the checklist with its answer.
type reportChecklistRow struct {
	Sheet, Group            string
	Number, Question        string
	Target                  string
	Answer, AnswerKey       string
	CheckedOn, TargetOn     string
	Note                    string
	checked, target         time.Time
	heading, answered, isNo bool
}

// reportExpiry is the expiry level of an attestation on day at.
func reportExpiry(a Attestation, at time.Time) string {
	if a.ExpiresOn == nil {
		return InDate
	}
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	exp := a.ExpiresOn.UTC()
	switch {
	case exp.Before(day):
		return Expired
	case exp.Before(day.AddDate(0, 0, NearExpiryDays+1)):
		return NearExpiry
	}
	return InDate
}

// controlRows lists the state's controls.
func (w reportWords) controlRows(st *State) []reportControlRow {
	var out []reportControlRow
	for _, cs := range st.Controls {
		if cs == nil || cs.Control == nil {
			continue
		}
		row := reportControlRow{ID: cs.Control.ID, Title: w.text(cs.Control.Title), Owner: cs.Owner,
			Impl: w.T("compliance.report.impl." + reportOr(cs.Impl, ImplNotStarted)), Readiness: w.readiness(cs.Readiness),
			ReadinessKey: reportOr(cs.Readiness, NotAssessed), Requirements: strings.Join(cs.Control.Requirements, ", ")}
		passed := 0
		for _, r := range cs.Checks {
			if r.Status == check.Pass && r.Error == "" {
				passed++
			}
		}
		if len(cs.Control.Checks) > 0 {
			row.Checks = w.T("compliance.report.of", "n", passed, "total", len(cs.Control.Checks))
		}
		if len(cs.Control.Evidence) > 0 {
			row.Evidence = w.T("compliance.report.of", "n", len(cs.Control.Evidence)-len(cs.Missing),
				"total", len(cs.Control.Evidence))
		}
		var reasons []string
		for _, id := range cs.Reasons {
			reasons = append(reasons, w.T(id))
		}
		for _, m := range cs.Missing {
			reasons = append(reasons, w.T("compliance.report.missing_evidence", "title", w.text(m.Title)))
		}
		row.Reasons = strings.Join(reasons, " / ")
		out = append(out, row)
	}
	return out
}

// evidenceRows lists every attestation, then the last run of every
// check, control by control.
func (w reportWords) evidenceRows(st *State) []reportEvidenceRow {
	var out []reportEvidenceRow
	for _, cs := range st.Controls {
		if cs == nil || cs.Control == nil {
			continue
		}
		for _, a := range cs.Attestations {
			lvl := reportExpiry(a, st.At)
			row := reportEvidenceRow{Kind: w.T("compliance.report.evidence.attestation"), Control: cs.Control.ID,
				Title: a.Title, File: a.FileName, SHA256: a.SHA256, Effective: w.dateOnly(a.EffectiveOn),
				Expires: w.datePtr(a.ExpiresOn), Level: w.T("compliance.report.expiry." + lvl), LevelKey: lvl,
				State: w.T("compliance.report.attest." + reportOr(a.State, AttestPending)), By: a.UploadedBy}
			if a.ExpiresOn == nil {
				row.Expires = w.T("compliance.report.no_expiry")
			}
			if a.State == AttestApproved && a.DecidedAt != nil {
				row.ApprovedBy, row.ApprovedAt = a.DecidedBy, w.date(*a.DecidedAt)
			}
			out = append(out, row)
		}
	}
	for _, cs := range st.Controls {
		if cs == nil || cs.Control == nil {
			continue
		}
		runs := append([]CheckRun(nil), cs.Checks...)
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].CheckID < runs[j].CheckID })
		for _, r := range runs {
			key := string(r.Status)
			if r.Error != "" || !r.Status.Valid() {
				key = "error"
			}
			out = append(out, reportEvidenceRow{Kind: w.T("compliance.report.evidence.check"), Control: cs.Control.ID,
				Title: r.CheckID, By: r.CheckID, Result: w.status(r.Status) + ": " + w.checkText(r), ResultKey: key,
				RanAt: w.time(r.RanAt)})
		}
	}
	return out
}

// checklistRows lists the checklist's questions, sheet by sheet, with
// the facility's answers; headings (the form's numbered sections) are
// rows of their own.
func (w reportWords) checklistRows(fw *Framework, answers []Answer) map[string][]reportChecklistRow {
	byRef := map[string]Answer{}
	for _, a := range answers {
		if fw != nil && a.Framework != "" && a.Framework != fw.ID {
			continue
		}
		byRef[a.Ref] = a
	}
	out := map[string][]reportChecklistRow{}
	if fw == nil {
		return out
	}
	for _, sheet := range fw.Items {
		var rows []reportChecklistRow
		var walk func(items []*Item, group string)
		walk = func(items []*Item, group string) {
			for _, it := range items {
				if it.Kind != ItemQuestion {
					rows = append(rows, reportChecklistRow{Sheet: sheet.Ref, Number: it.Number, Question: w.text(it.Title), heading: true})
					walk(it.Children, w.text(it.Title))
					continue
				}
				row := reportChecklistRow{Sheet: sheet.Ref, Group: group, Number: it.Number, Question: w.text(it.Title)}
				if it.Target != "" {
					row.Target = w.T("compliance.report.target." + it.Target)
				}
				if a, ok := byRef[it.Ref]; ok && (a.Value == AnswerYes || a.Value == AnswerNo) {
					row.answered, row.isNo = true, a.Value == AnswerNo
					row.AnswerKey, row.Answer = a.Value, w.T("compliance.report.answer."+a.Value)
					row.checked, row.CheckedOn = a.CheckedOn, w.dateOnly(a.CheckedOn)
					if a.TargetOn != nil {
						row.target, row.TargetOn = *a.TargetOn, w.dateOnly(*a.TargetOn)
					}
					row.Note = a.Note
				} else {
					row.AnswerKey = "unanswered"
				}
				rows = append(rows, row)
				walk(it.Children, group)
			}
		}
		walk(sheet.Children, "")
		out[sheet.Ref] = rows
	}
	return out
}

// checklistSheetName is the name of a sheet of the form in the report's
// language: 医療機関確認用, 薬局確認用, 事業者確認用 for the form's three,
// else the sheet's title.
func (w reportWords) checklistSheetName(sheet *Item) string {
	for _, known := range []string{"hospital", "pharmacy", "vendor"} {
		if sheet.Ref == known || strings.HasPrefix(sheet.Ref, known+"-") || strings.HasSuffix(sheet.Ref, "-"+known) {
			return w.T("compliance.report.sheet." + known)
		}
	}
	return w.text(sheet.Title)
}

// reportOr is s, or def when s is empty.
func reportOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// reportChange is a requirement whose readiness moved between two states.
type reportChange struct {
	Ref, Title     string
	From, To       string
	FromKey, ToKey string
}

// changesSince lists the requirements whose readiness differs from prev,
// in the order of cur.
func (w reportWords) changesSince(prev, cur *State) []reportChange {
	if prev == nil || cur == nil {
		return nil
	}
	before := map[string]string{}
	for _, r := range prev.Requirements {
		if r != nil && r.Item != nil {
			before[r.Item.Ref] = reportOr(r.Readiness, NotAssessed)
		}
	}
	var out []reportChange
	for _, r := range cur.Requirements {
		if r == nil || r.Item == nil {
			continue
		}
		now := reportOr(r.Readiness, NotAssessed)
		was, ok := before[r.Item.Ref]
		if !ok {
			was = NotAssessed
		}
		if was != now {
			out = append(out, reportChange{Ref: r.Item.Ref, Title: w.text(r.Item.Title), From: w.readiness(was),
				To: w.readiness(now), FromKey: was, ToKey: now})
		}
	}
	return out
}

// IsHeading reports whether the row is a numbered section of the form
// rather than a question.
func (r reportChecklistRow) IsHeading() bool { return r.heading }
