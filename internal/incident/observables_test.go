package incident

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestNormaliseObservable_ChecksEachKind(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		kind, value, want string // want "" for refused
	}{
		{"ip", "203.0.113.7", "203.0.113.7"},
		{"ip", " 2001:DB8::1 ", "2001:db8::1"},
		{"ip", "10.1.2.3/8", "10.0.0.0/8"},
		{"ip", "203.0.113.256", ""},
		{"ip", "example.com", ""},
		{"sha256", strings.ToUpper(sha), sha},
		{"sha256", sha[:63], ""},
		{"sha256", sha[:62] + "zz", ""},
		{"sha1", strings.Repeat("a", 40), strings.Repeat("a", 40)},
		{"sha1", strings.Repeat("a", 64), ""},
		{"md5", strings.Repeat("0", 32), strings.Repeat("0", 32)},
		{"md5", strings.Repeat("g", 32), ""},
		{"domain", "Evil.Example.COM.", "evil.example.com"},
		{"domain", "no_dots", ""},
		{"domain", "bad..example", ""},
		{"url", "https://evil.example/pay?id=1", "https://evil.example/pay?id=1"},
		{"url", "javascript:alert(1)", ""},
		{"url", "/relative", ""},
		{"email", "Attacker@Evil.Example", "Attacker@evil.example"},
		{"email", "Name <a@b.example>", ""},
		{"email", "not-an-address", ""},
		{"account", "nurse01", "nurse01"},
		{"account", "two words", ""},
		{"host", "EHR-WS-012", "ehr-ws-012"},
		{"host", "bad host", ""},
		{"file", "請求書.pdf.exe", "請求書.pdf.exe"},
		{"other", "line\nbreak", ""},
		{"other", "", ""},
		{"other", "\xff", ""},
		{"colour", "red", ""},
	}
	for _, tt := range tests {
		got, err := NormaliseObservable(tt.kind, tt.value)
		if tt.want == "" && err == nil {
			t.Errorf("%s %q accepted as %q", tt.kind, tt.value, got)
		}
		if tt.want != "" && (err != nil || got != tt.want) {
			t.Errorf("%s %q = %q, %v; want %q", tt.kind, tt.value, got, err, tt.want)
		}
	}
}

func TestGuessObservable(t *testing.T) {
	for value, want := range map[string]string{
		"203.0.113.7": "ip", "2001:db8::1": "ip", strings.Repeat("a", 64): "sha256", strings.Repeat("b", 40): "sha1",
		strings.Repeat("c", 32): "md5", "https://x.example/": "url", "a@b.example": "email", "evil.example": "domain",
		"nurse01": "other", "": "other",
	} {
		if got := GuessObservable(value); got != want {
			t.Errorf("guess %q = %s, want %s", value, got, want)
		}
	}
}

// FuzzNormaliseObservable: whatever is pasted, the parser does not panic,
// what it accepts is one line of valid UTF-8 that it accepts again as it
// is, and a guessed kind's value is accepted.
func FuzzNormaliseObservable(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "2001:db8::1/64", strings.Repeat("a", 64), "https://e.example/x", "a@b.example",
		"evil.example", "\xff\xfe", "a\x00b", "[::1]", "http://[::1", "..", "a@", "@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, kind := range ObservableKinds {
			got, err := NormaliseObservable(kind, value)
			if err != nil {
				continue
			}
			if !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n\x00") || got == "" || len(got) > maxObservable {
				t.Fatalf("%s %q accepted as %q", kind, value, got)
			}
			again, err := NormaliseObservable(kind, got)
			if err != nil || again != got {
				t.Fatalf("%s %q: normal form %q is not stable (%q, %v)", kind, value, got, again, err)
			}
		}
		if k := GuessObservable(value); k != "other" {
			if _, err := NormaliseObservable(k, value); err != nil {
				t.Fatalf("guessed %s for %q, which it refuses: %v", k, value, err)
			}
		}
	})
}

func TestObservables_SharedWithOtherIncidentsInScope(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		a, b := e.create(t, NewIncident{Title: "A"}), e.create(t, NewIncident{Title: "B"})
		other, err := Create(ctx, d, e.log, Scope{All: true}, csirt, NewIncident{Facility: 2, Kind: Other, Title: "C"}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		add := func(id int64, s Scope, list ...NewObservable) []Observable {
			t.Helper()
			got, err := AddObservables(ctx, d, e.log, s, id, csirt, list, e.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := add(a.ID, fac1, NewObservable{Value: "203.0.113.7", IOC: true}, NewObservable{Kind: "domain", Value: "Evil.Example"}); len(got) != 2 || got[0].Kind != "ip" {
			t.Fatalf("%+v", got)
		}
		if got := add(a.ID, fac1, NewObservable{Value: "203.0.113.7"}); len(got) != 0 {
			t.Errorf("a second time: added %+v", got)
		}
		add(b.ID, fac1, NewObservable{Kind: "domain", Value: "evil.example"})
		add(other.ID, Scope{All: true}, NewObservable{Kind: "ip", Value: "203.0.113.7"})
		// All or none: a bad one keeps the good ones out.
		if _, err := AddObservables(ctx, d, e.log, fac1, b.ID, csirt, []NewObservable{{Kind: "ip", Value: "10.0.0.1"},
			{Kind: "sha256", Value: "abc"}}, e.clk.Now()); !isField(err, "value") {
			t.Errorf("bad one: %v", err)
		}
		shared, err := SharedObservables(ctx, d, fac1, a.ID)
		if err != nil || len(shared) != 1 || shared[0].Incident != b.ID || shared[0].Value != "evil.example" {
			t.Errorf("shared in facility 1: %+v %v", shared, err)
		}
		if shared, _ := SharedObservables(ctx, d, Scope{All: true}, a.ID); len(shared) != 2 {
			t.Errorf("shared everywhere: %+v", shared)
		}
		if list, _ := Observables(ctx, d, b.ID); len(list) != 1 {
			t.Errorf("b has %+v", list)
		}
		if n := count(e.actions(t), "incident.observable.add"); n != 3 {
			t.Errorf("observable.add recorded %d times", n)
		}
	})
}
