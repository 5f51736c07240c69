package audit_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// witnessLog is a log with 100 events and a checkpoint, whose own logging
// goes to out.
func witnessLog(t *testing.T, d *db.DB, out io.Writer) (*audit.Log, *clock.Frozen) {
	t.Helper()
	clk := clock.NewFrozen(audittest.Start.Add(time.Hour))
	l := audit.New(d, clk, audit.WithCheckpoints(audittest.NewSigner(), 1<<40), audit.WithOrigin(testOrigin),
		audit.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	appendAll(t, l, audittest.Events(0, 100))
	if _, err := l.SignCheckpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l, clk
}

// hook is a webhook receiver that answers the first fail requests with
// 500.
type hook struct {
	mu     sync.Mutex
	fail   int
	bodies [][]byte
	heads  []http.Header
	urls   []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies, h.heads, h.urls = append(h.bodies, b), append(h.heads, r.Header.Clone()), append(h.urls, r.URL.String())
	if h.fail > 0 {
		h.fail--
		http.Error(w, "busy", http.StatusInternalServerError)
	}
}

func (h *hook) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func send(t *testing.T, l *audit.Log, now bool) {
	t.Helper()
	if err := l.SendWitnesses(context.Background(), now); err != nil {
		t.Fatal(err)
	}
}

func lastDelivery(t *testing.T, l *audit.Log) audit.WitnessDelivery {
	t.Helper()
	ds, err := l.WitnessDeliveries(context.Background(), 1)
	if err != nil || len(ds) == 0 {
		t.Fatalf("deliveries: %v, %v", ds, err)
	}
	return ds[0]
}

func TestWitnessWebhook_PostsTheNoteSignedAndRetries(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var logs bytes.Buffer
		l, clk := witnessLog(t, d, &logs)
		h := &hook{fail: 2}
		srv := httptest.NewServer(h)
		defer srv.Close()
		secret := []byte("witness-shared-secret-7f3a")
		l.SetWitnesses(audit.WitnessConfig{Webhooks: []string{srv.URL + "/checkpoints?token=tok-91c2"},
			WebhookSecret: secret, WebhookInterval: time.Hour})

		send(t, l, false)
		d1 := lastDelivery(t, l)
		if d1.Status != audit.WitnessPending || d1.Attempts != 1 || !strings.Contains(d1.LastError, "500") || d1.Size != 100 {
			t.Fatalf("after a 500: %+v", d1)
		}
		if d1.Target != "webhook:"+srv.URL+"/checkpoints?…" {
			t.Fatalf("target recorded as %q", d1.Target)
		}
		send(t, l, false) // the backoff has not passed
		if h.requests() != 1 {
			t.Fatalf("%d requests before the backoff passed", h.requests())
		}
		clk.Advance(time.Minute)
		send(t, l, false)
		clk.Advance(2 * time.Minute)
		send(t, l, false)
		if got := lastDelivery(t, l); got.Status != audit.WitnessSent || got.Attempts != 3 || got.LastError != "" || got.ID != d1.ID {
			t.Fatalf("after the third attempt: %+v", got)
		}

		cp, err := l.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		body, head, u := h.bodies[2], h.heads[2], h.urls[2]
		h.mu.Unlock()
		if string(body) != cp.Note {
			t.Fatalf("body %q, want the note %q", body, cp.Note)
		}
		if head.Get("Content-Type") != "text/plain; charset=utf-8" || head.Get(audit.HeaderOrigin) != testOrigin ||
			head.Get(audit.HeaderSize) != "100" || u != "/checkpoints?token=tok-91c2" {
			t.Fatalf("headers %v, URL %s", head, u)
		}
		sig := head.Get(audit.HeaderSignature)
		if err := audit.CheckWitnessSignature(secret, sig, body, clk.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature %q: %v", sig, err)
		}
		if audit.CheckWitnessSignature([]byte("other"), sig, body, clk.Now(), 5*time.Minute) == nil ||
			audit.CheckWitnessSignature(secret, sig, append(body, 'x'), clk.Now(), 5*time.Minute) == nil ||
			audit.CheckWitnessSignature(secret, sig, body, clk.Now().Add(time.Hour), 5*time.Minute) == nil {
			t.Fatal("a wrong secret, body or time passed")
		}

		// A larger checkpoint goes out once the interval has passed since
		// the last delivery, or at once when asked.
		appendAll(t, l, audittest.Events(100, 5))
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		send(t, l, false)
		if h.requests() != 3 {
			t.Fatalf("sent before the interval: %d requests", h.requests())
		}
		clk.Advance(time.Hour)
		send(t, l, false)
		if got := lastDelivery(t, l); got.Status != audit.WitnessSent || got.Size != 105 || h.requests() != 4 {
			t.Fatalf("after the interval: %+v, %d requests", got, h.requests())
		}
		send(t, l, true) // nothing newer to send
		if h.requests() != 4 {
			t.Fatalf("sent the same checkpoint again: %d requests", h.requests())
		}
		for _, s := range []string{string(secret), "tok-91c2"} {
			if strings.Contains(logs.String(), s) {
				t.Fatalf("the log shows %q:\n%s", s, logs.String())
			}
		}
		ds, _ := l.WitnessDeliveries(ctx, 10)
		for _, d := range ds {
			if strings.Contains(d.Target+d.LastError, "tok-91c2") {
				t.Fatalf("a delivery shows the URL's token: %+v", d)
			}
		}
	})
}

func TestWitness_GivesUpAndRecordsAndWarns(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l, clk := witnessLog(t, d, io.Discard)
		h := &hook{fail: 1000}
		srv := httptest.NewServer(h)
		defer srv.Close()
		l.SetWitnesses(audit.WitnessConfig{Webhooks: []string{srv.URL}, WebhookInterval: time.Hour})
		for i := 0; i < 20; i++ {
			send(t, l, false)
			sts, err := l.WitnessStatuses(ctx)
			if err != nil || len(sts) != 1 {
				t.Fatal(sts, err)
			}
			if want := i+1 >= 3; sts[0].Failing != want && i < 8 {
				t.Fatalf("after %d attempts failing = %v", i+1, sts[0].Failing)
			}
			clk.Advance(time.Hour)
		}
		got := lastDelivery(t, l)
		if got.Status != audit.WitnessFailed || got.Attempts != 8 || h.requests() != 8 {
			t.Fatalf("after 20 hours: %+v, %d requests", got, h.requests())
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := l.ReadAfter(ctx, 99, 10)
		if err != nil || len(events) != 1 || events[0].Action != audit.ActionWitnessFailed || events[0].Outcome != "failure" {
			t.Fatalf("the giving up is not in the log: %+v, %v", events, err)
		}
	})
}

// witnessCatalog returns the messages of the web shell and the audit part.
func witnessCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c := i18n.New()
	if err := c.Add(web.Locales()); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(audit.Locales()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWitnessMail_ReachesARealSMTPServerInBothLanguages(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var logs bytes.Buffer
		l, clk := witnessLog(t, d, &logs)
		smtp := mailtest.Start(t, mailtest.Options{TLS: "starttls", User: "anzen", Password: "smtp-pw-5d1e"})
		m, err := mail.New(smtp.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		smtp.FailNext(1)
		l.SetWitnesses(audit.WitnessConfig{Mail: []string{"inspector@example.jp"}, MailInterval: 24 * time.Hour,
			Mailer: m, Catalog: witnessCatalog(t), PublicURL: "https://anzen.hospital.example.jp"})
		send(t, l, false)
		if got := lastDelivery(t, l); got.Status != audit.WitnessPending || !strings.Contains(got.LastError, "451") {
			t.Fatalf("after a refusal: %+v", got)
		}
		clk.Advance(time.Minute)
		send(t, l, false)
		if got := lastDelivery(t, l); got.Status != audit.WitnessSent || got.Target != "mail:inspector@example.jp" {
			t.Fatalf("after the retry: %+v", got)
		}
		msgs := smtp.Wait(t, 1, 5*time.Second)
		if len(msgs) != 1 || msgs[0].To[0] != "inspector@example.jp" {
			t.Fatalf("received %+v", msgs)
		}
		p, err := msgs[0].Parse()
		if err != nil {
			t.Fatal(err)
		}
		cp, _ := l.LatestCheckpoint(ctx)
		keys, _ := l.VerifierKeys(ctx)
		ja, en := strings.Index(p.Text, "チェックポイントとは"), strings.Index(p.Text, "WHAT THIS IS")
		if ja < 0 || en < 0 || ja > en {
			t.Fatalf("not Japanese first, then English:\n%s", p.Text)
		}
		for _, want := range []string{cp.Note, keys[0], "anzen audit check-proof", "golang.org/x/mod/sumdb/note",
			"2026-04-01 10:00:00 JST", "https://anzen.hospital.example.jp", "checkpoint-100.txt"} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("the mail does not say %q:\n%s", want, p.Text)
			}
		}
		if !strings.Contains(p.Subject, "監査ログのチェックポイント") || !strings.Contains(p.Subject, "Audit log checkpoint") ||
			!strings.Contains(p.Subject, "100") {
			t.Errorf("subject %q", p.Subject)
		}
		if string(p.Attachments["checkpoint-100.txt"]) != cp.Note {
			t.Errorf("attachment %q", p.Attachments)
		}
		if strings.Contains(p.Text, "[audit.") {
			t.Errorf("a message id shows instead of its text:\n%s", p.Text)
		}
		if strings.Contains(logs.String(), "smtp-pw-5d1e") {
			t.Fatalf("the log shows the SMTP password:\n%s", logs.String())
		}
	})
}
