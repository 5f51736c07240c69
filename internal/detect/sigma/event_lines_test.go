package sigma

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/detect/sigma/sigmatest"
)

// lineCases are JSON lines with the shapes events come in.
var lineCases = []string{
	`{"time":"2026-12-01T10:00:00Z","action":"view","actor":{"id":"u1","address":"10.0.0.1"},"patient":{"id":"P1","name":"佐藤 太郎"}}`,
	`{"a.b":"literal","a":{"b":"nested","c":[1,"two",true,null,{"d":"deep"}]},"n":-1.5e3,"t":true,"f":false,"z":null}`,
	`{"Event":{"System":{"EventID":{"#text":4688},"Channel":"Security","Provider":{"#attributes":{"Name":"x"}}},"EventData":{"CommandLine":"cmd.exe /c \"whoami\"","Empty":""}}}`,
	`{"esc":"\u3042\n\t\\","num":12345678901234567890,"neg":-0,"arr":[],"obj":{}}`,
}

var lineFields = []string{"time", "action", "actor.id", "actor.address", "patient.name", "a.b", "a.c", "a", "n", "t", "f", "z",
	"missing", "a.missing", "Event.System.EventID", "Event.System.Provider.#attributes.Name", "Event.EventData.CommandLine",
	"Event.EventData.Empty", "esc", "num", "neg", "arr", "obj", "EventID", "CommandLine", "user"}

func TestLineParser_ReadsFieldsAsJSONEventDoes(t *testing.T) {
	for _, m := range []*FieldMap{nil, mustFieldMap(t, "anzen"), mustFieldMap(t, "windows")} {
		lp := NewLineParser(m)
		for _, line := range lineCases {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatal(err)
			}
			want := NewJSONEvent(obj, m)
			got, err := lp.Parse([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range lineFields {
				wv, wok := want.Field(f)
				gv, gok := got.Field(f)
				if wok != gok || !reflect.DeepEqual(wv, gv) {
					t.Errorf("%s in %s: got %#v %v, want %#v %v", f, line, gv, gok, wv, wok)
				}
			}
			if w, g := keywordList(want), keywordList(got); !slices.Equal(w, g) {
				t.Errorf("keywords of %s: got %q, want %q", line, g, w)
			}
		}
	}
}

func TestLineParser_RejectsWhatIsNotAnObject(t *testing.T) {
	lp := NewLineParser(nil)
	for _, line := range []string{``, `[1]`, `"s"`, `{"a":`, `{"a":1}x`, `null`} {
		if _, err := lp.Parse([]byte(line)); err == nil {
			t.Errorf("%q was taken", line)
		}
	}
}

func mustFieldMap(t testing.TB, name string) *FieldMap {
	m, err := FieldMapNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func keywordList(e Event) []string {
	var out []string
	e.Keywords(func(s string) bool { out = append(out, s); return false })
	slices.Sort(out)
	return out
}

// FuzzLineParser checks the parser against encoding/json and JSONEvent:
// what both take as an object reads the same.
func FuzzLineParser(f *testing.F) {
	for _, c := range lineCases {
		f.Add(c)
	}
	lp := NewLineParser(nil)
	f.Fuzz(func(t *testing.T, line string) {
		got, err := lp.Parse([]byte(line))
		var obj map[string]any
		jerr := json.Unmarshal([]byte(line), &obj)
		if err != nil || jerr != nil || obj == nil || hasDuplicateKeys(line) {
			return
		}
		want := NewJSONEvent(obj, nil)
		for k := range obj {
			if strings.ContainsRune(k, utf8.RuneError) {
				continue // a key that is not UTF-8 cannot be named by a rule
			}
			wv, _ := want.Field(k)
			gv, ok := got.Field(k)
			if !ok || !reflect.DeepEqual(wv, gv) {
				t.Fatalf("%q in %q: got %#v, want %#v", k, line, gv, wv)
			}
		}
	})
}

// hasDuplicateKeys reports whether an object repeats a key at its top
// level (encoding/json keeps the last, fastjson finds the first).
func hasDuplicateKeys(line string) bool {
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// TestLineParser_IndexMatchesAsOnDecodedEvents runs the benchmarks' 100
// rules (keyword searches among them) through an Index over the same
// events parsed both ways.
func TestLineParser_IndexMatchesAsOnDecodedEvents(t *testing.T) {
	set, err := Parse(sigmatest.Rules())
	if err != nil {
		t.Fatal(err)
	}
	// Rules whose keywords appear in some events, in upper case too.
	extra, err := Parse([]byte("title: kw\nlogsource: {product: anzen}\ndetection:\n  keywords: ['sato', '10.1', 'TRUE', '12']\n  condition: keywords\n"))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(append(set.Rules, extra.Rules...))
	m := mustFieldMap(t, "anzen")
	lp := NewLineParser(m)
	matched := 0
	for i, obj := range sigmatest.Events(3000) {
		if i%3 == 0 {
			obj["note"] = []any{"SATO Taro", true, 12.0, nil}
		}
		line, _ := json.Marshal(obj)
		var back map[string]any
		_ = json.Unmarshal(line, &back)
		want := ix.Match(NewJSONEvent(back, m), nil)
		e, err := lp.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		got := ix.Match(e, nil)
		if !slices.Equal(got, want) {
			t.Fatalf("event %d: %d rules matched parsed, %d decoded", i, len(got), len(want))
		}
		matched += len(got)
	}
	if matched < 1000 {
		t.Errorf("only %d matches: the test does not test much", matched)
	}
}
