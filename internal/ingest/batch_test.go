package ingest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
)

// got is what Records gave for one record.
type got struct {
	n      int
	record string
	code   string // the RecordError code, "" for a record
}

// readAll reads every record of body in format f; fatal is the error that
// stopped it, if any.
func readAll(t *testing.T, body io.Reader, f ingest.BatchFormat) (out []got, fatal error) {
	t.Helper()
	rs := ingest.NewRecords(body, f)
	defer rs.Close()
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("Records does not end")
		}
		rec, n, err := rs.Next()
		if err == io.EOF {
			return out, nil
		}
		if re := ingest.AsRecordError(err); re != nil {
			out = append(out, got{n: n, code: re.Code})
			continue
		}
		if err != nil {
			// Every later call gives the same error.
			if _, _, again := rs.Next(); again != err {
				t.Errorf("after %v, Next gave %v", err, again)
			}
			return out, err
		}
		out = append(out, got{n: n, record: string(rec)})
	}
}

func TestRecords_NDJSONNumbersLinesAndRefusesBadOnesByThemselves(t *testing.T) {
	long := `{"x":"` + strings.Repeat("a", audit.MaxOriginal) + `"}`
	veryLong := strings.Repeat("b", 3*audit.MaxOriginal) // past the buffer: skipped to the line's end
	body := "\xef\xbb\xbf{\"a\":1}\n" +                  // a byte order mark before the first line
		"\n" + // empty: skipped, counted
		"  {\"a\":2}  \r\n" + // spaces and CRLF trimmed
		long + "\n" +
		veryLong + "\n" +
		"{\"a\":\"\xff\"}\n" +
		"   \t \n" +
		"{\"a\":3}" // no final newline
	want := []got{{1, `{"a":1}`, ""}, {3, `{"a":2}`, ""}, {4, "", "too-long"}, {5, "", "too-long"},
		{6, "", "invalid-utf8"}, {8, `{"a":3}`, ""}}
	for name, r := range map[string]io.Reader{
		"whole":         strings.NewReader(body),
		"byte by byte":  iotest.OneByteReader(strings.NewReader(body)),
		"half at times": iotest.HalfReader(strings.NewReader(body)),
	} {
		t.Run(name, func(t *testing.T) {
			out, fatal := readAll(t, r, ingest.NDJSON)
			if fatal != nil {
				t.Fatal(fatal)
			}
			if !slices.Equal(out, want) {
				t.Errorf("got %v\nwant %v", out, want)
			}
		})
	}
}

func TestRecords_NDJSONLineOfExactlyTheLimitIsTaken(t *testing.T) {
	rec := `{"x":"` + strings.Repeat("a", audit.MaxOriginal-8) + `"}`
	if len(rec) != audit.MaxOriginal {
		t.Fatalf("test record is %d bytes", len(rec))
	}
	out, fatal := readAll(t, strings.NewReader(rec+"\r\n"+rec+"x\n"), ingest.NDJSON)
	if fatal != nil || len(out) != 2 || out[0].record != rec || out[1].code != "too-long" {
		t.Fatalf("got %d records (%v), fatal %v", len(out), len(out) > 0 && out[0].record == rec, fatal)
	}
}

func TestRecords_JSONArray(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  []got
		fatal error
	}{
		{"array", ` [ {"a":1}, {"a":2} ,3, "x", null ] `,
			[]got{{1, `{"a":1}`, ""}, {2, `{"a":2}`, ""}, {3, "3", ""}, {4, `"x"`, ""}, {5, "null", ""}}, nil},
		{"empty array", `[]`, nil, nil},
		{"one object alone", "\xef\xbb\xbf\n{\"a\":1}\n", []got{{1, `{"a":1}`, ""}}, nil},
		{"broken in the middle", `[{"a":1}, {"a": }, {"a":3}]`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"missing comma", `[{"a":1} {"a":2}]`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"cut off", `[{"a":1}, {"a":2`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"cut off after a comma", `[{"a":1},`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"data after the array", `[{"a":1}] x`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"a second array", `[{"a":1}][]`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"data after the object", `{"a":1} {"b":2}`, []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
		{"invalid UTF-8 in an element", "[{\"a\":\"\xff\"},{\"a\":2}]", []got{{1, "", "invalid-utf8"}, {2, `{"a":2}`, ""}}, nil},
		{"element too long", `[{"x":"` + strings.Repeat("a", audit.MaxOriginal) + `"},{"a":2}]`,
			[]got{{1, "", "too-long"}, {2, `{"a":2}`, ""}}, nil},
		{"empty body", ``, nil, ingest.ErrNotJSON},
		{"white space only", " \n ", nil, ingest.ErrNotJSON},
		{"not JSON", `hello`, nil, ingest.ErrNotJSON},
		{"a number", `42`, nil, ingest.ErrNotJSON},
		{"NDJSON sent as JSON", "{\"a\":1}\n{\"a\":2}\n", []got{{1, `{"a":1}`, ""}, {2, "", "invalid-json"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, fatal := readAll(t, iotest.HalfReader(strings.NewReader(tt.body)), ingest.JSONArray)
			if !errors.Is(fatal, tt.fatal) || (fatal == nil) != (tt.fatal == nil) {
				t.Errorf("fatal = %v, want %v", fatal, tt.fatal)
			}
			if !slices.Equal(out, tt.want) {
				t.Errorf("got %v\nwant %v", out, tt.want)
			}
		})
	}
}

func TestRecords_ReadErrorsStopTheBatch(t *testing.T) {
	boom := errors.New("connection reset")
	for _, f := range []ingest.BatchFormat{ingest.NDJSON, ingest.JSONArray} {
		body := io.MultiReader(strings.NewReader("[{\"a\":1},\n{\"a\":2}\n"), iotest.ErrReader(boom))
		if f == ingest.NDJSON {
			body = io.MultiReader(strings.NewReader("{\"a\":1}\n{\"a\""), iotest.ErrReader(boom))
		}
		out, fatal := readAll(t, body, f)
		if !errors.Is(fatal, boom) {
			t.Errorf("format %d: fatal = %v, want the read error", f, fatal)
		}
		if len(out) == 0 || out[0].record != `{"a":1}` {
			t.Errorf("format %d: the records before the error: %v", f, out)
		}
	}
}

func TestRecords_BodyLimitIsAReadErrorNotARecord(t *testing.T) {
	for _, f := range []ingest.BatchFormat{ingest.NDJSON, ingest.JSONArray} {
		body := "[" + strings.Repeat(`{"a":1},`+"\n", 1000) + `{"a":1}]`
		limited := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(body)), 2000)
		_, fatal := readAll(t, limited, f)
		var mbe *http.MaxBytesError
		if !errors.As(fatal, &mbe) {
			t.Errorf("format %d: fatal = %v, want the MaxBytesError", f, fatal)
		}
	}
}
