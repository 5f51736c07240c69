package compliance

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

func TestInspectionPackHTML_HoldsTheStatesFigures(t *testing.T) {
	src, _ := newReportSource(t)
	html, err := InspectionPackHTML(src.cfg.Translator, src.st, src.lib, reportProof(), "ja", src.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(html)
	if !strings.HasPrefix(doc, "<!DOCTYPE html>") || !strings.Contains(doc, "@page") || strings.Contains(doc, "<script") {
		t.Fatalf("not a whole printable document: %.300s", doc)
	}
	for _, want := range []string{
		"立入検査用資料", "中央市民病院", "2026-04-10 12:00", // the cover
		"3 項目中 1 項目が対応済み（33%）", "はい 1 件、いいえ 1 件、未回答 1 件",
		"医療機関確認用", "薬局確認用", "事業者確認用", "確認日", "目標日（いいえの場合）", // the form
		"2026-09-30", "電子カルテ更新時に対応",
		"運用管理規程 第3版", "unyou-kitei-v3.pdf", src.st.Controls[1].Attestations[0].SHA256, "期限間近", "ciso02", // evidence
		"二要素認証の登録：45 人中 45 人", "改ざん検証が 3 日間行われていません",
		"48213", reportProof().RootHash, "anzen.example/audit", "改ざんなし（48100 件を検証）", // the proof
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the inspection pack lacks %q", want)
		}
	}
	// No untranslated message id leaks into the document.
	if m := regexp.MustCompile(`compliance\.report\.[a-z_.]+`).FindString(doc); m != "" {
		t.Errorf("untranslated message %s", m)
	}
}

func TestChecklistHTML_IsTheFormWithTheAnswers(t *testing.T) {
	src, _ := newReportSource(t)
	fw := reportChecklist(src.st, src.lib)
	html, err := ChecklistHTML(src.cfg.Translator, fw, src.st.Answers, src.st.FacilityName, "ja", src.cfg.Location, src.st.At)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(html)
	if !strings.HasPrefix(doc, "<!DOCTYPE html>") || !strings.Contains(doc, "@page") || strings.Contains(doc, "<script") {
		t.Fatalf("not a whole printable document: %.300s", doc)
	}
	for _, want := range []string{"中央市民病院", "2026-04-10 12:00", "はい 1 件、いいえ 1 件、未回答",
		"医療機関確認用", "薬局確認用", "事業者確認用", "確認日", "目標日（いいえの場合）", "2026-09-30", "電子カルテ更新時に対応"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the checklist lacks %q", want)
		}
	}
	if strings.Contains(doc, "立入検査用資料") {
		t.Error("the checklist alone carries the inspection pack's title")
	}
	if m := regexp.MustCompile(`compliance\.report\.[a-z_.]+`).FindString(doc); m != "" {
		t.Errorf("untranslated message %s", m)
	}
}

func TestManagementReportHTML_ShowsCoverageRevisedTrendAndChanges(t *testing.T) {
	src, _ := newReportSource(t)
	prev := reportState(t, src.lib)
	prev.At = reportTestAt.AddDate(0, -1, 0)
	prev.Requirements[2] = &RequirementState{Framework: "mhlw-gl-5.1", Item: prev.Requirements[2].Item, Readiness: Ready}
	html, err := ManagementReportHTML(src.cfg.Translator, src.st, src.lib, reportTrend(), prev, "en", src.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(html)
	for _, want := range []string{"Management report", "Central City Hospital", "1 of 3 items ready (33%)",
		"Basic safety management", "50%", "6.5-C-15 Two-factor authentication", "Adopt two-factor authentication",
		"<svg", "Readiness over time", "Renew the operating rules", "2026-04-30",
		"Changes since the last snapshot (2026-03-10 12:00)", "7.1-C-1", "Tamper-evident records"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the management report lacks %q", want)
		}
	}
	// Only 7.1-C-1 changed (ready → not ready).
	changes := doc[strings.Index(doc, "Changes since"):]
	if strings.Contains(changes, "6.5-C-15") || !strings.Contains(changes, `<td class="green">Ready</td><td class="red">Not ready</td>`) {
		t.Errorf("changes: %s", changes)
	}
	// Without a snapshot there is no changes section.
	html, _ = ManagementReportHTML(src.cfg.Translator, src.st, src.lib, nil, nil, "ja", src.cfg.Location)
	if strings.Contains(string(html), "前回のスナップショット") || !strings.Contains(string(html), "推移の記録がまだありません") {
		t.Error("a report without snapshot or trend says otherwise")
	}
}

// TestInspectionPackPDF_JapaneseTextIsInThePDF renders the inspection pack
// through Chromium and reads the PDF's text layer.
func TestInspectionPackPDF_JapaneseTextIsInThePDF(t *testing.T) {
	src, _ := newReportSource(t)
	r := pdftest.Renderer(t)
	html, err := InspectionPackHTML(src.cfg.Translator, src.st, src.lib, reportProof(), "ja", src.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := r.Render(context.Background(), html)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("ANZEN_TEST_KEEP_PDF") != "" {
		_ = os.WriteFile(filepath.Join(os.TempDir(), "anzen-inspection.pdf"), doc, 0o600)
	}
	text := strings.Join(strings.Fields(pdftest.Text(t, doc)), "")
	for _, want := range []string{"立入検査用資料", "中央市民病院", "医療機関確認用", "電子カルテ更新時に対応", "運用管理規程第3版",
		"監査ログの完全性", "改ざんなし（48100件を検証）"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text has no %q", want)
		}
	}
	if n := pdftest.Pages(t, doc); n < 4 {
		t.Errorf("the pack has %d pages, want a cover and a page per section", n)
	}
}
