package compliance

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// The Excel workbooks (excelize): the MHLW checklist in the form's own
// layout, to hand to an inspector or the prefecture as the form is
// filled in, and the inspection pack and management report as workbooks
// (xlsx_reports.go). Each sheet prints on A4 portrait, fitted to the
// page's width, with its header row repeated and frozen.

// ChecklistXLSX writes the facility's answers to the checklist fw in the
// form's layout: one sheet per sheet of the form (医療機関確認用,
// 薬局確認用, 事業者確認用), the facility, the fiscal year and the date on
// top, then No., 確認項目, 対象, はい/いいえ, 確認日, 目標日 (いいえ の場合),
// 備考; the answer cells offer はい/いいえ and the date cells take dates,
// so the workbook can be filled in further by hand.
func ChecklistXLSX(t Translator, fw *Framework, answers []Answer, facility Text, lang string, loc *time.Location, now time.Time) ([]byte, error) {
	if fw == nil || fw.Kind != KindChecklist {
		return nil, fmt.Errorf("checklist workbook: %v is not a checklist", fw)
	}
	w := newReportWords(t, lang, loc)
	b, err := newReportBook()
	if err != nil {
		return nil, err
	}
	defer b.f.Close()
	rows := w.checklistRows(fw, answers)
	headers := []string{w.T("compliance.report.checklist.no"), w.T("compliance.report.checklist.question"),
		w.T("compliance.report.checklist.target"), w.T("compliance.report.checklist.answer"),
		w.T("compliance.report.checklist.checked_on"), w.T("compliance.report.checklist.target_on"),
		w.T("compliance.report.checklist.note")}
	for _, sheet := range fw.Items {
		name, err := b.sheet(w.checklistSheetName(sheet))
		if err != nil {
			return nil, err
		}
		f := b.f
		title := w.text(fw.Name) + " — " + w.text(sheet.Title)
		b.set(name, "A1", title, b.title)
		_ = f.MergeCell(name, "A1", "G1")
		b.set(name, "A2", w.T("compliance.report.facility"), b.label)
		b.set(name, "B2", w.text(facility), 0)
		_ = f.MergeCell(name, "B2", "G2")
		b.set(name, "A3", w.T("compliance.report.fiscal_year"), b.label)
		b.set(name, "B3", fw.Edition, 0)
		b.set(name, "D3", w.T("compliance.report.written_on"), b.label)
		d := now.In(w.loc)
		b.set(name, "E3", time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC), b.dateStyle)
		const head = 5
		for i, h := range headers {
			b.set(name, xlsxCell(i+1, head), h, b.header)
		}
		for col, width := range map[string]float64{"A": 8, "B": 58, "C": 14, "D": 11, "E": 13, "F": 15, "G": 30} {
			_ = f.SetColWidth(name, col, col, width)
		}
		var answerCells, dateCells []string
		r := head + 1
		for _, row := range rows[sheet.Ref] {
			if row.heading {
				b.set(name, xlsxCell(1, r), row.Number, b.heading)
				b.set(name, xlsxCell(2, r), row.Question, b.heading)
				_ = f.MergeCell(name, xlsxCell(2, r), xlsxCell(7, r))
				r++
				continue
			}
			b.set(name, xlsxCell(1, r), row.Number, b.wrap)
			b.set(name, xlsxCell(2, r), row.Question, b.wrap)
			b.set(name, xlsxCell(3, r), row.Target, b.wrap)
			b.set(name, xlsxCell(4, r), row.Answer, b.wrap)
			b.setDate(name, xlsxCell(5, r), row.checked)
			b.setDate(name, xlsxCell(6, r), row.target)
			b.set(name, xlsxCell(7, r), row.Note, b.wrap)
			answerCells = append(answerCells, xlsxCell(4, r))
			dateCells = append(dateCells, xlsxCell(5, r)+":"+xlsxCell(6, r))
			r++
		}
		if len(answerCells) > 0 {
			dv := excelize.NewDataValidation(true)
			dv.Sqref = strings.Join(answerCells, " ")
			if err := dv.SetDropList([]string{w.T("compliance.report.answer.yes"), w.T("compliance.report.answer.no")}); err != nil {
				return nil, err
			}
			dv.SetError(excelize.DataValidationErrorStyleStop, w.T("compliance.report.checklist.answer"),
				w.T("compliance.report.checklist.answer_rule"))
			if err := f.AddDataValidation(name, dv); err != nil {
				return nil, err
			}
			dd := excelize.NewDataValidation(true)
			dd.Sqref = strings.Join(dateCells, " ")
			if err := dd.SetRange(reportExcelDay(2000, 1, 1), reportExcelDay(2099, 12, 31), excelize.DataValidationTypeDate,
				excelize.DataValidationOperatorBetween); err != nil {
				return nil, err
			}
			dd.SetError(excelize.DataValidationErrorStyleStop, w.T("compliance.report.checklist.checked_on"),
				w.T("compliance.report.checklist.date_rule"))
			if err := f.AddDataValidation(name, dd); err != nil {
				return nil, err
			}
		}
		if len(answerCells) > 0 {
			// A いいえ without its target date turns the date cell red, as the
			// form requires one.
			first, last := head+1, r-1
			rule := fmt.Sprintf(`AND($D%d="%s",$F%d="")`, first, w.T("compliance.report.answer.no"), first)
			if err := f.SetConditionalFormat(name, fmt.Sprintf("F%d:F%d", first, last),
				[]excelize.ConditionalFormatOptions{{Type: "formula", Criteria: rule, Format: &b.missing}}); err != nil {
				return nil, err
			}
		}
		if err := b.printSetup(name, head); err != nil {
			return nil, err
		}
	}
	return b.bytes()
}

// reportExcelDay is a date as Excel's serial day number (1900 system).
func reportExcelDay(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// reportBook is a workbook being written, with the reports' styles.
type reportBook struct {
	f                                              *excelize.File
	first                                          bool // the default sheet is still unnamed
	title, label, header, heading, wrap, dateStyle int
	red, orange, green, grey, mono                 int
	missing                                        int // a conditional style: a cell that must be filled in
	names                                          map[string]bool
}

func newReportBook() (*reportBook, error) {
	f := excelize.NewFile()
	b := &reportBook{f: f, first: true, names: map[string]bool{}}
	font := func(bold bool, size float64, color string) *excelize.Font {
		return &excelize.Font{Family: "Yu Gothic", Bold: bold, Size: size, Color: color}
	}
	border := []excelize.Border{{Type: "left", Color: "888888", Style: 1}, {Type: "right", Color: "888888", Style: 1},
		{Type: "top", Color: "888888", Style: 1}, {Type: "bottom", Color: "888888", Style: 1}}
	wrap := &excelize.Alignment{WrapText: true, Vertical: "top"}
	dateFmt := "yyyy/mm/dd"
	fill := func(rgb string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{rgb}}
	}
	styles := []struct {
		dst *int
		s   *excelize.Style
	}{
		{&b.title, &excelize.Style{Font: font(true, 14, "")}},
		{&b.label, &excelize.Style{Font: font(true, 10.5, "")}},
		{&b.header, &excelize.Style{Font: font(true, 10.5, ""), Fill: fill("DDE3EA"), Border: border,
			Alignment: &excelize.Alignment{WrapText: true, Vertical: "center", Horizontal: "center"}}},
		{&b.heading, &excelize.Style{Font: font(true, 10.5, ""), Fill: fill("F0F0F0"), Border: border, Alignment: wrap}},
		{&b.wrap, &excelize.Style{Font: font(false, 10.5, ""), Border: border, Alignment: wrap}},
		{&b.dateStyle, &excelize.Style{Font: font(false, 10.5, ""), Border: border, Alignment: wrap, CustomNumFmt: &dateFmt}},
		{&b.red, &excelize.Style{Font: font(true, 10.5, "B3261E"), Border: border, Alignment: wrap}},
		{&b.orange, &excelize.Style{Font: font(true, 10.5, "A15C00"), Border: border, Alignment: wrap}},
		{&b.green, &excelize.Style{Font: font(false, 10.5, "1B6E2E"), Border: border, Alignment: wrap}},
		{&b.grey, &excelize.Style{Font: font(false, 10.5, "5B6675"), Border: border, Alignment: wrap}},
		{&b.mono, &excelize.Style{Font: &excelize.Font{Family: "Consolas", Size: 9}, Border: border, Alignment: wrap}},
	}
	for _, s := range styles {
		id, err := f.NewStyle(s.s)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("workbook style: %w", err)
		}
		*s.dst = id
	}
	missing, err := f.NewConditionalStyle(&excelize.Style{Fill: fill("F4C7C3")})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("workbook style: %w", err)
	}
	b.missing = missing
	return b, nil
}

// sheet adds a sheet (renaming the default one first) under a name Excel
// accepts: at most 31 characters, none of : \ / ? * [ ], unique.
func (b *reportBook) sheet(name string) (string, error) {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 31 {
		name = string(r[:31])
	}
	if name == "" {
		name = "Sheet"
	}
	for base, i := name, 2; b.names[name]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		r := []rune(base)
		if len(r)+len([]rune(suffix)) > 31 {
			r = r[:31-len([]rune(suffix))]
		}
		name = string(r) + suffix
	}
	b.names[name] = true
	if b.first {
		b.first = false
		if err := b.f.SetSheetName(b.f.GetSheetName(0), name); err != nil {
			return "", err
		}
		return name, nil
	}
	if _, err := b.f.NewSheet(name); err != nil {
		return "", err
	}
	return name, nil
}

// set writes v in a cell with a style (0: none).
func (b *reportBook) set(sheet, ref string, v any, style int) {
	_ = b.f.SetCellValue(sheet, ref, v)
	if style != 0 {
		_ = b.f.SetCellStyle(sheet, ref, ref, style)
	}
}

// setDate writes a stored date as an Excel date, or leaves the cell empty
// with the date format, to be filled in.
func (b *reportBook) setDate(sheet, ref string, t time.Time) {
	if !t.IsZero() {
		u := t.UTC()
		_ = b.f.SetCellValue(sheet, ref, time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC))
	}
	_ = b.f.SetCellStyle(sheet, ref, ref, b.dateStyle)
}

// table writes a header row at row head and the rows under it, with
// column widths; style picks a row's style (0: plain).
func (b *reportBook) table(sheet string, head int, headers []string, widths []float64, rows [][]any, style func(i int) int) error {
	for i, h := range headers {
		b.set(sheet, xlsxCell(i+1, head), h, b.header)
		if i < len(widths) {
			col, _ := excelize.ColumnNumberToName(i + 1)
			_ = b.f.SetColWidth(sheet, col, col, widths[i])
		}
	}
	for r, row := range rows {
		s := b.wrap
		if style != nil {
			if v := style(r); v != 0 {
				s = v
			}
		}
		for c, v := range row {
			b.set(sheet, xlsxCell(c+1, head+1+r), v, s)
		}
	}
	return b.printSetup(sheet, head)
}

// printSetup prints a sheet on A4 portrait fitted to its width, repeats
// and freezes its header row.
func (b *reportBook) printSetup(sheet string, head int) error {
	size, portrait, one, zero, yes := 9, "portrait", 1, 0, true
	if err := b.f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Size: &size, Orientation: &portrait,
		FitToWidth: &one, FitToHeight: &zero}); err != nil {
		return err
	}
	if err := b.f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &yes}); err != nil {
		return err
	}
	if err := b.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", Scope: sheet,
		RefersTo: fmt.Sprintf("'%s'!$%d:$%d", sheet, head, head)}); err != nil {
		return err
	}
	return b.f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: head, TopLeftCell: xlsxCell(1, head+1),
		ActivePane: "bottomLeft"})
}

// bytes closes the workbook into its file's bytes.
func (b *reportBook) bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := b.f.Write(&buf); err != nil {
		return nil, fmt.Errorf("write the workbook: %w", err)
	}
	return buf.Bytes(), nil
}

// readinessStyle colours a readiness: red, orange, green, grey.
func (b *reportBook) readinessStyle(key string) int {
	switch key {
	case NotReady, Expired, "fail", "error", AnswerNo:
		return b.red
	case Attention, NearExpiry, "warning":
		return b.orange
	case Ready, InDate, "pass", AnswerYes:
		return b.green
	}
	return b.grey
}

// xlsxCell names the cell at column col (1 = A) and row.
func xlsxCell(col, row int) string {
	ref, _ := excelize.CoordinatesToCellName(col, row)
	return ref
}
