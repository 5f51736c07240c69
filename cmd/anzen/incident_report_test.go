package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// runIncidentReport runs `anzen incident report args...` on c's database.
// (The `anzen incident` command attaches the report command; this test
// builds the two itself.)
func (c *cliEnv) runIncidentReport(args ...string) result {
	c.t.Helper()
	root := &cobra.Command{Use: "anzen", SilenceUsage: true, SilenceErrors: true}
	parent := &cobra.Command{Use: "incident"}
	parent.AddCommand(newIncidentReportCmd(c.g))
	root.AddCommand(parent)
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"incident", "report"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// insertTestIncident writes an incident as the incidents' room would and
// returns its id.
func insertTestIncident(t *testing.T, d *db.DB, kind string, medical, crime bool) int64 {
	t.Helper()
	aware := time.Date(2026, 10, 31, 6, 30, 0, 0, time.UTC)
	b := map[bool]int{true: 1}
	var id int64
	if err := d.QueryRowContext(context.Background(), `INSERT INTO incident_incidents (facility, kind, severity, state,
		title, aware_at, created, created_by, updated, affected_data, people, medical_data, leak, crime, cyberattack)
		VALUES (1, ?, 'high', 'triage', 'テスト', ?, ?, 'csirt01', ?, '氏名と病名', 12, ?, 'possible', ?, ?) RETURNING id`,
		kind, db.Millis(aware), db.Millis(aware), db.Millis(aware), b[medical], b[crime], b[crime]).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIncidentReport_WritesThePDFOrTextAndRefusesWithOneLine(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			a := c.open()
			leak := insertTestIncident(t, a.DB, "data_leak", true, false)
			failure := insertTestIncident(t, a.DB, "system_failure", false, false)
			dir := t.TempDir()
			num := func(id int64) string { return strconv.FormatInt(id, 10) }

			// Text, to standard output, in English.
			r := c.runIncidentReport(num(leak), "--to", "ppc-preliminary", "--text", "--lang", "en")
			if r.err != nil || !strings.Contains(r.out, "Report of a leak of personal data (preliminary)") ||
				!strings.Contains(r.out, "■ Items of personal data that leaked or may have leaked\n氏名と病名") {
				t.Fatalf("text: %v\n%s", r.err, r.out)
			}
			// Refusals, each one line.
			for _, c2 := range []struct {
				args []string
				want string
			}{
				{[]string{"999999", "--to", "mhlw", "-o", filepath.Join(dir, "x.pdf")}, "not found"},
				{[]string{num(failure), "--to", "police", "-o", filepath.Join(dir, "x.pdf")}, "not required for this incident"},
				{[]string{num(leak), "--to", "vendor", "-o", filepath.Join(dir, "x.pdf")}, "--to"},
				{[]string{"INC-x", "--to", "mhlw", "--text"}, "not an incident number"},
			} {
				r := c.runIncidentReport(c2.args...)
				if r.err == nil || !strings.Contains(r.err.Error(), c2.want) || strings.Contains(r.err.Error(), "\n") {
					t.Errorf("%v: %v, want one line with %q", c2.args, r.err, c2.want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
				t.Error("a refused report wrote its file")
			}
			// --force writes a report not required.
			if r := c.runIncidentReport(num(failure), "--to", "police", "--text", "--force"); r.err != nil ||
				!strings.Contains(r.out, "この報告の義務はありません") {
				t.Errorf("--force: %v\n%s", r.err, r.out)
			}
			if d != "sqlite" {
				return // the PDF once is enough
			}
			pdftest.Renderer(t)
			out := filepath.Join(dir, "ppc.pdf")
			ref := "INC-2026-" + strings.Repeat("0", 4-len(num(leak))) + num(leak)
			if r := c.runIncidentReport(ref, "--to", "ppc-final", "-o", out); r.err != nil {
				t.Fatalf("pdf: %v %s", r.err, r.errOut)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(pdftest.Text(t, b)), "")
			for _, w := range []string{"個人データの漏えい等に関する報告（確報）", "氏名と病名", ref} {
				if !strings.Contains(text, w) {
					t.Errorf("the PDF lacks %q: %s", w, text)
				}
			}
		})
	}
}
