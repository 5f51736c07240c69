package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// names is a FacilityNames of one hospital.
type names struct{}

func (names) FacilityName(_ context.Context, id int64, lang string) (string, error) {
	if id != 1 {
		return "", nil
	}
	if lang == "en" {
		return "Minato General Hospital", nil
	}
	return "港総合病院", nil
}

// report builds the report to of a ransomware incident with a saved
// cause, in lang.
func report(t *testing.T, d *db.DB, to incident.Recipient, lang string) incident.Report {
	t.Helper()
	ctx := context.Background()
	now := aware.Add(3 * time.Hour)
	inc := insertIncident(t, d, ransomware)
	if _, err := incident.RecordSubmission(ctx, d, audit.New(d, clock.NewFrozen(now)), incident.Scope{All: true}, inc.ID,
		csirt, incident.NewSubmission{To: incident.ToPolice, At: now, Channel: "phone", Reference: "サイバー第77号"}, now); err != nil {
		t.Fatal(err)
	}
	if to != incident.ToPolice {
		if _, err := incident.SaveDraft(ctx, d, audit.New(d, clock.NewFrozen(now)), incident.Scope{All: true}, inc.ID, to, csirt,
			map[string]string{"overview": "電子カルテが暗号化され、外来を停止した。\n復旧作業中。"}, now); err != nil {
			t.Fatal(err)
		}
	}
	r, err := incident.BuildReport(ctx, d, inc, to, incident.ReportInput{T: catalog(t), Names: names{}, Lang: lang, Now: now,
		Location: time.FixedZone("JST", 9*3600)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReportText_LabelsEveryFieldInTheLanguageAsked(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		cat := catalog(t)
		ja := report(t, d, incident.ToPPCPreliminary, "ja").Text(cat)
		for _, want := range []string{"個人データの漏えい等に関する報告（速報）", "医療機関名: 港総合病院", "INC-2026-",
			"■ 漏えい等が発生した（おそれがある）個人データの項目\n患者の氏名、病名、検査結果", "■ 対象となる本人の数\n約 85000 人（推計）",
			"■ 事案の概要\n電子カルテが暗号化され、外来を停止した。\n復旧作業中。", "■ 再発防止のための措置\n（未記入）",
			"発覚した日時: 2026-10-31 15:30 (JST)"} {
			if !strings.Contains(ja, want) {
				t.Errorf("the Japanese text lacks %q:\n%s", want, ja)
			}
		}
		en := report(t, d, incident.ToMHLW, "en").Text(cat)
		for _, want := range []string{"Report of a failure of medical information systems (MHLW)", "Medical institution: Minato General Hospital",
			"■ Impact on care\nYes (or possibly)", "■ Reports to and consultations with others (police, PPC, ...)\nPolice: 2026-10-31 18:30 (JST) Phone (reference サイバー第77号)"} {
			if !strings.Contains(en, want) {
				t.Errorf("the English text lacks %q:\n%s", want, en)
			}
		}
	})
}

func TestReportText_SaysWhenTheIncidentOwesNoSuchReport(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	inc := insertIncident(t, d, incident.Incident{Facility: 1, Kind: incident.LostDevice, Severity: incident.Low,
		State: incident.Triage, Title: "暗号化済みノート PC の紛失", Leak: incident.LeakPossible, MedicalData: true, Encrypted: true})
	r, err := incident.BuildReport(context.Background(), d, inc, incident.ToPPCPreliminary,
		incident.ReportInput{T: catalog(t), Lang: "ja", Now: aware})
	if err != nil {
		t.Fatal(err)
	}
	if r.Owed || !strings.Contains(r.Text(catalog(t)), "この報告の義務はありません") || r.Facility != "施設番号 1" {
		t.Errorf("owed %v facility %q:\n%s", r.Owed, r.Facility, r.Text(catalog(t)))
	}
	if _, err := incident.BuildReport(context.Background(), d, inc, incident.ToVendor, incident.ReportInput{T: catalog(t)}); err == nil {
		t.Error("a report to the vendor was built")
	}
}

func TestReportPDF_TextLayerHoldsTheJapaneseLabelsAndValues(t *testing.T) {
	renderer := pdftest.Renderer(t)
	d := dbtest.SQLite(t, parts...)
	cat := catalog(t)
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"ja", []string{"個人データの漏えい等に関する報告", "港総合病院", "個人データの項目", "患者の氏名、病名、検査結果",
			"対象となる本人の数", "再発防止のための措置", "INC-2026-"}},
		{"en", []string{"Report of a leak of personal data", "Minato General Hospital", "Items of personal data",
			"Number of people affected", "INC-2026-"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			html, err := report(t, d, incident.ToPPCFinal, c.lang).HTML(cat)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := renderer.Render(context.Background(), html)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(pdftest.Text(t, doc)), "")
			for _, w := range c.want {
				if !strings.Contains(text, strings.Join(strings.Fields(w), "")) {
					t.Errorf("the PDF's text layer lacks %q:\n%s", w, text)
				}
			}
		})
	}
}
