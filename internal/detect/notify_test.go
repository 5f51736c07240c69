package detect_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
	"github.com/anzen-health/anzen/internal/platform/tlstest"
)

// webhookSink is a receiver of alert webhooks that checks their
// signatures and can be told to fail.
type webhookSink struct {
	mu     sync.Mutex
	alerts []detect.AlertJSON
	fail   int
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if err := audit.CheckWitnessSignature([]byte("a-shared-secret-of-the-csirt"), r.Header.Get(audit.HeaderSignature),
		body, time.Now(), 24*365*time.Hour); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var a detect.AlertJSON
	if err := json.Unmarshal(body, &a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.alerts = append(s.alerts, a)
}

func (s *webhookSink) got() []detect.AlertJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]detect.AlertJSON(nil), s.alerts...)
}

// TestNotify_HighAlertsReachMailAndWebhookAndFailuresAreRetried raises
// the medical pack's alerts (all high) and a medium one, with a webhook
// that fails at first and a mail server that refuses once.
func TestNotify_HighAlertsReachMailAndWebhookAndFailuresAreRetried(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
		smtp.Config.From = "anzen@hospital.example.jp"
		mailer, err := mail.New(smtp.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		smtp.FailNext(1)
		sink := &webhookSink{fail: 2}
		hook := httptest.NewServer(sink)
		t.Cleanup(hook.Close)
		cat := i18n.New()
		if err := cat.Add(detect.Locales()); err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFrozen(audittest.Start)
		files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
		if err != nil {
			t.Fatal(err)
		}
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en, err := detect.NewEngine(d, l, files, clk, discard, detect.WithNotify(detect.Notify{
			MinLevel: sigma.LevelHigh, Mail: []string{"csirt@hospital.example.jp"}, Mailer: mailer,
			Webhooks: []string{hook.URL + "/alerts?token=abc"}, WebhookSecret: []byte("a-shared-secret-of-the-csirt"),
			Catalog: cat, PublicURL: "https://anzen.hospital.example.jp"}))
		if err != nil {
			t.Fatal(err)
		}
		events := misuseDay()
		// A medium alert (a clerk at night) is not sent.
		events = append(events, audit.Event{Seq: -1, Time: audittest.Start.Add(14 * time.Hour), Received: audittest.Start.Add(14 * time.Hour),
			Facility: 1, Source: "ehr-main", Action: "view", Actor: audit.Actor{ID: "clerk-1", Profession: "clerk"},
			Patient: audit.Patient{ID: "P9"}, Outcome: audit.OutcomeSuccess})
		if _, err := l.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		alerts, _ := detect.Alerts(ctx, d, 100)
		high := 0
		for _, a := range alerts {
			if a.Level >= sigma.LevelHigh {
				high++
			}
		}
		if high != 4 || len(alerts) != 5 {
			t.Fatalf("%d alerts, %d high", len(alerts), high)
		}
		// First round: the mail server refuses the first, the webhook
		// fails twice.
		sent, err := en.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sent != 5 || len(sink.got()) != 2 { // 3 of 4 mails, 2 of 4 webhooks
			t.Fatalf("first round: %d sent, webhook got %d", sent, len(sink.got()))
		}
		// The state of each notification: an alert's webhook failed and
		// waits, its URL's query hidden.
		var retrying []detect.Delivery
		for _, a := range alerts {
			dls, err := detect.Deliveries(ctx, d, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range dls {
				if dl.Sent.IsZero() && dl.Attempts == 1 {
					retrying = append(retrying, dl)
				}
			}
		}
		if len(retrying) != 3 {
			t.Fatalf("%d notifications to retry: %+v", len(retrying), retrying)
		}
		for _, dl := range retrying {
			if strings.Contains(dl.Target, "token=abc") || dl.LastError == "" || dl.NextAt.IsZero() || dl.GivenUp {
				t.Errorf("delivery %+v", dl)
			}
		}
		// Nothing is due before the wait.
		if sent, _ := en.Deliver(ctx); sent != 0 {
			t.Fatalf("sent %d again at once", sent)
		}
		clk.Advance(time.Minute)
		if sent, err := en.Deliver(ctx); err != nil || sent != 3 {
			t.Fatalf("after a minute: %d sent, %v", sent, err)
		}
		if got := sink.got(); len(got) != 4 {
			t.Fatalf("the webhook got %d alerts", len(got))
		}
		msgs := smtp.Wait(t, 4, 5*time.Second)
		p, err := msgs[0].Parse()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Subject, "警告（高）") || !strings.Contains(p.Text, "https://anzen.hospital.example.jp/alerts/") ||
			!strings.Contains(p.Text, "anzen found an alert") {
			t.Errorf("mail %q\n%s", p.Subject, p.Text)
		}
		// Everything is sent: nothing more, even much later.
		clk.Advance(time.Hour)
		if sent, _ := en.Deliver(ctx); sent != 0 {
			t.Errorf("sent %d more", sent)
		}
	})
}

// TestNotify_AlertsAreForwardedToASIEMBySyslog forwards the pack's high
// alerts over UDP, TCP and TLS (the SIEM's certificate verified against
// its CA) and reads them as RFC 5424.
func TestNotify_AlertsAreForwardedToASIEMBySyslog(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { udp.Close() })
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tcp.Close() })
		serverTLS, caFile := tlstest.Server(t, t.TempDir())
		tlsl, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tlsl.Close() })
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		var mu sync.Mutex
		var framed []string
		for _, l := range []net.Listener{tcp, tlsl} {
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					b, _ := io.ReadAll(c)
					c.Close()
					mu.Lock()
					framed = append(framed, string(b))
					mu.Unlock()
				}
			}()
		}
		files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
		if err != nil {
			t.Fatal(err)
		}
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en, err := detect.NewEngine(d, l, files, clock.NewFrozen(audittest.Start), discard, detect.WithNotify(detect.Notify{
			MinLevel: sigma.LevelHigh, SyslogRoots: roots,
			Syslog: []string{"udp://" + udp.LocalAddr().String(), "tcp://" + tcp.Addr().String(), "tls://" + tlsl.Addr().String()}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, misuseDay()); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if sent, err := en.Deliver(ctx); err != nil || sent != 12 {
			t.Fatalf("sent %d: %v", sent, err)
		}
		parser := rfc5424.NewParser()
		buf := make([]byte, 8192)
		_ = udp.SetReadDeadline(time.Now().Add(5 * time.Second))
		rules := map[string]bool{}
		for range 4 {
			n, _, err := udp.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parser.Parse(buf[:n])
			if err != nil {
				t.Fatalf("not RFC 5424: %v\n%s", err, buf[:n])
			}
			sm := m.(*rfc5424.SyslogMessage)
			sd := (*sm.StructuredData)["anzen-alert@32473"]
			if *sm.Appname != "anzen" || *sm.MsgID != "ALERT" || *sm.Priority != 13*8+3 || sd["level"] != "high" || *sm.Message == "" {
				t.Errorf("message %s", buf[:n])
			}
			rules[sd["rule"]] = true
		}
		if len(rules) != 4 {
			t.Errorf("rules %v", rules)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(framed)
			mu.Unlock()
			if n == 8 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(framed) != 8 {
			t.Fatalf("TCP and TLS got %d messages", len(framed))
		}
		for _, f := range framed {
			size, msg, ok := strings.Cut(f, " ")
			if !ok || size != strconv.Itoa(len(msg)) {
				t.Errorf("not octet counted: %q", f)
			}
			if _, err := parser.Parse([]byte(msg)); err != nil {
				t.Errorf("not RFC 5424 over TCP: %v", err)
			}
		}
	})
}
