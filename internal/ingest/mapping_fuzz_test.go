package ingest

import (
	"errors"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/audit"
)

// FuzzMapRecord maps records made of any text, as key=value pairs and as
// JSON, with the default mapping and the EHR example's: mapping never
// panics, a key found by Get is the first pair's of that key, and a mapped
// event either passes Normalize or is refused with ErrInvalid.
func FuzzMapRecord(f *testing.F) {
	for _, s := range []string{
		`user=D0123 action=REF patient=0001234567 result=0 time="2026/04/01 09:15:02"`,
		`利用者ID=u1 処理区分=UPD 利用日=2026/04/01 利用時刻=09:15:02 処理結果=1`,
		`name="山田　花子" q='it\'s' open="never`,
		`{"time":"2026-04-01T09:15:00+09:00","source":"ehr-main","actor":{"id":"u1"},"action":"view"}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}`,
		`{"action": 3, "time": 1743465600, "outcome": true, "tags": [1, {"x": null}]}`,
		`{"broken": `, "", "=", `a==b`, `"x"=y`, "k=\xff\xfe", `time=2026-02-29T00:00:00Z action=x`,
	} {
		f.Add(s)
	}
	ehr, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var kv, js Record
		kv.AddKeyValues(text)
		_ = js.AddJSON([]byte(text))
		for _, r := range []*Record{&kv, &js} {
			checkGet(t, r)
			for _, m := range []*Mapping{DefaultMapping(), ehr} {
				e := audit.Event{Original: []byte(text)}
				if err := m.Map(r, &e); err != nil {
					continue
				}
				if e.Time.IsZero() {
					e.Time = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
				}
				if e.Source == "" {
					e.Source = "fuzz"
				}
				e.Original = e.Original[:min(len(e.Original), audit.MaxOriginal)]
				err := e.Normalize()
				if err != nil && !errors.Is(err, audit.ErrInvalid) {
					t.Fatalf("Normalize: %v", err)
				}
				if err == nil && (!utf8.ValidString(e.Actor.Name) || !utf8.ValidString(e.Patient.ID)) {
					t.Fatalf("a normalised event holds invalid UTF-8: %+v", e)
				}
			}
		}
	})
}

// checkGet compares Get with a plain search of the pairs.
func checkGet(t *testing.T, r *Record) {
	for i := range r.Len() {
		k, _ := r.Pair(i)
		want := ""
		for j := range r.Len() {
			if kj, vj := r.Pair(j); asciiLowerOnly(kj) == asciiLowerOnly(k) {
				want = vj
				break
			}
		}
		if got, ok := r.Get(k); !ok || got != want {
			t.Fatalf("Get(%q) = %q %v, want %q", k, got, ok, want)
		}
	}
}

// asciiLowerOnly lower-cases A–Z only, byte by byte, as Record does, for
// the reference.
func asciiLowerOnly(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// FuzzParseMapping reads any file as a mapping: it is refused with an
// error, or it maps a record without panicking.
func FuzzParseMapping(f *testing.F) {
	for _, name := range []string{"testdata/ehr-mapping.toml", "mapping_default.toml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("[fields]\ntime = { join = [\"a\", \"b\"], sep = \"T\" }\n[values.actor.profession]\n\"*\" = \"x\"\n")
	f.Add("time_layouts = \"unix\"\n[fields]\ntime = \"t\"\naction = { key = \"a\", default = \"view\" }")
	f.Fuzz(func(t *testing.T, file string) {
		m, err := ParseMapping("fuzz.toml", []byte(file))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		var e audit.Event
		_ = m.Map(kvRecord("t=1743465600 a=x 日付=2026/04/01 時刻=09:00:00 user=u1"), &e)
	})
}
