package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
)

// importFixtures writes the EHR example's mapping and export (as Shift_JIS)
// into dir and returns their paths.
func importFixtures(t *testing.T, dir string) (mapping, csvFile string) {
	t.Helper()
	m, err := os.ReadFile("../../internal/ingest/testdata/ehr-mapping.toml")
	if err != nil {
		t.Fatal(err)
	}
	mapping = filepath.Join(dir, "ehr-mapping.toml")
	if err := os.WriteFile(mapping, m, 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../../internal/ingest/testdata/ehr-access.csv")
	if err != nil {
		t.Fatal(err)
	}
	sjis, err := japanese.ShiftJIS.NewEncoder().Bytes(text)
	if err != nil {
		t.Fatal(err)
	}
	csvFile = filepath.Join(dir, "access_20260401.csv")
	if err := os.WriteFile(csvFile, sjis, 0o600); err != nil {
		t.Fatal(err)
	}
	return mapping, csvFile
}

// logEvents returns the events of the log of source.
func logEvents(t *testing.T, c *cliEnv, source string) []audit.Event {
	t.Helper()
	a := c.open()
	all, err := a.Audit.ReadAfter(context.Background(), -1, 1000000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range all {
		if e.Source == source {
			out = append(out, e)
		}
	}
	return out
}

func TestAuditImport_CSVInShiftJISWithAMappingIsImportedAndRecorded(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			mapping, file := importFixtures(t, t.TempDir())
			r := c.mustRun("audit", "import", file, "--map", mapping, "--facility", "main")
			if !strings.Contains(r.out, "imported 4 events from access_20260401.csv (csv, shift_jis), rejected 0 rows, first sequence number") {
				t.Errorf("summary: %q", r.out)
			}
			events := logEvents(t, c, "ehr-main")
			if len(events) != 4 {
				t.Fatalf("%d events", len(events))
			}
			if e := events[0]; e.Actor.Name != "山田　花子" || e.Action != "view" || !e.Flags.Has(audit.FlagImported) {
				t.Errorf("first event %+v", e)
			}
			rec := eventsBy(t, c.open(), "audit.import")[0]
			if rec.Target != "file:access_20260401.csv" || rec.Outcome != "success" || rec.Detail["accepted"] != "4" ||
				rec.Detail["rejected"] != "0" || rec.Detail["encoding"] != "shift_jis" || rec.Detail["mapping"] != mapping {
				t.Errorf("the import's record: %+v", rec)
			}
		})
	}
}

func TestAuditImport_NDJSONWithBadLinesListsThemAndImportsTheRest(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			dir := t.TempDir()
			file := filepath.Join(dir, "pacs.ndjson")
			lines := []string{
				`{"time":"2026-04-01T09:15:00+09:00","source":"pacs","actor":{"id":"R0042"},"action":"view","patient":{"id":"P1"}}`,
				`{"time":"2026-04-01T09:16:00+09:00","source":"pacs","action":"view"`,
				`{"time":"2026-04-01T09:17:00+09:00","source":"pacs","actor":{"id":"R0042"},"action":"export","patient":{"id":"P1"}}`,
				`{"source":"pacs","action":"view"}`,
			}
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := c.mustRun("audit", "import", file)
			if !strings.Contains(r.out, "imported 2 events from pacs.ndjson (ndjson, utf-8), rejected 2 rows") {
				t.Errorf("summary: %q", r.out)
			}
			if !strings.Contains(r.errOut, "line 2: not a valid event: invalid JSON") ||
				!strings.Contains(r.errOut, "line 4: not a valid event: time is required") {
				t.Errorf("rejected lines on stderr: %q", r.errOut)
			}
			// Again, with the rejected lines in a file.
			rejects := filepath.Join(dir, "rejects.txt")
			r = c.mustRun("audit", "import", file, "--format", "ndjson", "--rejects", rejects)
			b, err := os.ReadFile(rejects)
			if err != nil || strings.Count(string(b), "\n") != 2 || strings.Contains(r.errOut, "line 2") {
				t.Errorf("rejects file %q (%v), stderr %q", b, err, r.errOut)
			}
			if n := len(logEvents(t, c, "pacs")); n != 4 {
				t.Errorf("%d events of pacs after two imports, want 4", n)
			}
		})
	}
}

func TestAuditImport_ExitStatus(t *testing.T) {
	c := newCLI(t, "sqlite")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allBad := write("bad.ndjson", "{}\nnot json\n")
	r := c.run("", "audit", "import", allBad)
	var ee exitError
	if !errors.As(r.err, &ee) || ee.code != 2 || !strings.Contains(r.err.Error(), "no row of bad.ndjson was imported: all 2 were rejected") {
		t.Errorf("every row rejected: %v", r.err)
	}
	if rec := eventsBy(t, c.open(), "audit.import")[0]; rec.Outcome != "failure" || rec.Detail["rejected"] != "2" {
		t.Errorf("a failed import's record %+v", rec)
	}
	empty := write("empty.ndjson", "\n\n")
	if r := c.run("", "audit", "import", empty); r.err != nil || !strings.Contains(r.out, "imported 0 events") {
		t.Errorf("an empty file: %v %q", r.err, r.out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(dir, "missing.csv")}, "open " + filepath.Join(dir, "missing.csv")},
		{[]string{write("x.log", "")}, "--format: required: csv or ndjson"},
		{[]string{allBad, "--format", "xml"}, `--format: "xml" is neither csv nor ndjson`},
		{[]string{allBad, "--encoding", "latin1"}, "--encoding: one of auto, utf-8, shift_jis, euc-jp"},
		{[]string{allBad, "--source", "電子カルテ"}, `--source: source "電子カルテ"`},
		{[]string{allBad, "--facility", "branch"}, `--facility: no facility has the id or code "branch"`},
		{[]string{allBad, "--map", write("m.toml", "[fields]\nactor.iid = \"x\"\n")}, "--map: " + filepath.Join(dir, "m.toml") + ":2: fields.actor.iid: unknown field"},
		{[]string{write("h.csv", "")}, "the file is empty: a CSV file needs a header row"},
		{[]string{write("sj.csv", "\x83\x4e\x83\x8a,\x80\xff\xfe\n")}, "neither UTF-8 nor Shift_JIS"},
	} {
		r := c.run("", append([]string{"audit", "import"}, tc.args...)...)
		if r.err == nil || errors.As(r.err, &ee) || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 1 with %q", tc.args, r.err, tc.want)
		}
	}
	if n := len(logEvents(t, c, "pacs")); n != 0 {
		t.Errorf("%d events stored by failed imports", n)
	}
}

func TestAuditImport_DryRunAndTheDefaultMapping(t *testing.T) {
	c := newCLI(t, "sqlite")
	r := c.mustRun("audit", "import", "--print-default-map")
	if !strings.Contains(r.out, "[values.action]") || !strings.Contains(r.out, `"参照" = "view"`) {
		t.Errorf("the default mapping: %q", r.out)
	}
	file := filepath.Join(t.TempDir(), "a.tsv")
	if err := os.WriteFile(file, []byte("\uFEFF日時\t利用者ID\t操作\n2026-04-01 09:00:00\tD1\t参照\n2026-04-01 09:01:00\tD1\t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.mustRun("audit", "import", file, "--source", "ehr-main", "--dry-run")
	if !strings.Contains(r.out, "dry run: 1 rows of a.tsv would be imported, 1 rejected (csv, utf-8)") ||
		!strings.Contains(r.errOut, "line 3: invalid event: action is required") {
		t.Errorf("dry run: %q %q", r.out, r.errOut)
	}
	if n := len(logEvents(t, c, "ehr-main")); n != 0 {
		t.Errorf("a dry run stored %d events", n)
	}
}

// TestAuditImport_WhileAnzenRuns imports a large file while a running
// anzen appends to the same log: the writers take turns, every event of
// both is stored once, and the log verifies.
func TestAuditImport_WhileAnzenRuns(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			e := apptest.New(t, dialect)
			c := cliBeside(t, e)
			const rows = 20000
			var b strings.Builder
			b.WriteString("time,user,action,patient\n")
			for i := range rows {
				fmt.Fprintf(&b, "2026-03-31T%02d:%02d:%02d+09:00,u%d,view,P%07d\n", i/3600%24, i/60%60, i%60, i%300, i)
			}
			file := filepath.Join(t.TempDir(), "big.csv")
			if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var served atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					events := audittest.Events(i*50, 50)
					if _, err := e.App.Audit.Append(context.Background(), events); err != nil {
						t.Errorf("the running anzen's append: %v", err)
						return
					}
					served.Add(50)
					time.Sleep(2 * time.Millisecond)
				}
			})
			r := c.run("", "audit", "import", file, "--source", "ehr-import")
			close(stop)
			wg.Wait()
			if r.err != nil {
				t.Fatalf("import: %v\n%s", r.err, r.errOut)
			}
			if served.Load() == 0 {
				t.Fatal("the running anzen appended nothing during the import")
			}
			ctx := context.Background()
			if n := len(logEvents(t, c, "ehr-import")); n != rows {
				t.Errorf("%d imported events, want %d", n, rows)
			}
			if n := len(logEvents(t, c, "ehr-main")); int64(n) != served.Load() {
				t.Errorf("%d events of the running anzen, want %d", n, served.Load())
			}
			res, err := e.App.Audit.Verify(ctx, audit.VerifyOptions{})
			if err != nil || !res.OK {
				t.Fatalf("verify: %+v %v", res, err)
			}
		})
	}
}
