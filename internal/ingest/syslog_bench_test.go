package ingest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// BenchmarkSyslogTCP is syslog ingestion end to end: a real TCP listener,
// four connections each sending octet-counted RFC 5424 messages of an EHR
// (about 330 bytes, structured data), every one mapped, prepared and
// durably appended. It reports events/s.
//
//	go test -run XXX -bench SyslogTCP -benchtime 200000x ./internal/ingest/
func BenchmarkSyslogTCP(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSyslogTCP(b, dbtest.SQLite(b, parts...)) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("ANZEN_TEST_POSTGRES") == "" {
			b.Skip("ANZEN_TEST_POSTGRES is not set")
		}
		benchSyslogTCP(b, dbtest.Postgres(b, parts...))
	})
}

func benchSyslogTCP(b *testing.B, d *db.DB) {
	l := audit.New(d, clock.Real{}, audit.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	s, err := NewSyslog(l, SyslogConfig{TCP: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	const conns = 4
	// Each connection's stream, framed beforehand: the benchmark measures
	// anzen, not the senders.
	per := (b.N + conns - 1) / conns
	streams := make([][]byte, conns)
	var bytes int
	for c := range conns {
		var buf []byte
		for i := c * per; i < min((c+1)*per, b.N); i++ {
			buf = append(buf, octets(ehrMessage(i))...)
		}
		streams[c] = buf
		bytes += len(buf)
	}
	b.SetBytes(int64(bytes / max(b.N, 1)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", s.Addr("tcp").String())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			if _, err := conn.Write(streams[c]); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	for {
		st := stats(s, "tcp")
		if st.Accepted+st.Rejected >= int64(b.N) {
			if st.Rejected > 0 {
				b.Fatalf("%d messages rejected", st.Rejected)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSyslogParse is the work of one message without sockets and
// database: framing aside, parse, map and prepare.
func BenchmarkSyslogParse(b *testing.B) {
	l := audit.New(nil, clock.NewFrozen(parseNow))
	p := newMsgParser(DefaultMapping(), 1, func() time.Time { return parseNow })
	msg := []byte(ehrMessage(42))
	b.ReportAllocs()
	for b.Loop() {
		e, err := p.parse(msg)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Prepare(&e); err != nil {
			b.Fatal(err)
		}
	}
}
