package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hunting commands need no database: they run with only a data
// directory that is never opened.

const detectTestRule = `title: Export
id: r-export
logsource: {product: anzen, category: access}
detection:
  selection: {action: export}
  condition: selection
level: high
`

func writeTestFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDetectCheck_SaysPerFileLoadedOrWhyNotAndTotals(t *testing.T) {
	c := newCLI(t, "sqlite")
	dir := t.TempDir()
	writeTestFile(t, dir, "a_export.yml", detectTestRule)
	writeTestFile(t, dir, "b_bad.yml", strings.Replace(detectTestRule, "action:", "action|sounds_like:", 1))
	r := c.mustRun("detect", "check", dir, "builtin:medical")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if got := lines[0]; got != "loaded    "+filepath.Join(dir, "a_export.yml")+" (1 rule)" {
		t.Errorf("line 1: %q", got)
	}
	if got := lines[1]; !strings.HasPrefix(got, "rejected  "+filepath.Join(dir, "b_bad.yml")+": ") || !strings.Contains(got, "sounds_like") {
		t.Errorf("line 2: %q", got)
	}
	if got := lines[len(lines)-1]; got != "total: 14 loaded, 1 rejected" {
		t.Errorf("last line: %q\n%s", got, r.out)
	}
	// A path that cannot be read is an error; a rejected rule is not.
	if r := c.run("", "detect", "check", filepath.Join(dir, "nothing")); r.err == nil {
		t.Error("a missing path did not fail")
	}
	if r := c.run("", "detect", "check"); r.err == nil {
		t.Error("no path did not fail")
	}
}

func TestDetectEval_PrintsOneJSONLinePerMatch(t *testing.T) {
	c := newCLI(t, "sqlite")
	dir := t.TempDir()
	rules := writeTestFile(t, dir, "export.yml", detectTestRule)
	events := writeTestFile(t, dir, "events.jsonl", strings.Join([]string{
		`{"time":"2026-12-01T10:00:00Z","action":"view","actor":{"id":"u1"}}`,
		`{"time":"2026-12-01T10:01:00Z","action":"export","actor":{"id":"u1"}}`,
		`{broken`,
		`{"time":"2026-12-01T14:30:00Z","action":"emergency_access","actor":{"id":"d1"},"patient":{"id":"P1"}}`,
	}, "\n")+"\n")
	r := c.mustRun("detect", "eval", "--rules", rules, "--rules", "builtin:medical", "--events", events, "--field-map", "anzen")
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["rule_id"] != "r-export" || got[0]["line"] != 2.0 || got[0]["level"] != "high" ||
		got[1]["line"] != 4.0 || !strings.Contains(got[1]["title"].(string), "break-glass") {
		t.Errorf("matches:\n%s", r.out)
	}
	if !strings.Contains(r.errOut, "line 3: not JSON") || !strings.Contains(r.errOut, "3 events, 2 matches") {
		t.Errorf("stderr:\n%s", r.errOut)
	}
	// To a file, from standard input.
	out := filepath.Join(dir, "matches.jsonl")
	in, _ := os.ReadFile(events)
	r = c.run(string(in), "detect", "eval", "--rules", rules, "--events", "-", "-o", out)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if b, _ := os.ReadFile(out); strings.Count(string(b), "\n") != 1 || r.out != "" {
		t.Errorf("file %q, stdout %q", b, r.out)
	}
	// Usage and I/O errors fail; a missing field map is named.
	for _, args := range [][]string{
		{"detect", "eval", "--events", events},
		{"detect", "eval", "--rules", rules},
		{"detect", "eval", "--rules", rules, "--events", filepath.Join(dir, "nothing.jsonl")},
		{"detect", "eval", "--rules", rules, "--events", events, "--field-map", "linux"},
	} {
		if r := c.run("", args...); r.err == nil {
			t.Errorf("anzen %s did not fail", strings.Join(args, " "))
		}
	}
	if r := c.run("", "detect", "eval", "--rules", rules, "--events", events, "--field-map", "linux"); !strings.Contains(r.err.Error(), "linux") {
		t.Errorf("the field map is not named: %v", r.err)
	}
}
