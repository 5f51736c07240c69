package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// TestBCPPrint_PDFTextHoldsTheJapaneseSectionTitles renders the print view
// of a BCP with a missing section and an offline procedure through
// Chromium and reads the PDF's text layer.
func TestBCPPrint_PDFTextHoldsTheJapaneseSectionTitles(t *testing.T) {
	cat := i18n.New()
	if err := cat.Add(web.Locales()); err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(Locales()); err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: jst})
	b := BCP{Facility: 1, Version: 3, Created: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), CreatedBy: "ciso01",
		ApprovedBy: "病院長", ApprovedAt: time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC),
		Sections: map[string]string{"purpose": "当院の情報システムが停止したときに診療を継続する。", "contacts": "院内 PHS が使えないときは伝令を出す。"}}
	v := &bcpView{BCP: b, Procedures: []OfflineProcedure{{Department: "医事課", Title: "外来受付（紙運用）", Body: "受付票に記入する。"}}}
	for _, k := range BCPSections {
		v.Sections = append(v.Sections, bcpSectionView{Key: k, Text: b.Sections[k], Missing: b.Sections[k] == ""})
	}
	html, err := renderBCPPrint(srv, "ja", v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(html), "<!DOCTYPE html>") || !strings.Contains(string(html), "@page") {
		t.Fatalf("not a whole document with the print style: %.200s", html)
	}
	doc, err := pdftest.Renderer(t).Render(context.Background(), html)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdftest.Text(t, doc)), "")
	for _, want := range []string{"情報システムのBCP", "1.目的と適用範囲", "7.メール・電話が使えないときの連絡手段",
		"8.復旧後の紙記録のデータ反映", "未記入", "承認：病院長", "オフライン手順書", "外来受付（紙運用）", "伝令を出す"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text has no %q:\n%s", want, text)
		}
	}
	// English too.
	html, err = renderBCPPrint(srv, "en", v)
	if err != nil || !strings.Contains(string(html), "Fallback (paper) operation per department") {
		t.Errorf("English print view: %v", err)
	}
}
