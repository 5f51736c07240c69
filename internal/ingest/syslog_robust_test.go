package ingest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// atnaMapping maps DICOM audit messages (PS3.15 A.5) by the attributes of
// their XML, which the key=value reader finds.
const atnaMapping = `
[fields]
time = "EventDateTime"
actor.id = "UserID"
action = "EventActionCode"
patient.id = "ParticipantObjectID"
outcome = "EventOutcomeIndicator"
[constants]
source = "pacs"
[values.action]
C = "create"
R = "view"
U = "update"
D = "delete"
E = "execute"
[values.outcome]
"0" = "success"
"*" = "failure"
`

// dicomMessage is an RFC 5424 message with a DICOM audit message of about
// size bytes: a study's instances listed one by one, as a PACS reports an
// export.
func dicomMessage(size int) string {
	var b strings.Builder
	b.WriteString(`<85>1 2026-04-01T09:20:00.000+09:00 pacs01.hospital.local PACS 512 ATNA - ` +
		`<?xml version="1.0" encoding="UTF-8"?><AuditMessage>` +
		`<EventIdentification EventActionCode="R" EventDateTime="2026-04-01T09:20:00+09:00" EventOutcomeIndicator="0">` +
		`<EventID csd-code="110103" codeSystemName="DCM" originalText="DICOM Instances Accessed"/></EventIdentification>` +
		`<ActiveParticipant UserID="R0042" UserName="放射線 太郎" UserIsRequestor="true" NetworkAccessPointID="10.1.5.20"/>` +
		`<ParticipantObjectIdentification ParticipantObjectID="0001234567" ParticipantObjectTypeCode="1">` +
		`<ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/></ParticipantObjectIdentification>`)
	for i := 0; b.Len() < size-200; i++ {
		fmt.Fprintf(&b, `<ParticipantObjectIdentification ParticipantObjectID="1.2.392.200036.9116.2.6.1.48.%d" `+
			`ParticipantObjectTypeCode="2"/>`, 1000000+i)
	}
	b.WriteString(`</AuditMessage>`)
	return b.String()
}

func TestSyslog_DICOMAuditMessageOf32KiB(t *testing.T) {
	m, err := ParseMapping("atna.toml", []byte(atnaMapping))
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{UDP: "on", TCP: "on", Mapping: m})
		msg := dicomMessage(33 << 10)
		if len(msg) < 32<<10 {
			t.Fatalf("the message is %d bytes", len(msg))
		}
		tooLong := dicomMessage(audit.MaxOriginal + 1000)
		sendTCP(t, s.Addr("tcp"), octets(msg, tooLong, msg))
		waitCounted(t, s, "tcp", 3, 2)
		c, err := net.Dial("udp", s.Addr("udp").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		waitCounted(t, s, "udp", 1, 1)
		events := stored(t, l)
		if len(events) != 3 {
			t.Fatalf("%d events", len(events))
		}
		for _, e := range events {
			if string(e.Original) != msg || e.Actor.ID != "R0042" || e.Action != "view" || e.Patient.ID != "0001234567" ||
				e.Outcome != audit.OutcomeSuccess || e.Source != "pacs" || !e.Time.Equal(time.Date(2026, 4, 1, 0, 20, 0, 0, time.UTC)) {
				t.Errorf("event %d (%d bytes): %+v", e.Seq, len(e.Original), e)
			}
		}
	})
}

func TestSyslog_BadMessagesAmongGoodOnes(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on"})
		good := []string{ehrMessage(1), ehrMessage(2), ehrMessage(3)}
		sendTCP(t, s.Addr("tcp"), lines(good[0],
			"this is not syslog",
			good[1],
			"<134>1 2026-04-01T09:15:02+09:00 h ehr - - - user=u1",            // no action
			"<134>1 2026-04-01T09:15:02+09:00 h ehr - - - action=VIEW!!",      // not an action name
			"<134>1 2026-04-01T09:15:02+09:00 h ehr - - - action=view time=?", // a time of no layout
			good[2]))
		waitCounted(t, s, "tcp", 7, 3)
		events := stored(t, l)
		if len(events) != 3 {
			t.Fatalf("%d events", len(events))
		}
		for i, e := range events {
			if string(e.Original) != good[i] {
				t.Errorf("event %d: %q", i, e.Original)
			}
		}
	})
}

func TestSyslog_AClientSendingGarbage(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on"})
		addr := s.Addr("tcp").String()
		// Octet counting gone wrong: the server closes the connection.
		bad, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		if _, err := io.WriteString(bad, octets(ehrMessage(1))+"12x\xff\xfe\x00garbage"); err != nil {
			t.Fatal(err)
		}
		_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := bad.Read(make([]byte, 10)); err != io.EOF {
			t.Errorf("the server answered %d bytes, %v: want it to close the connection", n, err)
		}
		// Binary noise without framing: read as lines (NUL ends one too),
		// each rejected.
		sendTCP(t, s.Addr("tcp"), "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not a message\n\xff\xfe\n")
		sendTCP(t, s.Addr("tcp"), octets(ehrMessage(2)))
		waitFor(t, "the good messages", func() bool { return stats(s, "tcp").Accepted == 2 })
		waitCounted(t, s, "tcp", 2+4+1, 2)
		if n := len(stored(t, l)); n != 2 {
			t.Errorf("%d events stored, want 2", n)
		}
	})
}

func TestSyslog_AClientDisconnectingMidMessage(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		s := startSyslog(t, l, SyslogConfig{TCP: "on"})
		whole := octets(ehrMessage(1), ehrMessage(2), ehrMessage(3))
		sendTCP(t, s.Addr("tcp"), whole[:len(whole)-20])
		sendTCP(t, s.Addr("tcp"), lines(ehrMessage(4))+ehrMessage(5))
		waitCounted(t, s, "tcp", 5, 3)
		events := stored(t, l)
		if len(events) != 3 {
			t.Fatalf("%d events", len(events))
		}
		got := map[string]bool{}
		for _, e := range events {
			got[string(e.Original)] = true
		}
		for _, i := range []int{1, 2, 4} {
			if !got[ehrMessage(i)] {
				t.Errorf("message %d is missing", i)
			}
		}
	})
}

// slowSink appends after a delay, so that messages are read well before
// they are committed.
type slowSink struct {
	*audit.Log
	delay time.Duration
}

func (s slowSink) Append(ctx context.Context, events []audit.Event) (int64, error) {
	time.Sleep(s.delay)
	return s.Log.Append(ctx, events)
}

func TestSyslog_ShutdownCommitsWhatWasRead(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		cfg := SyslogConfig{TCP: "127.0.0.1:0", UDP: "127.0.0.1:0", Linger: time.Millisecond,
			Now: func() time.Time { return parseNow }}
		s, err := NewSyslog(slowSink{l, 300 * time.Millisecond}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		const n = 3000
		var msgs []string
		for i := range n {
			msgs = append(msgs, ehrMessage(i))
		}
		// A connection that stays open, as a sender's does.
		c, err := net.Dial("tcp", s.Addr("tcp").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, octets(msgs...)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every message read", func() bool { return stats(s, "tcp").Received == n })
		if st := stats(s, "tcp"); st.Accepted == n {
			t.Fatalf("everything was committed before the stop: %+v (the test proves nothing)", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		st := stats(s, "tcp")
		size, err := l.Size(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Accepted != n || st.Lost != 0 || size != n {
			t.Fatalf("after the stop: %+v, log size %d; want all %d committed", st, size, n)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("the connection is still open after the stop: %v", err)
		}
	})
}

// gateSink appends only once the gate opens.
type gateSink struct {
	*audit.Log
	gate chan struct{}
}

func (s gateSink) Append(ctx context.Context, events []audit.Event) (int64, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	return s.Log.Append(ctx, events)
}

func TestSyslog_ReadsNoFurtherAheadThanItsBudget(t *testing.T) {
	l := newTestLog(dbtest.SQLite(t, parts...))
	gate := make(chan struct{})
	const budget = 256 << 10
	s := startSyslog(t, gateSink{l, gate}, SyslogConfig{TCP: "on", MaxPending: budget})
	const n = 20000
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", s.Addr("tcp").String())
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		for i := range n {
			if _, err := io.WriteString(c, octets(ehrMessage(i))); err != nil {
				done <- err
				return
			}
			sent.Add(1)
		}
		done <- nil
	}()
	// Wait until reading stops.
	var last int64 = -1
	for {
		time.Sleep(300 * time.Millisecond)
		r := stats(s, "tcp").Received
		if r == last {
			break
		}
		last = r
	}
	msgSize := int64(len(ehrMessage(1)) + eventOverhead)
	if limit := int64(budget)/msgSize + 2; last > limit {
		t.Fatalf("read %d messages with nothing committed, more than the budget's %d", last, limit)
	}
	if sent.Load() == n {
		t.Fatalf("the sender was not slowed down")
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitCounted(t, s, "tcp", n, n)
}
