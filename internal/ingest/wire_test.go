package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
)

func TestDecodeWire_TakesTheDocumentedFormAndKeepsTheRecord(t *testing.T) {
	rec := ` {"time":"2026-04-01T09:15:00.5+09:00","source":"ehr-main","facility":2,
		"actor":{"id":"u0123","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-012","address":"10.1.2.3"},
		"action":"view","patient":{"id":"P0001234","name":"鈴木 太郎"},"object":{"type":"record","id":"R42"},
		"outcome":"success","purpose":"treatment","session":"s-99","x_ward":{"floor":5}} `
	e, facility, err := ingest.DecodeWire([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Event{Seq: -1, Time: time.Date(2026, 4, 1, 0, 15, 0, 5e8, time.UTC), Source: "ehr-main",
		Actor: audit.Actor{ID: "u0123", Name: "山田 花子", Profession: "nurse", Department: "内科", Terminal: "WS-012",
			Address: "10.1.2.3"},
		Action: "view", Patient: audit.Patient{ID: "P0001234", Name: "鈴木 太郎"},
		Object: audit.Object{Type: "record", ID: "R42"}, Outcome: "success", Purpose: "treatment", Session: "s-99",
		Format: audit.FormatJSON}
	if !e.Time.Equal(want.Time) {
		t.Errorf("time %v", e.Time)
	}
	e.Time, want.Time = time.Time{}, time.Time{}
	if string(e.Original) != strings.TrimSpace(rec) {
		t.Errorf("original %q, want the record as sent (trimmed)", e.Original)
	}
	e.Original = nil
	if e.Actor != want.Actor || e.Patient != want.Patient || e.Object != want.Object || e.Source != want.Source ||
		e.Action != want.Action || e.Outcome != want.Outcome || e.Purpose != want.Purpose || e.Session != want.Session ||
		e.Format != want.Format || e.Seq != want.Seq {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	if facility == nil || *facility != 2 {
		t.Errorf("facility %v, want 2", facility)
	}
}

func TestDecodeWire_RefusesWithAStableCode(t *testing.T) {
	tests := []struct {
		name, rec, code, field string
	}{
		{"empty", ``, "not-object", ""},
		{"an array", `[{"time":"x"}]`, "not-object", ""},
		{"a string", `"x"`, "not-object", ""},
		{"not JSON", `{"time":`, "invalid-json", ""},
		{"not UTF-8", "{\"time\":\"\xff\"}", "invalid-utf8", ""},
		{"no time", `{"source":"ehr","action":"view"}`, "missing", "time"},
		{"time not RFC 3339", `{"time":"2026/04/01 09:15","source":"ehr","action":"view"}`, "invalid-time", "time"},
		{"time without zone", `{"time":"2026-04-01T09:15:00","source":"ehr","action":"view"}`, "invalid-time", "time"},
		{"no source", `{"time":"2026-04-01T09:15:00Z","action":"view"}`, "missing", "source"},
		{"blank action", `{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"  "}`, "missing", "action"},
		{"actor a string", `{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"view","actor":"u1"}`, "wrong-type", "actor"},
		{"actor id a number", `{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"view","actor":{"id":7}}`,
			"wrong-type", "actor.id"},
		{"facility a string", `{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"view","facility":"2"}`,
			"wrong-type", "facility"},
		{"too long", `{"x":"` + strings.Repeat("a", audit.MaxOriginal) + `"}`, "too-long", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ingest.DecodeWire([]byte(tt.rec))
			re := ingest.AsRecordError(err)
			if re == nil || !errors.Is(err, ingest.ErrWire) || !strings.HasPrefix(err.Error(), "not a valid event: ") {
				t.Fatalf("error %v, want a RecordError wrapping ErrWire", err)
			}
			if re.Code != tt.code || re.Field != tt.field {
				t.Errorf("code %q field %q (%s), want %q %q", re.Code, re.Field, re.English, tt.code, tt.field)
			}
		})
	}
}
