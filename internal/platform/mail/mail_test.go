package mail_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
)

func message() mail.Message {
	return mail.Message{To: []string{"inspector@example.jp", "csirt@partner.example.jp"},
		Subject: "監査ログのチェックポイント / Audit log checkpoint",
		Text:    "監査ログの写しです。大切に保管してください。\n\nThis is a copy of the audit log's checkpoint.\n",
		Attachments: []mail.Attachment{{Name: "checkpoint-1000.txt", ContentType: "text/plain; charset=utf-8",
			Data: []byte("test.example.jp/log\n1000\nAAAA\n\n— test.example.jp/log abcd\n")}}}
}

func TestSend_DeliversThroughEveryTLSMode(t *testing.T) {
	for _, o := range []mailtest.Options{
		{TLS: "starttls", User: "anzen", Password: "s3cret-pw"},
		{TLS: "tls", User: "anzen", Password: "s3cret-pw"},
		{TLS: "none"},
	} {
		t.Run(o.TLS, func(t *testing.T) {
			srv := mailtest.Start(t, o)
			m, err := mail.New(srv.Config, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(context.Background(), message()); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := srv.Wait(t, 1, 5*time.Second)[0]
			if got.From != "anzen@hospital.example.jp" || strings.Join(got.To, ",") != "inspector@example.jp,csirt@partner.example.jp" {
				t.Fatalf("envelope %s → %v", got.From, got.To)
			}
			p, err := got.Parse()
			if err != nil {
				t.Fatal(err)
			}
			want := message()
			if p.Subject != want.Subject || p.Text != want.Text {
				t.Fatalf("subject %q, text %q", p.Subject, p.Text)
			}
			if a := p.Attachments["checkpoint-1000.txt"]; string(a) != string(want.Attachments[0].Data) {
				t.Fatalf("attachment %q (all: %v)", a, p.Attachments)
			}
		})
	}
}

func TestSend_RefusesAndReportsWithoutThePassword(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t, mailtest.Options{User: "anzen", Password: "right-password"})

	wrong := srv.Config
	if err := os.WriteFile(wrong.PasswordFile, []byte("wrong-password-42"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := mail.New(wrong, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(ctx, message())
	if err == nil || strings.Contains(err.Error(), "wrong-password-42") {
		t.Fatalf("wrong password: %v", err)
	}

	// A certificate from a CA anzen does not trust stops STARTTLS, and
	// anzen does not fall back to plain text.
	untrusted := srv.Config
	untrusted.CAFile = ""
	m, _ = mail.New(untrusted, func(string) string { return "" })
	if err := m.Send(ctx, message()); err == nil {
		t.Fatal("sent to a server whose certificate is not trusted")
	}
	plain := mailtest.Start(t, mailtest.Options{TLS: "none"})
	required := plain.Config
	required.TLS = "starttls"
	m, _ = mail.New(required, nil)
	if err := m.Send(ctx, message()); err == nil {
		t.Fatal("sent in plain text although STARTTLS is required")
	}
	if n := len(plain.Received()) + len(srv.Received()); n != 0 {
		t.Fatalf("%d messages arrived", n)
	}

	// A password in the clear is refused before anything is sent.
	clear := plain.Config
	clear.User = "anzen"
	if _, err := mail.New(clear, func(k string) string { return map[string]string{"ANZEN_SMTP_PASSWORD": "pw"}[k] }); err == nil {
		t.Fatal("accepted a password over a connection without TLS")
	}

	// No server, no mail.
	m, _ = mail.New(config.MailConfig{}, nil)
	if m.Enabled() || !errors.Is(m.Send(ctx, message()), mail.ErrNotConfigured) {
		t.Fatal("a mailer without a server sent or said nothing")
	}
}

func TestSend_ReportsATemporaryRefusal(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: "none"})
	srv.FailNext(1)
	m, _ := mail.New(srv.Config, nil)
	if err := m.Send(context.Background(), message()); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("first send: %v", err)
	}
	if err := m.Send(context.Background(), message()); err != nil {
		t.Fatalf("second send: %v", err)
	}
}
