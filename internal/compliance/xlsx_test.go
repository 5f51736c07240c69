package compliance

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// openXLSX reads a workbook back as Excel would.
func openXLSX(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// cellOf reads one cell, failing the test on an error.
func cellOf(t *testing.T, f *excelize.File, sheet, ref string) string {
	t.Helper()
	v, err := f.GetCellValue(sheet, ref)
	if err != nil {
		t.Fatalf("%s!%s: %v", sheet, ref, err)
	}
	return v
}

// rowWith finds the row of sheet whose column col reads want.
func rowWith(t *testing.T, f *excelize.File, sheet string, col int, want string) []string {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if len(r) > col && r[col] == want {
			return r
		}
	}
	t.Fatalf("sheet %s has no row with %q in column %d", sheet, want, col+1)
	return nil
}

func TestChecklistXLSX_HasTheFormsSheetsColumnsAnswersAndDropdowns(t *testing.T) {
	src, _ := newReportSource(t)
	fw := src.lib.Framework("mhlw-checklist-r6")
	b, err := ChecklistXLSX(src.cfg.Translator, fw, src.st.Answers, src.st.FacilityName, "ja", src.cfg.Location, reportTestAt)
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, b)
	if got := f.GetSheetList(); strings.Join(got, ",") != "医療機関確認用,薬局確認用,事業者確認用" {
		t.Fatalf("sheets: %v", got)
	}
	const s = "医療機関確認用"
	for ref, want := range map[string]string{"B2": "中央市民病院", "B3": "令和6年度", "E3": "2026/04/10", "A5": "No.",
		"B5": "確認項目", "C5": "対象", "D5": "はい/いいえ", "E5": "確認日", "F5": "目標日（いいえの場合）", "G5": "備考"} {
		if got := cellOf(t, f, s, ref); got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
	if !strings.Contains(cellOf(t, f, s, "A1"), "チェックリスト") {
		t.Errorf("title: %q", cellOf(t, f, s, "A1"))
	}
	// The いいえ with its dates and note, the はい, and an open question.
	no := rowWith(t, f, s, 2, "サーバ")
	if no[0] != "2-④" || no[3] != "いいえ" || no[4] != "2026/04/02" || no[5] != "2026/09/30" || no[6] != "電子カルテ更新時に対応" {
		t.Errorf("the いいえ row: %q", no)
	}
	if yes := rowWith(t, f, s, 0, "1-①"); yes[3] != "はい" || yes[4] != "2026/04/01" || len(yes) > 5 && yes[5] != "" {
		t.Errorf("the はい row: %q", yes)
	}
	if open := rowWith(t, f, s, 2, "端末PC"); len(open) > 3 && open[3] != "" {
		t.Errorf("an unanswered question has an answer: %q", open)
	}
	// The dates are real dates, not text.
	raw, err := f.GetCellValue(s, "E"+strings.TrimPrefix(findRef(t, f, s, "2026/04/02"), "E"), excelize.Options{RawCellValue: true})
	if err != nil || raw != "46114" {
		t.Errorf("確認日 is stored as %q (%v), want the serial day 46114", raw, err)
	}
	// はい/いいえ dropdowns on the answer cells, dates on the date cells.
	dvs, err := f.GetDataValidations(s)
	if err != nil {
		t.Fatal(err)
	}
	var list, dates bool
	for _, dv := range dvs {
		switch dv.Type {
		case "list":
			list = strings.Contains(dv.Formula1, "はい,いいえ") && strings.Contains(dv.Sqref, "D")
		case "date":
			dates = strings.Contains(dv.Sqref, "E") && strings.Contains(dv.Sqref, "F")
		}
	}
	if !list || !dates {
		for _, dv := range dvs {
			t.Logf("validation %s %q on %s", dv.Type, dv.Formula1, dv.Sqref)
		}
		t.Errorf("validations: list %v, dates %v", list, dates)
	}
	// A いいえ without a target date is marked.
	cf, err := f.GetConditionalFormats(s)
	if err != nil || len(cf) != 1 {
		t.Fatalf("conditional formats: %v %v", cf, err)
	}
	for ref, rules := range cf {
		if !strings.HasPrefix(ref, "F6:") || !strings.Contains(rules[0].Criteria, `$D6="いいえ"`) {
			t.Errorf("conditional format on %s: %+v", ref, rules)
		}
	}
	// Printed on A4 portrait, fitted to the width; the header frozen.
	layout, err := f.GetPageLayout(s)
	if err != nil || layout.Size == nil || *layout.Size != 9 || *layout.Orientation != "portrait" || *layout.FitToWidth != 1 {
		t.Errorf("page layout: %+v %v", layout, err)
	}
	panes, err := f.GetPanes(s)
	if err != nil || !panes.Freeze || panes.YSplit != 5 {
		t.Errorf("panes: %+v %v", panes, err)
	}

	// In English, the sheets and headers are English.
	b, err = ChecklistXLSX(src.cfg.Translator, fw, src.st.Answers, src.st.FacilityName, "en", src.cfg.Location, reportTestAt)
	if err != nil {
		t.Fatal(err)
	}
	f = openXLSX(t, b)
	if got := f.GetSheetList(); got[0] != "Hospital" || cellOf(t, f, "Hospital", "D5") != "Yes/No" ||
		cellOf(t, f, "Hospital", "B2") != "Central City Hospital" {
		t.Errorf("English: %v %q", got, cellOf(t, f, "Hospital", "D5"))
	}
	// A guideline is not a checklist.
	if _, err := ChecklistXLSX(src.cfg.Translator, src.lib.Guideline(), nil, Text{}, "ja", nil, reportTestAt); err == nil {
		t.Error("a guideline was written as a checklist")
	}
}

// findRef is the cell of sheet that reads v.
func findRef(t *testing.T, f *excelize.File, sheet, v string) string {
	t.Helper()
	refs, err := f.SearchSheet(sheet, v)
	if err != nil || len(refs) == 0 {
		t.Fatalf("no %q on %s: %v", v, sheet, err)
	}
	return refs[0]
}

func TestInspectionPackXLSX_ListsTheEvidenceWithHashesAndTheProof(t *testing.T) {
	src, _ := newReportSource(t)
	b, err := InspectionPackXLSX(src.cfg.Translator, src.st, src.lib, reportProof(), "ja", src.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, b)
	if got := strings.Join(f.GetSheetList(), ","); got != "概要,チェックリストの回答,管理策の対応状況,証跡一覧,監査ログの完全性" {
		t.Fatalf("sheets: %s", got)
	}
	if cellOf(t, f, "概要", "B3") != "中央市民病院" || !strings.Contains(cellOf(t, f, "概要", "A1"), "立入検査用資料") {
		t.Errorf("summary: %q %q", cellOf(t, f, "概要", "A1"), cellOf(t, f, "概要", "B3"))
	}
	findRef(t, f, "概要", "3 項目中 1 項目が対応済み（33%）")
	findRef(t, f, "概要", "はい 1 件、いいえ 1 件、未回答 1 件")
	no := rowWith(t, f, "チェックリストの回答", 3, "サーバ")
	if no[0] != "医療機関確認用" || no[4] != "いいえ" || no[6] != "2026-09-30" {
		t.Errorf("checklist row: %q", no)
	}
	att := rowWith(t, f, "証跡一覧", 2, "運用管理規程 第3版")
	if att[4] != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" || att[5] != "2025-04-01" ||
		att[6] != "2026-04-30" || att[7] != "期限間近" || att[8] != "承認済み" || att[10] != "ciso02" {
		t.Errorf("attestation row: %q", att)
	}
	chk := rowWith(t, f, "証跡一覧", 2, "audit.verified")
	if chk[12] != "不合格: 改ざん検証が 3 日間行われていません" || chk[13] != "2026-04-10 10:00" {
		t.Errorf("check row: %q", chk)
	}
	ctl := rowWith(t, f, "管理策の対応状況", 0, "ctl-audit")
	if ctl[4] != "未対応" || ctl[5] != "1 件中 0 件" {
		t.Errorf("control row: %q", ctl)
	}
	findRef(t, f, "監査ログの完全性", "48213")
	findRef(t, f, "監査ログの完全性", reportProof().RootHash)
	findRef(t, f, "監査ログの完全性", "2026-04-10 09:00 — 改ざんなし（48100 件を検証）")
}

func TestManagementReportXLSX_HasChaptersRevisedItemsTrendAndAttention(t *testing.T) {
	src, _ := newReportSource(t)
	b, err := ManagementReportXLSX(src.cfg.Translator, src.st, src.lib, reportTrend(), "en", src.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, b)
	want := "Summary,Coverage per chapter,Items revised in 5.1,Trend,Needing attention,Controls"
	if got := strings.Join(f.GetSheetList(), ","); got != want {
		t.Fatalf("sheets: %s", got)
	}
	ch := rowWith(t, f, "Coverage per chapter", 0, "6")
	if ch[1] != "Basic safety management" || ch[2] != "1" || ch[3] != "1" || ch[8] != "50%" {
		t.Errorf("chapter 6: %q", ch)
	}
	if r := rowWith(t, f, "Items revised in 5.1", 0, "6.5-C-15"); r[3] != "Ready" || r[4] != "ctl-mfa" {
		t.Errorf("revised: %q", r)
	}
	if r := rowWith(t, f, "Trend", 0, "2026-04-09"); r[1] != "1" || r[3] != "2" {
		t.Errorf("trend: %q", r)
	}
	if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	} else if c, err := zr.Open("xl/charts/chart1.xml"); err != nil {
		t.Errorf("no trend chart: %v", err)
	} else {
		c.Close()
	}
	if r := rowWith(t, f, "Needing attention", 2, "ctl-rules"); r[0] != "Attention" || r[4] != "2026-04-30" {
		t.Errorf("attention: %q", r)
	}
}
