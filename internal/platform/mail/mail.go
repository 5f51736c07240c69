// Package mail sends anzen's mail through the hospital's SMTP server: the
// audit log's checkpoints to outside witnesses now, alerts and incident
// reports later. It is a thin layer over github.com/wneessen/go-mail that
// takes anzen's mail.* settings, refuses to send a password in the clear,
// and keeps the password out of every log and error.
//
// What a mail says is the sending part's business (its catalogs, in
// Japanese first, then English); this package only delivers it.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/anzen-health/anzen/internal/platform/config"
)

// Attachment is a file attached to a message.
type Attachment struct {
	Name        string // file name shown to the reader
	ContentType string // such as "text/plain; charset=utf-8"
	Data        []byte
}

// Message is one mail to send.
type Message struct {
	To          []string
	Subject     string
	Text        string // the plain-text body (UTF-8)
	Attachments []Attachment
}

// Mailer sends messages through one SMTP server.
type Mailer struct {
	cfg      config.MailConfig
	password string
	roots    *x509.CertPool
}

// ErrNotConfigured is returned by Send when no SMTP server is set.
var ErrNotConfigured = errors.New("anzen has no SMTP server to send mail through (mail.smtp.host)")

// New returns a mailer for cfg. The password is read from
// cfg.PasswordFile, or from getenv("ANZEN_SMTP_PASSWORD") when there is no
// file; the CA certificates from cfg.CAFile. A mailer without a host
// sends nothing (Enabled reports false).
func New(cfg config.MailConfig, getenv func(string) string) (*Mailer, error) {
	m := &Mailer{cfg: cfg}
	if cfg.Host == "" {
		return m, nil
	}
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mail.smtp.password_file: %w", err)
		}
		m.password = strings.TrimRight(string(b), "\r\n")
	} else if getenv != nil {
		m.password = getenv("ANZEN_SMTP_PASSWORD")
	}
	if m.password != "" && cfg.User == "" {
		return nil, errors.New("mail.smtp.user: set the login that goes with the SMTP password")
	}
	if m.password != "" && cfg.TLS == "none" {
		return nil, errors.New("mail.smtp.tls: the SMTP password would travel in the clear; use starttls or tls")
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail.smtp.ca_file: %w", err)
		}
		m.roots = x509.NewCertPool()
		if !m.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail.smtp.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return m, nil
}

// Enabled reports whether the mailer has an SMTP server to send through.
func (m *Mailer) Enabled() bool { return m != nil && m.cfg.Host != "" }

// Server names the SMTP server, for operators' logs.
func (m *Mailer) Server() string { return fmt.Sprintf("%s:%d (%s)", m.cfg.Host, m.cfg.Port, m.cfg.TLS) }

// Send delivers msg to every recipient in one SMTP transaction. The error
// says what failed without the password.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	if !m.Enabled() {
		return ErrNotConfigured
	}
	if len(msg.To) == 0 {
		return errors.New("a mail needs at least one recipient")
	}
	gm, err := m.build(msg)
	if err != nil {
		return err
	}
	c, err := m.client()
	if err != nil {
		return err
	}
	if err := c.DialAndSendWithContext(ctx, gm); err != nil {
		return fmt.Errorf("send mail through %s: %s", m.Server(), m.redact(err.Error()))
	}
	return nil
}

// build turns msg into a MIME message: UTF-8 text in quoted-printable,
// attachments in base64.
func (m *Mailer) build(msg Message) (*gomail.Msg, error) {
	gm := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := gm.From(m.cfg.From); err != nil {
		return nil, fmt.Errorf("mail.from: %w", err)
	}
	if err := gm.To(msg.To...); err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	gm.Subject(msg.Subject)
	gm.SetDate()
	gm.SetMessageID()
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	for _, a := range msg.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := gm.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(ct)),
			gomail.WithFileEncoding(gomail.EncodingB64)); err != nil {
			return nil, fmt.Errorf("attach %s: %w", a.Name, err)
		}
	}
	return gm, nil
}

// client returns a go-mail client for the settings.
func (m *Mailer) client() (*gomail.Client, error) {
	timeout := m.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: m.cfg.Host, RootCAs: m.roots, MinVersion: tls.VersionTLS12})}
	switch m.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(m.cfg.User),
			gomail.WithPassword(m.password))
	}
	c, err := gomail.NewClient(m.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail settings: %s", m.redact(err.Error()))
	}
	return c, nil
}

// redact removes the password from text.
func (m *Mailer) redact(text string) string {
	if m.password == "" {
		return text
	}
	return strings.ReplaceAll(text, m.password, "xxxxx")
}
