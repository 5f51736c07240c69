package ingest_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
)

// checkRoundTrip checks that an event decoded from a record decodes the
// same from its original, and, when the log takes it, that the log's
// encoding gives it back.
func checkRoundTrip(t *testing.T, e audit.Event, again func([]byte) (audit.Event, error)) {
	t.Helper()
	e2, err := again(e.Original)
	if err != nil {
		t.Fatalf("the original of a decoded event does not decode again: %v\n%q", err, e.Original)
	}
	if !reflect.DeepEqual(e, e2) {
		t.Fatalf("decoding the original again differs:\n%+v\n%+v", e, e2)
	}
	if err := e.Normalize(); err != nil {
		if !errors.Is(err, audit.ErrInvalid) || ingest.AsRecordError(err) == nil {
			t.Fatalf("Normalize: %v", err)
		}
		return
	}
	back, err := audit.DecodeEntry(audit.AppendEntry(nil, &e))
	if err != nil {
		t.Fatalf("the log's encoding does not decode: %v", err)
	}
	back.Seq = e.Seq
	if !reflect.DeepEqual(e, back) {
		t.Fatalf("the log's encoding changes the event:\n%+v\n%+v", e, back)
	}
}

// checkRecordError fails unless err is a RecordError with a code that has
// messages.
func checkRecordError(t *testing.T, err error) {
	t.Helper()
	re := ingest.AsRecordError(err)
	if re == nil || !errors.Is(err, ingest.ErrWire) {
		t.Fatalf("error %v (%T) is not a RecordError", err, err)
	}
	known := false
	for _, c := range ingest.RejectCodes {
		known = known || c == re.Code
	}
	if !known || re.English == "" {
		t.Fatalf("RecordError %+v has an unknown code or no message", re)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"time":"2026-04-01T09:15:00+09:00","source":"ehr-main","actor":{"id":"u1"},"action":"view","patient":{"id":"P1"},"x":[1]}`+"\n\n"+
		`{"time":"bad","source":"ehr","action":"view"}`+"\r\n"), false)
	f.Add([]byte(`[{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"LOGIN","outcome":"failure","facility":3},null,{"time":1}]`), true)
	f.Add([]byte(`{"time":"2026-04-01T09:15:00Z","source":"ehr","action":"view"} trailing`), true)
	f.Add([]byte("[\xef\xbb\xbf"), true)
	f.Add([]byte("\xef\xbb\xbf{\"time\":\"2026-04-01T09:15:00Z\",\"source\":\"a\",\"action\":\"b\",\"actor\":{\"name\":\"\\u0000\"}}"), false)
	f.Fuzz(func(t *testing.T, body []byte, array bool) {
		format := ingest.NDJSON
		if array {
			format = ingest.JSONArray
		}
		rs := ingest.NewRecords(bytes.NewReader(body), format)
		defer rs.Close()
		last := 0
		for i := 0; ; i++ {
			if i > len(body)+2 {
				t.Fatal("Records returns more records than the body has bytes")
			}
			rec, n, err := rs.Next()
			if err == io.EOF {
				break
			}
			if n <= last && err == nil {
				t.Fatalf("record number %d after %d", n, last)
			}
			last = n
			if err != nil {
				if ingest.AsRecordError(err) == nil {
					if !errors.Is(err, ingest.ErrNotJSON) {
						t.Fatalf("Next: %v", err)
					}
					break
				}
				checkRecordError(t, err)
				continue
			}
			e, _, err := ingest.DecodeWire(rec)
			if err != nil {
				checkRecordError(t, err)
				continue
			}
			checkRoundTrip(t, e, func(b []byte) (audit.Event, error) {
				e, _, err := ingest.DecodeWire(b)
				return e, err
			})
		}
	})
}

func FuzzFHIR(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fhir", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"AuditEvent","recorded":"2026-04-01T09:00:00Z","source":{"site":"x"},"outcome":12,"agent":[{"who":{"reference":"/"}}],"entity":[{"what":{"reference":"Patient/"}},{"role":{"code":"24"},"query":"%%%"}]}`))
	f.Add([]byte(`{"resourceType":"AuditEvent","period":{"start":"2026"},"recorded":"2026-04-01T09:00:00Z","source":{"observer":{"identifier":{}}}}`))
	f.Fuzz(func(t *testing.T, resource []byte) {
		e, err := ingest.DecodeFHIR(resource)
		if err != nil {
			checkRecordError(t, err)
			return
		}
		if e.Format != audit.FormatFHIR || e.Source == "" || e.Action == "" || e.Time.IsZero() {
			t.Fatalf("a mapped event lacks what the log requires: %+v", e)
		}
		checkRoundTrip(t, e, ingest.DecodeFHIR)
	})
}
