package ingest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWireDecoder checks the hand-written decoder of the wire form against
// encoding/json: the same records taken with the same values, the same
// refused, as invalid JSON or for the same field of the wrong type.
func FuzzWireDecoder(f *testing.F) {
	for _, s := range []string{
		`{"time":"2026-04-01T09:15:00+09:00","source":"ehr-main","facility":2,"actor":{"id":"u1","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-1","address":"10.1.2.3"},"action":"view","patient":{"id":"P1","name":"x"},"object":{"type":"record","id":"R42"},"outcome":"success","purpose":"treatment","session":"s-99"}`,
		`{"TIME":"a","Source":"b","ſource":"c","\u0074ime":"d","time":null,"actor":null,"facility":null}`,
		`{"actor":{"id":7},"patient":"x","facility":1.5,"object":[1,{"a":[true,false,null,-0.5e+3]}]}`,
		`{"facility":99999999999999999999,"x":"\ud83d\ude00\ud800\u00e9\"\\\/\b\f\n\r\t","y":{}}`,
		`{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":tru}`, `{"a":1} x`, `{"a":"\u12"}`, `{"a":-}`,
		`{"actor":{"id":"a","id":"b"}}`, `{"time":"x","time":"y"}`, `{"actor":{"ıd":"k"}}`,
		"{\"a\":[" + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, record []byte) {
		if len(record) == 0 || record[0] != '{' || !utf8.Valid(record) {
			return // DecodeWire refuses these before decoding
		}
		var want WireEvent
		wantErr := json.Unmarshal(record, &want)
		var got WireEvent
		gotErr := decodeWire(record, &got)
		switch {
		case wantErr == nil && gotErr == nil:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("values differ for %q:\n got  %+v\n want %+v", record, got, want)
			}
		case wantErr == nil || gotErr == nil:
			t.Fatalf("%q: encoding/json says %v, the decoder %v", record, wantErr, gotErr)
		default:
			var te *json.UnmarshalTypeError
			if errors.As(wantErr, &te) {
				if gotErr.Code != RejectWrongType || gotErr.Field != te.Field {
					t.Fatalf("%q: encoding/json: %v (field %s); the decoder: %s %s", record, wantErr, te.Field, gotErr.Code, gotErr.Field)
				}
			} else if gotErr.Code != RejectInvalidJSON {
				t.Fatalf("%q: encoding/json: %v; the decoder: %s %s", record, wantErr, gotErr.Code, gotErr.English)
			}
		}
	})
}

// benchRecord is a realistic record of about 330 bytes.
var benchRecord = []byte(`{"time":"2026-04-01T09:15:00.123+09:00","source":"ehr-main","actor":{"id":"n0123","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-012","address":"10.1.2.3"},"action":"view","patient":{"id":"P0001234"},"object":{"type":"record","id":"R42-7"},"outcome":"success","purpose":"treatment","session":"s-99","x_ward":{"floor":5}}`)

// BenchmarkWireDecoder compares the decoder with encoding/json on one
// record.
func BenchmarkWireDecoder(b *testing.B) {
	b.Run("hand-written", func(b *testing.B) {
		b.SetBytes(int64(len(benchRecord)))
		for b.Loop() {
			var w WireEvent
			if err := decodeWire(benchRecord, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(benchRecord)))
		for b.Loop() {
			var w WireEvent
			if err := json.Unmarshal(benchRecord, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
