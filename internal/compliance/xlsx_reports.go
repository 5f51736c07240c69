package compliance

import (
	"fmt"
	"time"

	"github.com/xuri/excelize/v2"
)

// The inspection pack and the management report as workbooks: the same
// figures as their PDFs (report_html.go), one sheet per part of the
// report, for those who sort and filter.

// InspectionPackXLSX writes the inspection pack (立入検査用資料) as a
// workbook: a summary, the checklist's answers, the controls with their
// readiness, the evidence list (attestations with their SHA-256, dates and
// approver; each check's last run and what it found) and the audit log's
// integrity proof.
func InspectionPackXLSX(t Translator, st *State, lib *Library, proof IntegrityProof, lang string, loc *time.Location) ([]byte, error) {
	if st == nil || lib == nil {
		return nil, fmt.Errorf("inspection pack: no state or library")
	}
	w := newReportWords(t, lang, loc)
	b, err := newReportBook()
	if err != nil {
		return nil, err
	}
	defer b.f.Close()
	if err := b.summarySheet(w, st, lib, "compliance.report.inspection.title"); err != nil {
		return nil, err
	}

	// The checklist, every sheet of the form in one table.
	name, err := b.sheet(w.T("compliance.report.sheet.checklist"))
	if err != nil {
		return nil, err
	}
	fw := reportChecklist(st, lib)
	var rows [][]any
	var keys []string
	if fw != nil {
		cl := w.checklistRows(fw, st.Answers)
		for _, sheet := range fw.Items {
			for _, r := range cl[sheet.Ref] {
				if r.heading {
					continue
				}
				rows = append(rows, []any{w.checklistSheetName(sheet), r.Number, r.Question, r.Target,
					reportOr(r.Answer, w.T("compliance.report.answer.none")), r.CheckedOn, r.TargetOn, r.Note})
				keys = append(keys, r.AnswerKey)
			}
		}
	}
	if err := b.table(name, 1, []string{w.T("compliance.report.checklist.sheet"), w.T("compliance.report.checklist.no"),
		w.T("compliance.report.checklist.question"), w.T("compliance.report.checklist.target"),
		w.T("compliance.report.checklist.answer"), w.T("compliance.report.checklist.checked_on"),
		w.T("compliance.report.checklist.target_on"), w.T("compliance.report.checklist.note")},
		[]float64{16, 8, 50, 12, 10, 12, 14, 28}, rows, func(i int) int { return b.readinessStyle(keys[i]) }); err != nil {
		return nil, err
	}

	if err := b.controlsSheet(w, st); err != nil {
		return nil, err
	}

	// The evidence list.
	name, err = b.sheet(w.T("compliance.report.sheet.evidence"))
	if err != nil {
		return nil, err
	}
	ev := w.evidenceRows(st)
	rows, keys = nil, nil
	for _, e := range ev {
		rows = append(rows, []any{e.Kind, e.Control, e.Title, e.File, e.SHA256, e.Effective, e.Expires, e.Level, e.State,
			e.By, e.ApprovedBy, e.ApprovedAt, e.Result, e.RanAt})
		keys = append(keys, reportOr(e.ResultKey, e.LevelKey))
	}
	if err := b.table(name, 1, []string{w.T("compliance.report.evidence.kind"), w.T("compliance.report.control.id"),
		w.T("compliance.report.evidence.title"), w.T("compliance.report.evidence.file"), "SHA-256",
		w.T("compliance.report.evidence.effective"), w.T("compliance.report.evidence.expires"),
		w.T("compliance.report.evidence.level"), w.T("compliance.report.evidence.state"),
		w.T("compliance.report.evidence.by"), w.T("compliance.report.evidence.approved_by"),
		w.T("compliance.report.evidence.approved_at"), w.T("compliance.report.evidence.result"),
		w.T("compliance.report.evidence.ran_at")},
		[]float64{10, 16, 28, 20, 30, 12, 12, 10, 10, 14, 14, 12, 50, 16}, rows,
		func(i int) int { return b.readinessStyle(keys[i]) }); err != nil {
		return nil, err
	}

	// The audit log's integrity.
	name, err = b.sheet(w.T("compliance.report.sheet.integrity"))
	if err != nil {
		return nil, err
	}
	pr := w.proofRows(proof)
	rows = nil
	for _, p := range pr {
		rows = append(rows, []any{p[0], p[1]})
	}
	if err := b.table(name, 1, []string{w.T("compliance.report.item"), w.T("compliance.report.value")},
		[]float64{28, 90}, rows, nil); err != nil {
		return nil, err
	}
	return b.bytes()
}

// ManagementReportXLSX writes the management report (経営層への報告) as a
// workbook: the summary, coverage per chapter of the guideline, the items
// edition 5.1 revised one by one, the trend by day (with a chart) and what
// needs attention.
func ManagementReportXLSX(t Translator, st *State, lib *Library, trend []DayScore, lang string, loc *time.Location) ([]byte, error) {
	if st == nil || lib == nil {
		return nil, fmt.Errorf("management report: no state or library")
	}
	w := newReportWords(t, lang, loc)
	b, err := newReportBook()
	if err != nil {
		return nil, err
	}
	defer b.f.Close()
	if err := b.summarySheet(w, st, lib, "compliance.report.management.title"); err != nil {
		return nil, err
	}

	// Coverage per chapter.
	name, err := b.sheet(w.T("compliance.report.sheet.chapters"))
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for _, c := range append(append([]Coverage(nil), st.Chapters...), st.Overall) {
		title := w.text(c.Title)
		if c.Ref == st.Overall.Ref && title == "" {
			title = w.T("compliance.report.overall")
		}
		rows = append(rows, []any{c.Ref, title, c.Counts[Ready], c.Counts[Attention], c.Counts[NotReady],
			c.Counts[NotAssessed], c.Counts[Excluded], c.Total, fmt.Sprintf("%d%%", c.Percent)})
	}
	if err := b.table(name, 1, append([]string{w.T("compliance.report.chapter.ref"), w.T("compliance.report.chapter.title")},
		append(w.readinessHeaders(), w.T("compliance.report.total"), w.T("compliance.report.percent"))...),
		[]float64{8, 40, 10, 10, 10, 10, 10, 8, 10}, rows, nil); err != nil {
		return nil, err
	}

	// The revised items.
	name, err = b.sheet(w.T("compliance.report.sheet.revised"))
	if err != nil {
		return nil, err
	}
	rows = nil
	var keys []string
	for _, r := range st.Revised {
		if r == nil || r.Item == nil {
			continue
		}
		rows = append(rows, []any{r.Item.Ref, w.text(r.Item.Title), w.text(r.Item.Summary), w.readiness(r.Readiness),
			reportJoin(r.Controls)})
		keys = append(keys, reportOr(r.Readiness, NotAssessed))
	}
	if err := b.table(name, 1, []string{w.T("compliance.report.item_ref"), w.T("compliance.report.item_title"),
		w.T("compliance.report.item_summary"), w.T("compliance.report.readiness"), w.T("compliance.report.controls")},
		[]float64{14, 30, 60, 12, 24}, rows, func(i int) int { return b.readinessStyle(keys[i]) }); err != nil {
		return nil, err
	}

	// The trend, with a chart of the ready items.
	name, err = b.sheet(w.T("compliance.report.sheet.trend"))
	if err != nil {
		return nil, err
	}
	rows = nil
	for _, d := range trend {
		rows = append(rows, []any{w.dateOnly(d.Day), d.Counts[Ready], d.Counts[Attention], d.Counts[NotReady],
			d.Counts[NotAssessed], d.Counts[Excluded], d.Total})
	}
	if err := b.table(name, 1, append(append([]string{w.T("compliance.report.day")}, w.readinessHeaders()...),
		w.T("compliance.report.total")), []float64{12, 10, 10, 10, 10, 10, 8}, rows, nil); err != nil {
		return nil, err
	}
	if len(trend) > 1 {
		last := len(trend) + 1
		var series []excelize.ChartSeries
		for i, color := range []string{"1B6E2E", "E69F00", "B3261E", "8C8C8C"} {
			col, _ := excelize.ColumnNumberToName(i + 2)
			series = append(series, excelize.ChartSeries{
				Name:       fmt.Sprintf("'%s'!$%s$1", name, col),
				Categories: fmt.Sprintf("'%s'!$A$2:$A$%d", name, last),
				Values:     fmt.Sprintf("'%s'!$%s$2:$%s$%d", name, col, col, last),
				Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}},
			})
		}
		if err := b.f.AddChart(name, "I2", &excelize.Chart{Type: excelize.ColStacked, Series: series,
			Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: w.T("compliance.report.trend.title")}}},
			Legend: excelize.ChartLegend{Position: "bottom"}, Dimension: excelize.ChartDimension{Width: 640, Height: 320}}); err != nil {
			return nil, fmt.Errorf("trend chart: %w", err)
		}
	}

	// What needs attention.
	name, err = b.sheet(w.T("compliance.report.sheet.attention"))
	if err != nil {
		return nil, err
	}
	rows, keys = nil, nil
	for _, a := range st.Attention {
		due := ""
		if !a.Due.IsZero() {
			due = w.dateOnly(a.Due)
		}
		rows = append(rows, []any{w.readiness(a.Level), w.T("compliance.report.attention." + reportOr(a.Kind, "control")),
			a.Ref, w.text(a.Title), due})
		keys = append(keys, a.Level)
	}
	if err := b.table(name, 1, []string{w.T("compliance.report.level"), w.T("compliance.report.kind"),
		w.T("compliance.report.item_ref"), w.T("compliance.report.item_title"), w.T("compliance.report.due")},
		[]float64{12, 14, 22, 50, 12}, rows, func(i int) int { return b.readinessStyle(keys[i]) }); err != nil {
		return nil, err
	}
	if err := b.controlsSheet(w, st); err != nil {
		return nil, err
	}
	return b.bytes()
}

// summarySheet is the first sheet of a report: what it is, for which
// facility and when, and the overall figures.
func (b *reportBook) summarySheet(w reportWords, st *State, lib *Library, titleID string) error {
	name, err := b.sheet(w.T("compliance.report.sheet.summary"))
	if err != nil {
		return err
	}
	b.set(name, "A1", w.T(titleID), b.title)
	_ = b.f.MergeCell(name, "A1", "D1")
	var rows [][]any
	rows = append(rows, []any{w.T("compliance.report.facility"), w.text(st.FacilityName)},
		[]any{w.T("compliance.report.as_of"), w.time(st.At)})
	if fw := lib.Framework(st.Framework); fw != nil {
		rows = append(rows, []any{w.T("compliance.report.guideline"), w.text(fw.Name)})
	}
	if fw := reportChecklist(st, lib); fw != nil {
		rows = append(rows, []any{w.T("compliance.report.checklist"), w.text(fw.Name)})
		yes, no, open := reportAnswerCounts(w, st.Answers, fw)
		rows = append(rows, []any{w.T("compliance.report.checklist_answers"),
			w.T("compliance.report.answers_line", "yes", yes, "no", no, "open", open)})
	}
	rows = append(rows, []any{w.T("compliance.report.coverage"),
		w.T("compliance.report.coverage_line", "ready", st.Overall.Counts[Ready], "total", st.Overall.Total, "percent", st.Overall.Percent)})
	for i, h := range w.readinessHeaders() {
		rows = append(rows, []any{h, st.Overall.Counts[reportReadinessOrder[i]]})
	}
	rows = append(rows, []any{w.T("compliance.report.attention_count"), len(st.Attention)})
	for i, r := range rows {
		b.set(name, xlsxCell(1, 3+i), r[0], b.header)
		b.set(name, xlsxCell(2, 3+i), r[1], b.wrap)
	}
	_ = b.f.SetColWidth(name, "A", "A", 30)
	_ = b.f.SetColWidth(name, "B", "B", 70)
	return b.printSetup(name, 1)
}

// controlsSheet lists the controls with their readiness.
func (b *reportBook) controlsSheet(w reportWords, st *State) error {
	name, err := b.sheet(w.T("compliance.report.sheet.controls"))
	if err != nil {
		return err
	}
	var rows [][]any
	var keys []string
	for _, c := range w.controlRows(st) {
		rows = append(rows, []any{c.ID, c.Title, c.Owner, c.Impl, c.Readiness, c.Checks, c.Evidence, c.Requirements, c.Reasons})
		keys = append(keys, c.ReadinessKey)
	}
	return b.table(name, 1, []string{w.T("compliance.report.control.id"), w.T("compliance.report.control.title"),
		w.T("compliance.report.control.owner"), w.T("compliance.report.control.impl"), w.T("compliance.report.readiness"),
		w.T("compliance.report.control.checks"), w.T("compliance.report.control.evidence"),
		w.T("compliance.report.control.requirements"), w.T("compliance.report.control.reasons")},
		[]float64{16, 30, 12, 12, 12, 10, 10, 30, 40}, rows, func(i int) int { return b.readinessStyle(keys[i]) })
}

// reportReadinessOrder is the order readiness columns are shown in.
var reportReadinessOrder = []string{Ready, Attention, NotReady, NotAssessed, Excluded}

// readinessHeaders names the readiness columns.
func (w reportWords) readinessHeaders() []string {
	out := make([]string, len(reportReadinessOrder))
	for i, r := range reportReadinessOrder {
		out[i] = w.readiness(r)
	}
	return out
}

// proofRows are the audit log's integrity proof as label and value.
func (w reportWords) proofRows(p IntegrityProof) [][2]string {
	verified := w.T("compliance.report.proof.never")
	if !p.VerifiedAt.IsZero() {
		res := "compliance.report.proof.failed"
		if p.VerifiedOK {
			res = "compliance.report.proof.ok"
		}
		verified = w.time(p.VerifiedAt) + " — " + w.T(res, "events", p.VerifiedEvents)
	}
	rows := [][2]string{
		{w.T("compliance.report.proof.tree_size"), fmt.Sprint(p.TreeSize)},
		{w.T("compliance.report.proof.root_hash"), p.RootHash},
		{w.T("compliance.report.proof.checkpoint_at"), w.time(p.CheckpointAt)},
		{w.T("compliance.report.proof.checkpoint"), p.Checkpoint},
		{w.T("compliance.report.proof.verified"), verified},
	}
	if p.VerifyDetail != "" {
		rows = append(rows, [2]string{w.T("compliance.report.proof.detail"), p.VerifyDetail})
	}
	return rows
}

// reportChecklist is the checklist edition the state answers.
func reportChecklist(st *State, lib *Library) *Framework {
	if fw := lib.Framework(st.Checklist); fw != nil && fw.Kind == KindChecklist {
		return fw
	}
	return lib.Checklist()
}

// reportAnswerCounts counts the checklist's questions answered はい,
// いいえ and not yet, on the sheets the facility answers: those with an
// answer (a hospital answers its own sheet, not the pharmacy's or the
// vendors'), or the first sheet when nothing is answered yet.
func reportAnswerCounts(w reportWords, answers []Answer, fw *Framework) (yes, no, open int) {
	rows := w.checklistRows(fw, answers)
	first := true
	for _, sheet := range fw.Items {
		var y, n, o int
		for _, r := range rows[sheet.Ref] {
			switch {
			case r.heading:
			case r.AnswerKey == AnswerYes:
				y++
			case r.AnswerKey == AnswerNo:
				n++
			default:
				o++
			}
		}
		if y+n > 0 || (first && len(answers) == 0) {
			yes, no, open = yes+y, no+n, open+o
		}
		first = false
	}
	return yes, no, open
}

// reportJoin writes ids as a list.
func reportJoin(ids []string) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += id
	}
	return s
}
