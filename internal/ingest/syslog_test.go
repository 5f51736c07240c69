package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var parts = []db.Migrations{audit.Migrations()}

// newTestLog returns a log on d whose clock reads parseNow.
func newTestLog(d *db.DB) *audit.Log {
	return audit.New(d, clock.NewFrozen(parseNow), audit.WithClockTolerance(24*time.Hour))
}

// startSyslog starts listeners on loopback ports (those cfg asks for with
// "on") writing to sink, and stops them when the test ends.
func startSyslog(t *testing.T, sink Sink, cfg SyslogConfig) *Syslog {
	t.Helper()
	for _, a := range []*string{&cfg.UDP, &cfg.TCP, &cfg.TLS} {
		if *a == "on" {
			*a = "127.0.0.1:0"
		}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return parseNow }
	}
	if testing.Verbose() {
		cfg.Log = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewSyslog(sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// stats returns the counters of listener name.
func stats(s *Syslog, name string) SyslogStats {
	for _, st := range s.Stats() {
		if st.Listener == name {
			return st
		}
	}
	return SyslogStats{}
}

// waitFor waits until ok or fails the test after a while.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCounted waits until listener name has received n messages and
// accepted or rejected each, and checks how many were accepted.
func waitCounted(t *testing.T, s *Syslog, name string, n, accepted int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages on %s", n, name), func() bool {
		st := stats(s, name)
		return st.Received >= n && st.Accepted+st.Rejected >= st.Received
	})
	if st := stats(s, name); st.Received != n || st.Accepted != accepted || st.Rejected != n-accepted {
		t.Fatalf("%s counters %+v, want %d received, %d accepted", name, st, n, accepted)
	}
}

// stored returns every event of the log.
func stored(t *testing.T, l *audit.Log) []audit.Event {
	t.Helper()
	events, err := l.ReadAfter(context.Background(), -1, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// octets frames messages with octet counting.
func octets(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	return b.String()
}

// lines frames messages with LF.
func lines(msgs ...string) string { return strings.Join(msgs, "\n") + "\n" }

// sendTCP writes data on a new connection and closes it.
func sendTCP(t *testing.T, addr net.Addr, data string) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
}

// ehrMessage is the i-th message of an EHR, RFC 5424 with structured data.
func ehrMessage(i int) string {
	return fmt.Sprintf(`<134>1 2026-04-01T09:15:%02d.%03d+09:00 ehr01.hospital.local ehr 2481 ACCESS `+
		`[access@32473 user="D%04d" name="山田 花子" dept="内科" terminal="NAIKA-WS%03d" ip="10.1.2.%d" `+
		`action="REF" patient="%010d" object="K-%06d" result="0"] カルテ参照`,
		i%60, i%1000, i%300, i%120, i%250+1, (i*7919)%50000, i)
}

func TestSyslog_UDP(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{UDP: "on", Facility: 3})
		c, err := net.Dial("udp", s.Addr("udp").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msgs := []string{ehrMessage(1), "<86>Apr  1 09:15:02 ehr01 ehr[2481]: user=D0123 action=参照 patient=0001234567\n",
			`<134>1 2026-04-01T09:15:03+09:00 h pacs - - - {"actor":{"id":"R0042"},"action":"view","patient":{"id":"0001234567"}}`}
		for _, m := range msgs {
			if _, err := c.Write([]byte(m)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond) // UDP keeps no order between datagrams in flight
		}
		waitCounted(t, s, "udp", 3, 3)
		events := stored(t, l)
		if len(events) != 3 {
			t.Fatalf("%d events stored", len(events))
		}
		for i, e := range events {
			if string(e.Original) != strings.TrimSuffix(msgs[i], "\n") || e.Facility != 3 { // the trailer is not kept
				t.Errorf("event %d: original %q facility %d", i, e.Original, e.Facility)
			}
		}
		if e := events[0]; e.Actor.ID != "D0001" || e.Patient.ID != "0000007919" || e.Source != "ehr" ||
			e.Format != audit.FormatSyslog5424 {
			t.Errorf("5424 event %+v", e)
		}
		if e := events[1]; e.Action != "view" || e.Format != audit.FormatSyslog3164 ||
			!e.Time.Equal(time.Date(2026, 4, 1, 0, 15, 2, 0, time.UTC)) {
			t.Errorf("3164 event %+v", e)
		}
		if e := events[2]; e.Source != "pacs" || e.Actor.ID != "R0042" {
			t.Errorf("JSON event %+v", e)
		}
	})
}

func TestSyslog_TCPOctetCounting(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on", Framing: FramingOctetCounting})
		var msgs []string
		for i := range 300 {
			msgs = append(msgs, ehrMessage(i))
		}
		// A message may hold newlines with octet counting.
		msgs[7] = "<134>1 2026-04-01T09:15:02+09:00 h ehr - - - user=u7 action=view note=\"two\nlines\""
		sendTCP(t, s.Addr("tcp"), octets(msgs...))
		waitCounted(t, s, "tcp", 300, 300)
		events := stored(t, l)
		for i, e := range events {
			if string(e.Original) != msgs[i] {
				t.Fatalf("event %d is %q, want %q", i, e.Original, msgs[i])
			}
		}
		if events[7].Actor.ID != "u7" {
			t.Errorf("the message with a newline: %+v", events[7])
		}
	})
}

func TestSyslog_TCPNewlineFraming(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		for _, framing := range []Framing{FramingAuto, FramingNonTransparent} {
			l := newTestLog(d)
			before := len(stored(t, l))
			s := startSyslog(t, l, SyslogConfig{TCP: "on", Framing: framing})
			msgs := []string{ehrMessage(1), ehrMessage(2) + "\r", "<86>Apr  1 09:15:02 ehr01 ehr: user=u3 action=view"}
			sendTCP(t, s.Addr("tcp"), lines(msgs...)+"\n"+ehrMessage(4)+"\x00")
			waitCounted(t, s, "tcp", 4, 4)
			events := stored(t, l)[before:]
			if string(events[1].Original) != ehrMessage(2) || string(events[3].Original) != ehrMessage(4) {
				t.Errorf("%s: originals %q and %q: want the messages without CR and trailer", framing,
					events[1].Original, events[3].Original)
			}
		}
	})
}

func TestSyslog_DetectsFramingPerConnection(t *testing.T) {
	l := newTestLog(dbtest.SQLite(t, parts...))
	s := startSyslog(t, l, SyslogConfig{TCP: "on"})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			c, err := net.Dial("tcp", s.Addr("tcp").String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for j := range 50 {
				m := ehrMessage(i*1000 + j)
				if i%2 == 0 {
					_, err = io.WriteString(c, octets(m))
				} else {
					_, err = io.WriteString(c, lines(m))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitCounted(t, s, "tcp", 300, 300)
}

func TestSyslog_Payloads(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on"})
		sendTCP(t, s.Addr("tcp"), octets(
			`<134>1 2026-04-01T09:15:02+09:00 ehr01 ehr - - - {"time":"2026-04-01T09:15:00+09:00","source":"ehr-main",`+
				`"actor":{"id":"u0123","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-012",`+
				`"address":"10.1.2.3"},"action":"view","patient":{"id":"P0001234"},"object":{"type":"record","id":"R42"},`+
				`"outcome":"success","purpose":"treatment","session":"s-99","ward":"3東"}`,
			`<134>1 2026-04-01T09:15:02+09:00 ehr01 ehr - - - 利用者ID=D0123 name="鈴木 一郎" 操作=印刷 患者ID=0001234567 結果=成功`))
		waitCounted(t, s, "tcp", 2, 2)
		events := stored(t, l)
		want := audit.Actor{ID: "u0123", Name: "山田 花子", Profession: "nurse", Department: "内科", Terminal: "WS-012",
			Address: "10.1.2.3"}
		if e := events[0]; e.Actor != want || e.Source != "ehr-main" || e.Session != "s-99" || e.Purpose != "treatment" ||
			!e.Time.Equal(time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC)) || e.Object.ID != "R42" {
			t.Errorf("JSON payload: %+v", e)
		}
		if e := events[1]; e.Actor.ID != "D0123" || e.Action != "print" || e.Patient.ID != "0001234567" ||
			e.Outcome != audit.OutcomeSuccess {
			t.Errorf("key=value payload: %+v", e)
		}
	})
}

func TestSyslog_StructuredDataWithAMappingFile(t *testing.T) {
	m, err := ParseMapping("atna-lite.toml", []byte(`
[fields]
actor.id = "who@32473.usr"
actor.profession = "who@32473.role"
action = "syslog.msgid"
patient.id = ["what@32473.pt", "patient"]
outcome = "what@32473.rc"
[constants]
source = "pacs"
[values.action]
IMG_VIEW = "view"
IMG_EXPORT = "export"
[values.outcome]
"0" = "success"
"*" = "failure"
[values.actor.profession]
RT = "radiologist"
`))
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on", Mapping: m})
		sendTCP(t, s.Addr("tcp"), octets(
			`<134>1 2026-04-01T09:15:02+09:00 pacs01 viewer 77 IMG_VIEW [who@32473 usr="R0042" role="RT"][what@32473 pt="0001234567" rc="0"] -`,
			`<134>1 2026-04-01T09:15:09+09:00 pacs01 viewer 77 IMG_EXPORT [who@32473 usr="R0042" role="RT"][what@32473 pt="0001234567" rc="4"]`))
		waitCounted(t, s, "tcp", 2, 2)
		events := stored(t, l)
		if e := events[0]; e.Source != "pacs" || e.Actor.ID != "R0042" || e.Actor.Profession != "radiologist" ||
			e.Action != "view" || e.Patient.ID != "0001234567" || e.Outcome != audit.OutcomeSuccess {
			t.Errorf("first: %+v", e)
		}
		if e := events[1]; e.Action != "export" || e.Outcome != audit.OutcomeFailure {
			t.Errorf("second: %+v", e)
		}
	})
}

func TestSyslog_RFC3164InTheMappingsZone(t *testing.T) {
	m, err := ParseMapping("utc.toml", []byte("time_zone = \"UTC\"\n"+
		"[fields]\nactor.id = \"user\"\naction = \"action\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLog(dbtest.SQLite(t, parts...))
	s := startSyslog(t, l, SyslogConfig{TCP: "on", Mapping: m})
	sendTCP(t, s.Addr("tcp"), lines("<38>Apr  1 00:15:02 gw sshd[99]: user=root action=login"))
	waitCounted(t, s, "tcp", 1, 1)
	if e := stored(t, l)[0]; !e.Time.Equal(time.Date(2026, 4, 1, 0, 15, 2, 0, time.UTC)) || e.Source != "sshd" ||
		e.Format != audit.FormatSyslog3164 {
		t.Errorf("event %+v", e)
	}
}
