package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// The syslog listeners receive access logs as systems send them over the
// network: RFC 5424 and RFC 3164 messages over UDP (RFC 5426), TCP with
// octet-counting or non-transparent framing (RFC 6587) and TLS (RFC 5425,
// with optional or required client certificates, as IHE ATNA asks). Each
// message is mapped to an event (syslog_parse.go, mapping.go) and checked
// by itself, so that a bad one is counted and logged and the others go on;
// the good ones are appended in batches of a few milliseconds.
//
// syslog does not acknowledge what a sender wrote, so durability here
// means two things: a listener reads no more than MaxPending bytes of
// messages ahead of what the log has committed (beyond that a TCP sender
// is slowed by TCP itself, and its own queue holds the rest; UDP datagrams
// beyond it are dropped by the kernel, as UDP syslog always risks), and
// at shutdown everything read is committed before Stop returns.

// SyslogConfig configures the syslog listeners.
type SyslogConfig struct {
	// UDP, TCP and TLS are the addresses to listen on; empty leaves that
	// listener off.
	UDP, TCP, TLS string
	// TLSConfig is the server's certificate and client policy, required
	// with TLS.
	TLSConfig *tls.Config
	// Framing is the framing of TCP and TLS streams; FramingAuto decides
	// per connection.
	Framing Framing
	// Mapping maps messages to events; nil is DefaultMapping.
	Mapping *Mapping
	// Facility is the facility (施設) the events belong to.
	Facility int64
	// MaxMessage is the longest message accepted, in bytes; 0 is
	// audit.MaxOriginal. It may not be more.
	MaxMessage int
	// Log is anzen's own logger; nil is slog.Default.
	Log *slog.Logger
	// Now is the time RFC 3164 timestamps are placed near; nil is
	// time.Now.
	Now func() time.Time
	// Linger is how long a batch waits for more messages before it is
	// appended; 0 is DefaultLinger.
	Linger time.Duration
	// MaxPending is how many bytes of messages may be read and not yet
	// committed; 0 is DefaultMaxPending.
	MaxPending int
}

// Defaults of SyslogConfig.
const (
	DefaultLinger     = 3 * time.Millisecond
	DefaultMaxPending = 32 << 20
	// MinMessage is the least a listener must accept: DICOM audit
	// messages may be 32 KiB (DICOM PS3.15 A.6).
	MinMessage = 32 << 10
)

// Limits of the listeners.
const (
	maxConns         = 1024
	handshakeTimeout = 10 * time.Second
	syslogChunk      = 256     // events a connection hands over at once, at most
	batchEvents      = 4096    // events of one append, at most
	batchBytes       = 8 << 20 // bytes of originals of one append, at most
	eventOverhead    = 512     // bytes an event takes beside its original, roughly
	committers       = 2       // appends in flight at once
)

// Syslog is a set of syslog listeners writing to one Sink. Start them,
// then Stop them; Stop returns once every goroutine has ended.
type Syslog struct {
	sink   Sink
	cfg    SyslogConfig
	log    *slog.Logger
	max    int
	budget *budget

	listeners []*listener

	in      chan chunk // from connections to the batcher
	commits chan batch // from the batcher to the committers
	// commitCtx ends when Stop gives up on what is not yet committed.
	commitCtx    context.Context
	cancelCommit context.CancelFunc

	producers sync.WaitGroup // accept loops, connections, the UDP reader
	consumers sync.WaitGroup // the batcher and the committers

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	stopped bool
}

// listener is one socket and its counters.
type listener struct {
	name string // udp, tcp or tls
	addr net.Addr
	ln   net.Listener   // tcp, tls
	pc   net.PacketConn // udp

	received, accepted, rejected, lost, conns atomic.Int64
}

// SyslogStats are the counters of one listener since it started.
type SyslogStats struct {
	Listener string // udp, tcp or tls
	Address  string
	// Received counts messages read, good or bad; Accepted those
	// committed to the log; Rejected those that were not syslog, could
	// not be mapped, or were refused by the log (each logged at debug
	// level with the reason); Lost those read but not committed because
	// the log could not be written to before shutdown ended.
	Received, Accepted, Rejected, Lost int64
	// Connections is the number of open connections (TCP and TLS).
	Connections int64
}

// NewSyslog returns listeners as cfg says, not yet started.
func NewSyslog(sink Sink, cfg SyslogConfig) (*Syslog, error) {
	if cfg.Mapping == nil {
		cfg.Mapping = DefaultMapping()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	max := cfg.MaxMessage
	if max == 0 {
		max = audit.MaxOriginal
	}
	switch {
	case max < MinMessage || max > audit.MaxOriginal:
		return nil, fmt.Errorf("the message limit must be from %d to %d bytes, got %d", MinMessage, audit.MaxOriginal, max)
	case cfg.TLS != "" && cfg.TLSConfig == nil:
		return nil, errors.New("a TLS listener needs a certificate")
	case cfg.UDP == "" && cfg.TCP == "" && cfg.TLS == "":
		return nil, errors.New("no syslog listener is configured")
	}
	s := &Syslog{sink: sink, cfg: cfg, log: cfg.Log, max: max, budget: newBudget(cfg.MaxPending),
		in: make(chan chunk, 64), commits: make(chan batch), conns: map[net.Conn]struct{}{}}
	s.commitCtx, s.cancelCommit = context.WithCancel(context.Background())
	return s, nil
}

// Start opens the sockets and starts receiving. When a socket cannot be
// opened, none stays open.
func (s *Syslog) Start() error {
	open := func(name, addr string) error {
		if addr == "" {
			return nil
		}
		l := &listener{name: name}
		var err error
		if name == "udp" {
			l.pc, err = net.ListenPacket("udp", addr)
			if err == nil {
				l.addr = l.pc.LocalAddr()
				if uc, ok := l.pc.(*net.UDPConn); ok {
					_ = uc.SetReadBuffer(4 << 20) // fewer drops in bursts
				}
			}
		} else {
			l.ln, err = net.Listen("tcp", addr)
			if err == nil {
				l.addr = l.ln.Addr()
			}
		}
		if err != nil {
			return fmt.Errorf("syslog %s: listen on %s: %w", name, addr, err)
		}
		s.listeners = append(s.listeners, l)
		return nil
	}
	for _, a := range [...]struct{ name, addr string }{{"udp", s.cfg.UDP}, {"tcp", s.cfg.TCP}, {"tls", s.cfg.TLS}} {
		if err := open(a.name, a.addr); err != nil {
			for _, l := range s.listeners {
				l.close()
			}
			s.listeners = nil
			return err
		}
	}
	s.consumers.Add(1 + committers)
	go s.batch()
	for range committers {
		go s.commit()
	}
	for _, l := range s.listeners {
		s.producers.Add(1)
		if l.pc != nil {
			go s.readUDP(l)
		} else {
			go s.accept(l)
		}
	}
	return nil
}

func (l *listener) close() {
	if l.pc != nil {
		l.pc.Close()
	}
	if l.ln != nil {
		l.ln.Close()
	}
}

// Addr returns the address the listener name (udp, tcp or tls) is bound
// to, or nil when it is off.
func (s *Syslog) Addr(name string) net.Addr {
	for _, l := range s.listeners {
		if l.name == name {
			return l.addr
		}
	}
	return nil
}

// Stats returns the counters of every listener.
func (s *Syslog) Stats() []SyslogStats {
	out := make([]SyslogStats, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = SyslogStats{Listener: l.name, Address: l.addr.String(), Received: l.received.Load(),
			Accepted: l.accepted.Load(), Rejected: l.rejected.Load(), Lost: l.lost.Load(), Connections: l.conns.Load()}
	}
	return out
}

// Stop closes the sockets and the connections, commits every message
// already read, and returns when all is done. When ctx ends first, what is
// not yet committed is given up (counted as lost and logged), and Stop
// returns ctx's error.
func (s *Syslog) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	for _, l := range s.listeners {
		l.close()
	}
	// Reads end now; what is buffered is still handed over.
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.budget.stop()

	done := make(chan struct{})
	go func() {
		s.producers.Wait()
		close(s.in)
		s.consumers.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancelCommit()
		return nil
	case <-ctx.Done():
		s.cancelCommit()
		<-done
		return ctx.Err()
	}
}

// accept serves the connections of a TCP or TLS listener.
func (s *Syslog) accept(l *listener) {
	defer s.producers.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("syslog: accept", "listener", l.name, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.stopped || len(s.conns) >= maxConns {
			full := !s.stopped
			s.mu.Unlock()
			if full {
				s.log.Warn("syslog: too many connections; refused one", "listener", l.name,
					"remote", c.RemoteAddr().String(), "limit", maxConns)
			}
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.producers.Add(1)
		s.mu.Unlock()
		go s.serveConn(l, c)
	}
}

// serveConn reads messages from one connection until it ends.
func (s *Syslog) serveConn(l *listener, c net.Conn) {
	defer s.producers.Done()
	l.conns.Add(1)
	remote := c.RemoteAddr().String()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		l.conns.Add(-1)
	}()
	rd := net.Conn(c)
	if l.name == "tls" {
		tc := tls.Server(c, s.cfg.TLSConfig)
		_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			s.log.Debug("syslog: TLS handshake failed", "remote", remote, "err", err)
			return
		}
		_ = c.SetDeadline(time.Time{})
		s.mu.Lock()
		if s.stopped { // Stop set the deadline before the handshake cleared it
			_ = c.SetReadDeadline(time.Now())
		}
		s.mu.Unlock()
		rd = tc
	}
	fr := newFrameReader(rd, s.cfg.Framing, s.max)
	p := newMsgParser(s.cfg.Mapping, s.cfg.Facility, s.cfg.Now)
	ch := chunk{l: l}
	defer s.send(&ch)
	for {
		frame, err := fr.next(false)
		if err == errWouldBlock {
			s.send(&ch) // nothing more is buffered: hand over before waiting
			frame, err = fr.next(true)
		}
		switch {
		case err == nil:
			s.handle(l, p, frame, &ch, remote)
			if len(ch.events) >= syslogChunk {
				s.send(&ch)
			}
		case errors.Is(err, errTooLong), errors.Is(err, errPartial):
			s.reject(l, remote, err)
		default:
			if errors.Is(err, errFraming) {
				s.reject(l, remote, fmt.Errorf("%w; closing the connection", err))
			} else if !isClosed(err) {
				s.log.Debug("syslog: connection ended", "listener", l.name, "remote", remote, "err", err)
			}
			return
		}
	}
}

// isClosed reports whether err is the normal end of a connection: the
// sender closed it, or Stop ended the reads.
func isClosed(err error) bool {
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || (errors.As(err, &ne) && ne.Timeout())
}

// readUDP reads datagrams, one message each.
func (s *Syslog) readUDP(l *listener) {
	defer s.producers.Done()
	p := newMsgParser(s.cfg.Mapping, s.cfg.Facility, s.cfg.Now)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := l.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Error("syslog: read", "listener", l.name, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		remote := from.String()
		frame := bytes.TrimRight(buf[:n], "\r\n\x00")
		switch {
		case len(frame) == 0:
			continue
		case n > s.max:
			s.reject(l, remote, errTooLong)
			continue
		}
		ch := chunk{l: l}
		s.handle(l, p, frame, &ch, remote)
		s.send(&ch)
	}
}

// handle maps one message and adds it to ch, or counts it rejected.
func (s *Syslog) handle(l *listener, p *msgParser, frame []byte, ch *chunk, remote string) {
	orig := bytes.Clone(frame)
	e, err := p.parse(orig)
	if err == nil {
		err = s.sink.Prepare(&e)
	}
	if err != nil {
		s.reject(l, remote, err)
		return
	}
	l.received.Add(1)
	n := len(orig) + eventOverhead
	if !s.budget.tryAcquire(n) {
		s.send(ch) // what this connection holds must go first, or the wait might never end
		s.budget.acquire(n)
	}
	ch.events = append(ch.events, e)
	ch.bytes += n
}

// reject counts a bad message and logs why, at debug level (a sender that
// sends only bad messages shows in the counters).
func (s *Syslog) reject(l *listener, remote string, err error) {
	l.received.Add(1)
	l.rejected.Add(1)
	s.log.Debug("syslog: message rejected", "listener", l.name, "remote", remote, "reason", err.Error())
}

// send hands the events of ch to the batcher.
func (s *Syslog) send(ch *chunk) {
	if len(ch.events) == 0 {
		return
	}
	s.in <- *ch
	*ch = chunk{l: ch.l}
}
