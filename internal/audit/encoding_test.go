package audit_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
)

func TestEntry_RoundTripsEveryField(t *testing.T) {
	e := audittest.Event(7)
	e.Flags = audit.FlagClockSkew | audit.FlagImported
	e.Facility = 3
	e.Patient.Name = "山田 太郎"
	if err := e.Normalize(); err != nil {
		t.Fatal(err)
	}
	got, err := audit.DecodeEntry(audit.AppendEntry(nil, &e))
	if err != nil {
		t.Fatal(err)
	}
	got.Seq = e.Seq
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

func TestLeafHash_BindsThePosition(t *testing.T) {
	e := audittest.Event(1)
	entry := audit.AppendEntry(nil, &e)
	if bytes.Equal(audit.LeafHash(1, entry), audit.LeafHash(2, entry)) {
		t.Fatal("the same entry at two positions has one leaf hash")
	}
}

func TestNormalize_RefusesWhatCannotBeStored(t *testing.T) {
	ok := audittest.Event(0)
	for name, change := range map[string]func(e *audit.Event){
		"no source":      func(e *audit.Event) { e.Source = " " },
		"bad source":     func(e *audit.Event) { e.Source = "ehr main" },
		"no action":      func(e *audit.Event) { e.Action = "" },
		"bad action":     func(e *audit.Event) { e.Action = "view record" },
		"no time":        func(e *audit.Event) { e.Time = time.Time{} },
		"ancient time":   func(e *audit.Event) { e.Time = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) },
		"bad outcome":    func(e *audit.Event) { e.Outcome = "maybe" },
		"huge original":  func(e *audit.Event) { e.Original = make([]byte, audit.MaxOriginal+1) },
		"minus facility": func(e *audit.Event) { e.Facility = -1 },
	} {
		e := ok
		change(&e)
		if err := e.Normalize(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e := ok
	e.Action, e.Outcome = " VIEW ", ""
	e.Actor.Name = strings.Repeat("あ", audit.MaxFieldLen+3) + "\x00\xff"
	if err := e.Normalize(); err != nil {
		t.Fatal(err)
	}
	if e.Action != "view" || e.Outcome != audit.OutcomeUnknown || len([]rune(e.Actor.Name)) != audit.MaxFieldLen {
		t.Fatalf("normalised: action %q outcome %q name of %d characters", e.Action, e.Outcome, len([]rune(e.Actor.Name)))
	}
}

// FuzzDecodeEntry: no input makes DecodeEntry panic, and whatever it
// accepts encodes back to the same bytes (one canonical form).
func FuzzDecodeEntry(f *testing.F) {
	for i := range 5 {
		e := audittest.Event(i)
		f.Add(audit.AppendEntry(nil, &e))
	}
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := audit.DecodeEntry(b)
		if err != nil {
			return
		}
		if again := audit.AppendEntry(nil, &e); !bytes.Equal(again, b) {
			t.Fatalf("decoded and encoded again differs:\n%x\n%x", b, again)
		}
	})
}
