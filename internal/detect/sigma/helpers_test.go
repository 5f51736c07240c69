package sigma

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// detection builds a rule around a detection section written from
// column 0.
func detection(det string) []byte {
	var b strings.Builder
	b.WriteString("title: test\nlogsource:\n    product: test\ndetection:\n")
	for _, l := range strings.Split(strings.TrimRight(det, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return []byte(b.String())
}

func mustRule(t testing.TB, det string, opts ...Option) *Rule {
	t.Helper()
	set, err := Parse(detection(det), opts...)
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", det, err)
	}
	if len(set.Rules) != 1 {
		t.Fatalf("Parse: %d rules", len(set.Rules))
	}
	return set.Rules[0]
}

// ev decodes a JSON object into an event without a field map.
func ev(t testing.TB, js string) Event {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("bad test event %s: %v", js, err)
	}
	return NewJSONEvent(m, nil)
}

// matchCase is a detection, an event and whether it matches.
type matchCase struct {
	name  string
	det   string
	event string
	want  bool
}

func runMatchCases(t *testing.T, cases []matchCase, opts ...Option) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustRule(t, c.det, opts...)
			if got := r.Match(ev(t, c.event)); got != c.want {
				t.Errorf("detection:\n%s\nevent %s: Match = %v, want %v", c.det, c.event, got, c.want)
			}
		})
	}
}

// rejectCase is a detection that must not load, and what the message
// must name.
type rejectCase struct {
	name string
	det  string
	msg  string
}

func runRejectCases(t *testing.T, cases []rejectCase, opts ...Option) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(detection(c.det), opts...)
			if err == nil {
				t.Fatalf("detection:\n%s\nloaded; want an error naming %q", c.det, c.msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not name %q", err, c.msg)
			}
		})
	}
}
