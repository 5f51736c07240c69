package ingest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// parseNow is when the parse tests receive their messages: 09:30 in Tokyo
// on 1 April 2026.
var parseNow = time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC)

func TestMsgParser_Formats(t *testing.T) {
	p := newMsgParser(DefaultMapping(), 7, func() time.Time { return parseNow })
	at := time.Date(2026, 4, 1, 9, 15, 2, 0, tokyo)
	for _, tc := range []struct {
		name, msg string
		format    string
		want      audit.Event
	}{
		{"5424 with structured data", `<134>1 2026-04-01T09:15:02.123+09:00 ehr01.hospital.local ehr 2481 ACCESS ` +
			`[access@32473 user="D0123" patient="0001234567" action="REF"][origin ip="10.1.2.34"] カルテを参照しました`,
			audit.FormatSyslog5424, audit.Event{Time: at.Add(123 * time.Millisecond), Source: "ehr",
				Actor: audit.Actor{ID: "D0123", Address: "10.1.2.34"}, Action: "REF", Patient: audit.Patient{ID: "0001234567"}}},
		{"5424 key=value, no app name", `<134>1 2026-04-01T09:15:02+09:00 ehr01 - - - - user=u1 action=参照 name="山田 花子"`,
			audit.FormatSyslog5424, audit.Event{Time: at, Source: "ehr01", Actor: audit.Actor{ID: "u1"}, Action: "view"}},
		{"5424 JSON", `<134>1 2026-04-01T09:15:02+09:00 h pacs - - - {"actor":{"id":"u1"},"action":"view","source":"pacs-main"}`,
			audit.FormatSyslog5424, audit.Event{Time: at, Source: "pacs-main", Actor: audit.Actor{ID: "u1"}, Action: "view"}},
		{"5424 BOM and payload time", "<134>1 - h a - - - \uFEFFuser=u1 action=view time=\"2026/04/01 09:15:02\"",
			audit.FormatSyslog5424, audit.Event{Time: at, Source: "a", Actor: audit.Actor{ID: "u1"}, Action: "view"}},
		{"3164", `<86>Apr  1 09:15:02 ehr01 ehr[2481]: user=D0123 action=参照 patient=0001234567`,
			audit.FormatSyslog3164, audit.Event{Time: at, Source: "ehr", Actor: audit.Actor{ID: "D0123"}, Action: "view",
				Patient: audit.Patient{ID: "0001234567"}}},
		{"3164 zero-padded day", `<86>Apr 01 09:15:02 ehr01 ehr: user=D0123 action=view`,
			audit.FormatSyslog3164, audit.Event{Time: at, Source: "ehr", Actor: audit.Actor{ID: "D0123"}, Action: "view"}},
		{"3164 without host", `<86>Apr  1 09:15:02 user=D0123 action=view`,
			audit.FormatSyslog3164, audit.Event{Time: at, Source: "", Actor: audit.Actor{ID: "D0123"}, Action: "view"}},
		{"3164 RFC 3339 (rsyslog)", `<86>2026-04-01T09:15:02+09:00 ehr01 ehr: user=D0123 action=view`,
			audit.FormatSyslog3164, audit.Event{Time: at, Source: "ehr", Actor: audit.Actor{ID: "D0123"}, Action: "view"}},
	} {
		e, err := p.parse([]byte(tc.msg + "\n"))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if e.Format != tc.format || !e.Time.Equal(tc.want.Time) || e.Source != tc.want.Source || e.Actor != tc.want.Actor ||
			e.Action != tc.want.Action || e.Patient != tc.want.Patient || e.Facility != 7 {
			t.Errorf("%s: got %+v", tc.name, e)
		}
		if string(e.Original) != tc.msg+"\n" {
			t.Errorf("%s: original %q, want the message as received", tc.name, e.Original)
		}
	}
}

func TestMsgParser_Rejects(t *testing.T) {
	p := newMsgParser(DefaultMapping(), 0, func() time.Time { return parseNow })
	for _, tc := range []struct{ msg, want string }{
		{"hello", "does not begin with <PRI>"},
		{"<134>1 bad", "RFC 5424: expecting a RFC3339MICRO timestamp"},
		{"<86>garbage", "RFC 3164"},
		{`<134>1 - h a - - - {"action": "view",`, "JSON payload"},
		{`<134>1 - h a - - - time=yesterday action=view`, `time "yesterday" fits none`},
	} {
		if _, err := p.parse([]byte(tc.msg)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.msg, err, tc.want)
		}
	}
}

func TestMsgParser_NoTimeIsFlagged(t *testing.T) {
	p := newMsgParser(DefaultMapping(), 0, func() time.Time { return parseNow })
	e, err := p.parse([]byte("<134>1 - h a - - - user=u1 action=view"))
	if err != nil || !e.Time.IsZero() || !e.Flags.Has(audit.FlagNoSourceTime) {
		t.Fatalf("%+v %v: want no time and FlagNoSourceTime", e, err)
	}
}

func TestStampTime_PlacesTheYearNearestToNow(t *testing.T) {
	stamp := func(s string) time.Time {
		t0, err := time.Parse(time.Stamp, s)
		if err != nil {
			t.Fatal(err)
		}
		return t0
	}
	for _, tc := range []struct {
		stamp string
		now   time.Time
		want  time.Time
	}{
		{"Apr  1 09:15:02", parseNow, time.Date(2026, 4, 1, 9, 15, 2, 0, tokyo)},
		// Sent just before midnight on 31 December, received on 1 January.
		{"Dec 31 23:59:59", time.Date(2027, 1, 1, 0, 0, 5, 0, tokyo), time.Date(2026, 12, 31, 23, 59, 59, 0, tokyo)},
		// A sender's clock a little ahead across the new year.
		{"Jan  1 00:00:01", time.Date(2026, 12, 31, 23, 59, 58, 0, tokyo), time.Date(2027, 1, 1, 0, 0, 1, 0, tokyo)},
		// 1 January in Tokyo while it is still 31 December in UTC.
		{"Jan  1 08:00:00", time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), time.Date(2027, 1, 1, 8, 0, 0, 0, tokyo)},
		{"Feb 29 12:00:00", time.Date(2028, 3, 1, 0, 0, 0, 0, tokyo), time.Date(2028, 2, 29, 12, 0, 0, 0, tokyo)},
	} {
		got := stampTime(stamp(tc.stamp), tc.now, tokyo)
		if !got.Equal(tc.want) {
			t.Errorf("%s at %v: %v, want %v", tc.stamp, tc.now, got, tc.want)
		}
	}
	if got := stampTime(stamp("Feb 29 12:00:00"), time.Date(2030, 3, 1, 0, 0, 0, 0, tokyo), tokyo); !got.IsZero() {
		t.Errorf("29 February in 2029–2031: %v, want none", got)
	}
}

// FuzzSyslogMessage parses any message with the default mapping and the
// EHR example's: an error says it is not syslog or cannot be mapped, and a
// parsed event keeps the message as its original and is either stored by
// Normalize or refused with ErrInvalid.
func FuzzSyslogMessage(f *testing.F) {
	for _, s := range []string{
		`<134>1 2026-04-01T09:15:02.123+09:00 ehr01 ehr 2481 ACCESS [access@32473 user="D0123" action="REF"] 参照`,
		`<134>1 - - - - - [a@1 x="\]\"\\"][b@2] {"actor":{"id":"u1"},"action":"view"}`,
		`<86>Apr  1 09:15:02 ehr01 ehr[2481]: user=D0123 action=参照 patient=0001234567`,
		`<86>Feb 29 09:15:02 user=x action=view`, `<0>1 - - - - -`, `<191>Dec 31 23:59:59 - -:`, "<13>\xff\xfe",
		`<134>1 2026-04-01T09:15:02+09:00 h a p m - <?xml version="1.0"?><AuditMessage><EventIdentification EventActionCode="R"/></AuditMessage>`,
	} {
		f.Add([]byte(s))
	}
	ehr, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		f.Fatal(err)
	}
	parsers := []*msgParser{newMsgParser(DefaultMapping(), 1, func() time.Time { return parseNow }),
		newMsgParser(ehr, 1, func() time.Time { return parseNow })}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, p := range parsers {
			orig := bytes.Clone(msg)
			e, err := p.parse(orig)
			if err != nil {
				if !errors.Is(err, errNotSyslog) && !errors.Is(err, ErrMapping) {
					t.Fatalf("%q: an error of no known kind: %v", msg, err)
				}
				continue
			}
			if !bytes.Equal(e.Original, msg) {
				t.Fatalf("%q: original %q", msg, e.Original)
			}
			if e.Time.IsZero() {
				e.Time = parseNow
			}
			e.Received = parseNow
			if err := e.Normalize(); err != nil && !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("%q: %v", msg, err)
			}
		}
	})
}
