package compliance

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"time"

	"github.com/anzen-health/anzen/internal/platform/chart"
)

// The printable reports: whole HTML documents with their style inlined
// (print/*.html), which the browser prints and Config.PDF turns into the
// PDFs. The inspection pack (立入検査用資料) has a cover with the facility
// and the date, the checklist as the form lays it out, the evidence list
// and the audit log's integrity proof; the management report
// (経営層への報告) has the overall and per-chapter coverage, the items
// edition 5.1 revised one by one, the trend as a chart, what needs
// attention, and what changed since the last snapshot.

//go:embed print/*.html
var reportPrintFS embed.FS

// reportPrintPolicy is the Content-Security-Policy of a printable report:
// no script and nothing loaded; its own inline style only.
const reportPrintPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// reportPrintTemplates parses the print templates with the functions of
// one document's words.
func reportPrintTemplates(w reportWords) (*template.Template, error) {
	return template.New("").Funcs(template.FuncMap{
		"T": func(id string, kv ...any) string { return w.T(id, kv...) },
		"style": func(key string) string {
			switch key {
			case NotReady, Expired, "fail", "error", AnswerNo:
				return "red"
			case Attention, NearExpiry, "warning":
				return "orange"
			case Ready, InDate, "pass", AnswerYes:
				return "green"
			}
			return "grey"
		},
	}).ParseFS(reportPrintFS, "print/*.html")
}

// reportCover is what the top of a printed report says.
type reportCover struct {
	Lang, Title, Facility, AsOf, Written string
	Guideline, Checklist                 string
	Coverage, Answers                    string
	Counts                               []reportCount
	Attention                            int
}

// reportCount is one readiness with its number of items.
type reportCount struct {
	Key, Label string
	N          int
}

func (w reportWords) cover(st *State, lib *Library, titleID string) reportCover {
	c := reportCover{Lang: w.lang, Title: w.T(titleID), Facility: w.text(st.FacilityName), AsOf: w.time(st.At),
		Attention: len(st.Attention),
		Coverage: w.T("compliance.report.coverage_line", "ready", st.Overall.Counts[Ready], "total", st.Overall.Total,
			"percent", st.Overall.Percent)}
	if c.Facility == "" {
		c.Facility = w.T("compliance.report.facility_number", "id", st.Facility)
	}
	if fw := lib.Framework(st.Framework); fw != nil {
		c.Guideline = w.text(fw.Name)
	}
	if fw := reportChecklist(st, lib); fw != nil {
		c.Checklist = w.text(fw.Name)
		yes, no, open := reportAnswerCounts(w, st.Answers, fw)
		c.Answers = w.T("compliance.report.answers_line", "yes", yes, "no", no, "open", open)
	}
	for _, r := range reportReadinessOrder {
		c.Counts = append(c.Counts, reportCount{Key: r, Label: w.readiness(r), N: st.Overall.Counts[r]})
	}
	return c
}

// reportSheet is one sheet of the checklist as the form lays it out.
type reportSheet struct {
	Name string
	Rows []reportChecklistRow
}

// inspectionView is what print/inspection.html sees.
type inspectionView struct {
	Cover       reportCover
	Sheets      []reportSheet
	Controls    []reportControlRow
	Attestation []reportEvidenceRow
	Checks      []reportEvidenceRow
	Proof       [][2]string
	Checkpoint  string
}

// InspectionPackHTML writes the inspection pack as a whole printable
// HTML document.
func InspectionPackHTML(t Translator, st *State, lib *Library, proof IntegrityProof, lang string, loc *time.Location) ([]byte, error) {
	if st == nil || lib == nil {
		return nil, fmt.Errorf("inspection pack: no state or library")
	}
	w := newReportWords(t, lang, loc)
	v := inspectionView{Cover: w.cover(st, lib, "compliance.report.inspection.title"), Controls: w.controlRows(st),
		Checkpoint: proof.Checkpoint}
	if fw := reportChecklist(st, lib); fw != nil {
		rows := w.checklistRows(fw, st.Answers)
		for _, sheet := range fw.Items {
			v.Sheets = append(v.Sheets, reportSheet{Name: w.checklistSheetName(sheet), Rows: rows[sheet.Ref]})
		}
	}
	for _, e := range w.evidenceRows(st) {
		if e.ResultKey == "" {
			v.Attestation = append(v.Attestation, e)
		} else {
			v.Checks = append(v.Checks, e)
		}
	}
	for _, p := range w.proofRows(proof) {
		if p[0] != w.T("compliance.report.proof.checkpoint") {
			v.Proof = append(v.Proof, p)
		}
	}
	return reportExecute(w, "inspection", v)
}

// checklistView is what print/_checklist.html's report-checklist sees.
type checklistPrintView struct {
	Cover  reportCover
	Sheets []reportSheet
}

// ChecklistHTML writes a checklist edition with the facility's answers as
// a whole printable HTML document, laid out as the form (the checklist's
// PDF).
func ChecklistHTML(t Translator, fw *Framework, answers []Answer, facility Text, lang string, loc *time.Location, now time.Time) ([]byte, error) {
	if fw == nil {
		return nil, fmt.Errorf("checklist: no checklist")
	}
	w := newReportWords(t, lang, loc)
	yes, no, open := reportAnswerCounts(w, answers, fw)
	v := checklistPrintView{Cover: reportCover{Lang: lang, Facility: w.text(facility), AsOf: w.time(now),
		Checklist: w.text(fw.Name), Answers: w.T("compliance.report.answers_line", "yes", yes, "no", no, "open", open)}}
	rows := w.checklistRows(fw, answers)
	for _, sheet := range fw.Items {
		v.Sheets = append(v.Sheets, reportSheet{Name: w.checklistSheetName(sheet), Rows: rows[sheet.Ref]})
	}
	return reportExecute(w, "checklist", v)
}

// managementView is what print/management.html sees.
type managementView struct {
	Cover     reportCover
	Chapters  []reportChapter
	Revised   []reportRevised
	Trend     template.HTML
	TrendDays int
	Attention []reportAttention
	Changes   []reportChange
	HasPrev   bool
	PrevAt    string
}

type reportChapter struct {
	Ref, Title string
	Counts     []reportCount
	Total      int
	Percent    int
}

type reportRevised struct {
	Ref, Number, Title, Summary string
	Readiness, Key              string
	Controls                    []string
}

type reportAttention struct {
	Level, Key, Kind, Ref, Title, Due string
}

// ManagementReportHTML writes the management report as a whole printable
// HTML document; prev, when given, is the state of the last snapshot, to
// say what changed since.
func ManagementReportHTML(t Translator, st *State, lib *Library, trend []DayScore, prev *State, lang string, loc *time.Location) ([]byte, error) {
	if st == nil || lib == nil {
		return nil, fmt.Errorf("management report: no state or library")
	}
	w := newReportWords(t, lang, loc)
	v := managementView{Cover: w.cover(st, lib, "compliance.report.management.title"), TrendDays: len(trend)}
	for _, c := range st.Chapters {
		ch := reportChapter{Ref: c.Ref, Title: w.text(c.Title), Total: c.Total, Percent: c.Percent}
		for _, r := range reportReadinessOrder {
			ch.Counts = append(ch.Counts, reportCount{Key: r, Label: w.readiness(r), N: c.Counts[r]})
		}
		v.Chapters = append(v.Chapters, ch)
	}
	for _, r := range st.Revised {
		if r == nil || r.Item == nil {
			continue
		}
		key := reportOr(r.Readiness, NotAssessed)
		v.Revised = append(v.Revised, reportRevised{Ref: r.Item.Ref, Number: r.Item.Number, Title: w.text(r.Item.Title),
			Summary: w.text(r.Item.Summary), Readiness: w.readiness(key), Key: key, Controls: r.Controls})
	}
	if len(trend) > 0 {
		bar := chart.Bar{ID: "trend", Title: w.T("compliance.report.trend.title"), Stacked: true,
			Desc: w.T("compliance.report.trend.desc", "days", len(trend)), XLabel: w.T("compliance.report.day"),
			YLabel: w.T("compliance.report.trend.items"), Empty: w.T("compliance.report.trend.empty"), Width: 720, Height: 240}
		colors := map[string]string{Ready: "#1b6e2e", Attention: "#e69f00", NotReady: "#b3261e", NotAssessed: "#8c8c8c"}
		for _, r := range []string{Ready, Attention, NotReady, NotAssessed} {
			s := chart.Series{Name: w.readiness(r), Color: colors[r]}
			for _, d := range trend {
				s.Values = append(s.Values, float64(d.Counts[r]))
			}
			bar.Series = append(bar.Series, s)
		}
		for _, d := range trend {
			bar.Categories = append(bar.Categories, d.Day.UTC().Format("01-02"))
		}
		v.Trend = bar.SVG()
	}
	for _, a := range st.Attention {
		due := ""
		if !a.Due.IsZero() {
			due = w.dateOnly(a.Due)
		}
		v.Attention = append(v.Attention, reportAttention{Level: w.readiness(a.Level), Key: a.Level,
			Kind: w.T("compliance.report.attention." + reportOr(a.Kind, "control")), Ref: a.Ref, Title: w.text(a.Title), Due: due})
	}
	if prev != nil {
		v.HasPrev, v.PrevAt, v.Changes = true, w.time(prev.At), w.changesSince(prev, st)
	}
	return reportExecute(w, "management", v)
}

// reportExecute writes the print template name with v.
func reportExecute(w reportWords, name string, v any) ([]byte, error) {
	t, err := reportPrintTemplates(w)
	if err != nil {
		return nil, fmt.Errorf("print templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "report-"+name, v); err != nil {
		return nil, fmt.Errorf("write the %s report: %w", name, err)
	}
	return buf.Bytes(), nil
}
