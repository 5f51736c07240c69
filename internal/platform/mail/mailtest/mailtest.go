// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// on a loopback port for tests of anything that sends mail: STARTTLS or
// TLS with a certificate of its own CA, a login, and the messages it
// received, so that a test reads what a recipient would get.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/tlstest"
)

// Received is one message the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte // the whole message as sent (headers and body)
}

// Server is a running SMTP server.
type Server struct {
	// Config is the mail configuration that reaches this server (with
	// the password in PasswordFile when the server wants a login).
	Config config.MailConfig

	mu       sync.Mutex
	received []Received
	failNext int
	arrived  chan struct{}
}

// Options choose how the server behaves.
type Options struct {
	TLS      string // "starttls" (default), "tls" or "none"
	User     string // when set, a login with Password is required
	Password string
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.TLS == "" {
		o.TLS = "starttls"
	}
	s := &Server{arrived: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s, user: o.User, password: o.Password}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.AllowInsecureAuth = o.TLS == "none"
	dir := t.TempDir()
	var ln net.Listener
	var err error
	if o.TLS == "none" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	} else {
		var cfg *tls.Config
		cfg, s.Config.CAFile = tlstest.Server(t, dir)
		srv.TLSConfig = cfg
		if o.TLS == "tls" {
			ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
		} else {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		}
	}
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	s.Config.Host, s.Config.Port, s.Config.TLS = "localhost", port, o.TLS
	s.Config.From, s.Config.Timeout = "anzen@hospital.example.jp", 10*time.Second
	if o.User != "" {
		s.Config.User = o.User
		s.Config.PasswordFile = filepath.Join(dir, "smtp-password")
		if err := os.WriteFile(s.Config.PasswordFile, []byte(o.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Config.Host, strconv.Itoa(s.Config.Port)) }

// FailNext makes the server refuse the next n messages with a temporary
// error (451), as a busy relay does.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Received returns the messages accepted so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Wait returns the messages once at least n have arrived, failing the test
// after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("mailtest: %d messages after %s, want %d", len(s.Received()), timeout, n)
		}
	}
}

type session struct {
	s              *Server
	user, password string
	authed         bool
	from           string
	to             []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.user || pass != ss.password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.failNext > 0 {
		ss.s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.s.received = append(ss.s.received, Received{From: ss.from, To: ss.to, Data: bytes.Clone(b)})
	select {
	case ss.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Parsed is a received message as its reader sees it.
type Parsed struct {
	Header      mail.Header
	Subject     string            // decoded
	Text        string            // the text/plain body, decoded, with LF line ends
	Attachments map[string][]byte // by file name, decoded
}

// Parse decodes the message: the subject's encoded words, the text part's
// transfer encoding, and each attachment.
func (r Received) Parse() (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: m.Header, Attachments: map[string][]byte{}}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return nil, err
	}
	err = walkPart(textproto.MIMEHeader(m.Header), m.Body, p)
	return p, err
}

func walkPart(h textproto.MIMEHeader, body io.Reader, p *Parsed) error {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walkPart(part.Header, part, p); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // it skips line breaks
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		p.Attachments[dp["filename"]] = b
		return nil
	}
	if mt == "text/plain" && p.Text == "" {
		p.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return nil
}
