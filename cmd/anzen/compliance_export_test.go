package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The export command is tested over a report source of its own (the
// compliance part's reports are tested in internal/compliance; here it is
// the flags, the output, the progress and the audit record).

const exportTestChecklist = `
id: mhlw-checklist-r6
kind: checklist
edition: 令和6年度
version: 1
name: {ja: サイバーセキュリティ対策チェックリスト, en: Cybersecurity checklist}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2024-05"
items:
  - ref: hospital
    number: "1"
    kind: sheet
    title: {ja: 医療機関確認用, en: Hospital}
    children:
      - ref: hospital-1-1
        number: "1-①"
        kind: question
        title: {ja: 責任者を設置している, en: A manager is appointed}
        summary: {ja: 責任者を置く。, en: Appoint a manager.}
`

const exportTestGuideline = `
id: mhlw-gl-5.1
kind: guideline
edition: "5.1"
version: 1
name: {ja: ガイドライン 第5.1版, en: Guideline 5.1}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2021-01"
items:
  - ref: "6"
    number: "6"
    kind: chapter
    title: {ja: 安全管理, en: Safety management}
    children:
      - ref: 6.5-C-15
        number: C-15
        kind: C
        title: {ja: 二要素認証, en: Two-factor authentication}
        summary: {ja: 二要素認証を採用する。, en: Adopt two factors.}
`

type exportRecorder struct {
	mu     sync.Mutex
	events []selfaudit.Event
}

func (r *exportRecorder) Record(_ context.Context, _ db.Querier, e selfaudit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

type exportSource struct {
	lib *compliance.Library
	cfg compliance.Config
}

func (s *exportSource) State(_ context.Context, facility int64) (*compliance.State, error) {
	if facility != 3 {
		return nil, db.ErrNotFound
	}
	it, ctl := s.lib.Guideline().Item("6.5-C-15"), s.lib.Control("ctl-mfa")
	at := time.Date(2026, 4, 10, 3, 0, 0, 0, time.UTC)
	return &compliance.State{Facility: 3, FacilityName: compliance.Text{JA: "北診療所", EN: "North Clinic"}, At: at,
		Framework: "mhlw-gl-5.1", Checklist: "mhlw-checklist-r6",
		Controls: []*compliance.ControlState{{Control: ctl, Impl: compliance.ImplImplemented, Readiness: compliance.Ready,
			Checks: []compliance.CheckRun{{CheckID: "identity.mfa_enrolment", Status: check.Pass, RanAt: at}}}},
		Requirements: []*compliance.RequirementState{{Framework: "mhlw-gl-5.1", Item: it, Controls: []string{"ctl-mfa"},
			Readiness: compliance.Ready}},
		Overall: compliance.Coverage{Counts: map[string]int{compliance.Ready: 1}, Total: 1, Percent: 100},
		Answers: []compliance.Answer{{Facility: 3, Framework: "mhlw-checklist-r6", Ref: "hospital-1-1",
			Value: compliance.AnswerYes, CheckedOn: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}}}, nil
}

func (s *exportSource) Trend(context.Context, int64, int) ([]compliance.DayScore, error) {
	return nil, nil
}
func (s *exportSource) Library() *compliance.Library { return s.lib }
func (s *exportSource) Config() compliance.Config    { return s.cfg }

type exportProof struct{}

func (exportProof) IntegrityProof(context.Context) (compliance.IntegrityProof, error) {
	return compliance.IntegrityProof{TreeSize: 10, RootHash: "abcd"}, nil
}

type exportPDF struct{}

func (exportPDF) Render(_ context.Context, html []byte) ([]byte, error) {
	return append([]byte("%PDF-1.7\n"), html...), nil
}

// exportEnv installs the fake source for one test.
func exportEnv(t *testing.T, withPDF bool) (*exportSource, *exportRecorder) {
	t.Helper()
	lib, err := compliance.Load(fstest.MapFS{
		"c/gl.yaml": {Data: []byte(exportTestGuideline)},
		"c/cl.yaml": {Data: []byte(exportTestChecklist)},
		"c/controls.yaml": {Data: []byte("controls:\n  - id: ctl-mfa\n    title: {ja: 二要素認証, en: 2FA}\n" +
			"    description: {ja: 二要素でログインする。, en: Two factors.}\n    requirements: [\"mhlw-gl-5.1:6.5-C-15\"]\n" +
			"    checks: [identity.mfa_enrolment]\n")},
	}, "c")
	if err != nil {
		t.Fatal(err)
	}
	cat := i18n.New()
	if err := cat.Add(compliance.Locales()); err != nil {
		t.Fatal(err)
	}
	rec := &exportRecorder{}
	src := &exportSource{lib: lib, cfg: compliance.Config{Translator: cat, Recorder: rec, AuditProof: exportProof{},
		Clock: clock.NewFrozen(time.Date(2026, 4, 10, 3, 0, 0, 0, time.UTC)),
		Facilities: func(context.Context) ([]compliance.Facility, error) {
			return []compliance.Facility{{ID: 3, Code: "north"}}, nil
		}}}
	if withPDF {
		src.cfg.PDF = exportPDF{}
	}
	old := openComplianceReports
	openComplianceReports = func(context.Context, *cobra.Command, *globalFlags) (compliance.ReportSource, func(), error) {
		return src, func() {}, nil
	}
	t.Cleanup(func() { openComplianceReports = old })
	return src, rec
}

// runExport runs `anzen compliance export args...`.
func runExport(args ...string) result {
	root := &cobra.Command{Use: "anzen", SilenceUsage: true, SilenceErrors: true}
	parent := &cobra.Command{Use: "compliance"}
	parent.AddCommand(newComplianceExportCmd(&globalFlags{}))
	root.AddCommand(parent)
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"compliance", "export"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

func TestComplianceExport_WritesEachFormatAndRecordsIt(t *testing.T) {
	_, rec := exportEnv(t, true)
	dir := t.TempDir()

	// OSCAL results to standard output, of the first facility.
	r := runExport("--format", "oscal-results")
	if r.err != nil || !strings.Contains(r.out, `"assessment-results"`) || !strings.Contains(r.out, `"satisfied"`) {
		t.Fatalf("oscal-results: %v\n%.300s", r.err, r.out)
	}
	if len(rec.events) != 1 || rec.events[0].Target != "report:oscal-results.json" || rec.events[0].Facility != 3 ||
		!strings.HasPrefix(rec.events[0].ActorLogin, "cli:") || rec.events[0].ClientAddr != "local" {
		t.Fatalf("audit: %+v", rec.events)
	}
	if r := runExport("--format", "oscal-catalog"); r.err != nil || !strings.Contains(r.out, `"catalog"`) {
		t.Errorf("oscal-catalog: %v", r.err)
	}

	// The checklist workbook to a file (xlsx's default report).
	file := filepath.Join(dir, "checklist.xlsx")
	r = runExport("--format", "xlsx", "-o", file, "--facility", "north") // by its code
	if b, err := os.ReadFile(file); r.err != nil || err != nil || !bytes.HasPrefix(b, []byte("PK")) ||
		!strings.Contains(r.errOut, "wrote "+file+" (checklist.xlsx, facility 3") {
		t.Fatalf("xlsx: %v %v %s", r.err, err, r.errOut)
	}
	if r := runExport("--format", "xlsx", "--report", "inspection", "-o", filepath.Join(dir, "i.xlsx")); r.err != nil {
		t.Errorf("inspection xlsx: %v", r.err)
	}

	// The management report as PDF, in English, with progress on stderr.
	file = filepath.Join(dir, "management.pdf")
	r = runExport("--format", "pdf", "--report", "management", "--lang", "en", "-o", file)
	b, err := os.ReadFile(file)
	if r.err != nil || err != nil || !bytes.HasPrefix(b, []byte("%PDF")) || !bytes.Contains(b, []byte("Management report")) {
		t.Fatalf("pdf: %v %v", r.err, err)
	}
	if !strings.Contains(r.errOut, "anzen: reading the compliance state of facility 3…") ||
		!strings.Contains(r.errOut, "anzen: rendering the PDF with Chromium") {
		t.Errorf("progress: %q", r.errOut)
	}
	// The checklist alone as PDF, in the form's layout.
	r = runExport("--format", "pdf", "--report", "checklist", "-o", filepath.Join(dir, "checklist.pdf"))
	if b, err := os.ReadFile(filepath.Join(dir, "checklist.pdf")); r.err != nil || err != nil || !bytes.HasPrefix(b, []byte("%PDF")) ||
		!bytes.Contains(b, []byte("医療機関確認用")) {
		t.Errorf("checklist pdf: %v %v", r.err, err)
	}
	if n := len(rec.events); n != 6 {
		t.Errorf("%d exports recorded, want 6", n)
	}
}

func TestComplianceExport_RefusesWithOneLine(t *testing.T) {
	_, rec := exportEnv(t, false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "docx"}, "--format"},
		{[]string{"--format", "xlsx", "--report", "budget"}, "--report"},
		{[]string{"--format", "xlsx", "--lang", "fr"}, "--lang"},
		{[]string{"--format", "xlsx", "--facility", "9"}, `"9"`},
		{[]string{"--format", "xlsx", "--facility", "south"}, `"south"`},
		{[]string{"--format", "xlsx", "--framework", "mhlw-checklist-r0"}, `"mhlw-checklist-r0"`},
		{[]string{"--format", "pdf", "--chromium", "/nonexistent/chromium"}, "Chromium"},
		{[]string{}, "format"},
	} {
		r := runExport(c.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) || strings.Contains(r.err.Error(), "\n") {
			t.Errorf("%v: %v, want one line with %q", c.args, r.err, c.want)
		}
	}
	if len(rec.events) != 0 {
		t.Errorf("refused exports were recorded: %+v", rec.events)
	}
	// Not found is the database's not-found.
	if r := runExport("--format", "xlsx", "--facility", "9"); !errors.Is(r.err, db.ErrNotFound) {
		t.Errorf("unknown facility: %v", r.err)
	}
}
