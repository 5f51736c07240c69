package audit

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// arenaEvents are events whose texts and records fill, straddle and
// overflow the arena's blocks.
func arenaEvents() []Event {
	var out []Event
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		e := Event{Time: at.Add(time.Duration(i) * time.Second), Received: at, Facility: int64(i % 3), Source: "ehr-main",
			Actor:   Actor{ID: strings.Repeat("u", i%7), Name: "職員 " + strings.Repeat("あ", i%5)},
			Action:  "view",
			Patient: Patient{ID: "P" + strings.Repeat("1", i%9)}, Outcome: OutcomeSuccess, Format: FormatJSON,
			Original: bytes.Repeat([]byte{byte('a' + i%26)}, i*37%600)}
		switch i {
		case 100:
			e.Original = bytes.Repeat([]byte("x"), arenaBlock+5) // larger than a block
		case 101:
			e.Original = bytes.Repeat([]byte("y"), arenaBlock-1)
		case 102:
			e.Original = nil
		}
		out = append(out, e)
	}
	return out
}

func TestDecodeEntry_InAnArenaGivesTheSameEvents(t *testing.T) {
	var arena entryArena
	var got, want []Event
	for _, e := range arenaEvents() {
		entry := AppendEntry(nil, &e)
		w, err := DecodeEntry(entry)
		if err != nil {
			t.Fatal(err)
		}
		g, err := decodeEntry(entry, &arena)
		if err != nil {
			t.Fatal(err)
		}
		// The entry's bytes are the driver's, reused for the next row.
		clear(entry)
		got, want = append(got, g), append(want, w)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the events decoded in an arena differ from DecodeEntry's")
	}
	// Writing to or appending to an original record changes nothing
	// else.
	for i := range got {
		for j := range got[i].Original {
			got[i].Original[j] = '#'
		}
		got[i].Original = append(got[i].Original, "appended"...)
	}
	for i := range got {
		g, w := got[i], want[i]
		g.Original, w.Original = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("event %d changed with the original records:\n got %+v\nwant %+v", i, g, w)
		}
		if n := len(want[i].Original); !bytes.Equal(got[i].Original[n:], []byte("appended")) {
			t.Fatalf("event %d: original %q", i, got[i].Original)
		}
	}
}

func FuzzDecodeEntryArena(f *testing.F) {
	for _, e := range arenaEvents()[:5] {
		f.Add(AppendEntry(nil, &e))
	}
	f.Add([]byte{entryVersion})
	f.Fuzz(func(t *testing.T, entry []byte) {
		w, werr := DecodeEntry(entry)
		var arena entryArena
		g, gerr := decodeEntry(entry, &arena)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(g, w) {
			t.Fatalf("arena: %+v, %v; DecodeEntry: %+v, %v", g, gerr, w, werr)
		}
	})
}
