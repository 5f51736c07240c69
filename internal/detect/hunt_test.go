package detect

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// hunt runs the rules in files (name → content) over the JSON lines.
func hunt(t *testing.T, rules map[string]string, fieldMap string, lines ...string) ([]HuntMatch, HuntStats, []int64) {
	t.Helper()
	files, err := LoadRuleFiles([]string{writeRules(t, rules)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !f.Loaded() {
			t.Fatalf("%s: %v", f.Path, f.Err)
		}
	}
	var fields *sigma.FieldMap
	if fieldMap != "" {
		if fields, err = sigma.FieldMapNamed(fieldMap); err != nil {
			t.Fatal(err)
		}
	}
	h, err := NewHunt(files, fields)
	if err != nil {
		t.Fatal(err)
	}
	var matches []HuntMatch
	var bad []int64
	st, err := h.Run(context.Background(), strings.NewReader(strings.Join(lines, "\n")),
		func(m HuntMatch) error { matches = append(matches, m); return nil },
		func(line int64, err error) { bad = append(bad, line) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return matches, st, bad
}

func TestHunt_MatchesNameTheLineAndBadLinesAreSkipped(t *testing.T) {
	matches, st, bad := hunt(t, map[string]string{"export.yml": testRule}, "anzen",
		`{"time":"2026-12-01T10:00:00Z","action":"view","actor":{"id":"u1"}}`,
		`not json`,
		``,
		`{"time":"2026-12-01T10:01:00Z","action":"export","actor":{"id":"u1"}}`,
		`[1,2]`,
		`{"action":"EXPORT"}`,
	)
	if len(matches) != 2 || matches[0].Line != 4 || matches[1].Line != 6 {
		t.Fatalf("matches %+v", matches)
	}
	if m := matches[0]; m.RuleID != "r-export" || m.Title != "Export" || m.Level != "high" || m.Correlation != "" {
		t.Errorf("match %+v", m)
	}
	if !slices.Equal(bad, []int64{2, 5}) || st.BadLines != 2 || st.Events != 3 || st.Matches != 2 {
		t.Errorf("bad lines %v, stats %+v", bad, st)
	}
	if st.Untimed != 1 {
		t.Errorf("untimed %d, want 1 (line 6)", st.Untimed)
	}
}

func TestHunt_CorrelationsRunOnTheEventsTimes(t *testing.T) {
	rules := map[string]string{"export.yml": testRule + "---\n" + testCorrelation}
	ev := func(min int, user string) string {
		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
		return `{"time":"` + at.Format(time.RFC3339) + `","action":"export","actor":{"id":"` + user + `"}}`
	}
	matches, _, _ := hunt(t, rules, "anzen",
		ev(0, "a"), ev(10, "b"), ev(20, "a"), ev(90, "a"), // a: only two within the hour
		ev(100, "b"), ev(110, "b"), ev(115, "b"), // b: three within the hour from line 5
	)
	// The base rule does not report alone (generate is false), the
	// correlation once, for b.
	if len(matches) != 1 {
		t.Fatalf("matches %+v", matches)
	}
	m := matches[0]
	if m.RuleID != "c-many-exports" || m.Correlation != "event_count" || m.Group["user"] != "b" ||
		m.Line != 7 || !slices.Equal(m.Lines, []int64{5, 6, 7}) || m.Level != "critical" {
		t.Errorf("match %+v", m)
	}
}

func TestHunt_UpperBoundsAreDecidedWhenTheFileEnds(t *testing.T) {
	rules := map[string]string{"export.yml": testRule + "---\n" + strings.Replace(testCorrelation, "{gte: 3}", "{lt: 2}", 1)}
	matches, _, _ := hunt(t, rules, "anzen",
		`{"time":"2026-12-01T10:00:00Z","action":"export","actor":{"id":"a"}}`,
		`{"time":"2026-12-01T10:05:00Z","action":"export","actor":{"id":"b"}}`,
		`{"time":"2026-12-01T10:06:00Z","action":"export","actor":{"id":"b"}}`,
	)
	if len(matches) != 1 || matches[0].Group["user"] != "a" {
		t.Fatalf("lt 2 at the end of the file: %+v", matches)
	}
}

func TestHunt_LogsourcesSelectEventsOnlyWithAFieldMap(t *testing.T) {
	windows := `title: Logon
id: w-logon
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624}
  condition: selection
`
	rules := map[string]string{"export.yml": testRule, "logon.yml": windows}
	access := `{"time":"2026-12-01T10:00:00Z","action":"export","EventID":4624}`
	logon := `{"Event":{"System":{"EventID":4624,"Channel":"Security"},"EventData":{"TargetUserName":"u1"}}}`
	// Without a field map every rule runs on every event, by the names
	// as they are.
	matches, _, _ := hunt(t, rules, "", access, logon)
	if got := ruleIDs(matches); !slices.Equal(got, []string{"r-export", "w-logon"}) {
		t.Errorf("no field map: %v", got)
	}
	// With the windows map, the access rule's logsource selects nothing
	// and the logon rule matches the Windows event.
	matches, _, _ = hunt(t, rules, "windows", access, logon)
	if got := ruleIDs(matches); !slices.Equal(got, []string{"w-logon"}) || matches[0].Line != 2 {
		t.Errorf("windows map: %v", matches)
	}
}

func ruleIDs(ms []HuntMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.RuleID)
	}
	return out
}

func TestHunt_StopsWithTheContext(t *testing.T) {
	files, err := LoadRuleFiles([]string{writeRules(t, map[string]string{"export.yml": testRule})})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHunt(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	input := strings.Repeat(`{"action":"view"}`+"\n", 10000)
	if _, err := h.Run(ctx, strings.NewReader(input), func(HuntMatch) error { return nil }, nil, nil); err == nil {
		t.Error("a cancelled hunt went on")
	}
}
