package sigma

import (
	"encoding/json"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullRule))
	f.Add(detection("sel:\n    a|windash|contains: ' -x'\n    b|re|i: '^a+$'\n    c|cidr: 10.0.0.0/8\ncondition: sel"))
	f.Add(detection("k:\n    '|all':\n        - a\n        - b\ncondition: k"))
	f.Add(detection("a:\n    x|base64offset|contains: abc\nb:\n    - y: null\n    - z: ''\ncondition: 1 of them and not (a or b)"))
	f.Add([]byte("---\n---\ntitle: x\n---\ncorrelation: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse(data, WithPlaceholders(map[string][]string{"p": {"a*", "b"}}))
		if err != nil {
			var e *Error
			for _, one := range unjoin(err) {
				if !errors.As(one, &e) {
					t.Fatalf("error %v (%T) is not an *Error", one, one)
				}
			}
		}
		// What loads runs without panicking.
		e := ev(t, `{"a":"x","b":["y",1],"c":{"d":null},"x":"abc","y":"10.1.1.1"}`)
		for _, r := range set.Rules {
			r.Match(e)
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"a", "a and not b", "1 of sel* or all of them", "(a or (b and not c))", "not not a",
		"any of _x*", "a and", "((", "1 of", "all of them and (", "a b", ")",
	} {
		f.Add(s)
	}
	names := []string{"_x1", "a", "b", "c", "sel1", "sel2"}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCondition(s, names)
		if err != nil {
			if _, ok := err.(*condError); !ok {
				t.Fatalf("error %v (%T) is not a condition error", err, err)
			}
			return
		}
		searches := map[string]*search{}
		for _, n := range names {
			searches[n] = &search{}
		}
		compileCond(c, searches)(ev(t, `{}`))
	})
}

func FuzzConditionInRule(f *testing.F) {
	for _, s := range []string{"a", "a and not b", "1 of sel* or all of them", "((", "a | count() > 2", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, _ := json.Marshal(s)
		det := "_x1:\n    x: 1\na:\n    x: 1\nb:\n    x: 2\nsel1:\n    y: 1\ncondition: " + string(q)
		set, err := Parse(detection(det))
		if err != nil {
			for _, one := range unjoin(err) {
				if _, ok := one.(*Error); !ok {
					t.Fatalf("error %v (%T) is not an *Error", one, one)
				}
			}
			return
		}
		set.Rules[0].Match(ev(t, `{"x":1,"y":1}`))
	})
}
