package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// syslogConfig is a configuration with the syslog listeners on loopback
// ports, a mapping file and the facility "main", on dialect.
func syslogConfig(t *testing.T, dialect string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Metrics = true
	if dialect == "postgres" {
		cfg.DSN = dbtest.PostgresDSN(t)
	}
	cfg.Syslog.TCP, cfg.Syslog.UDP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Syslog.Facility = "main"
	cfg.Syslog.Mapping = filepath.Join(cfg.DataDir, "ehr.toml")
	mapping := "[fields]\nactor.id = \"user\"\naction = \"op\"\npatient.id = \"pt\"\n" +
		"[constants]\nsource = \"ehr-main\"\n[values.action]\nREF = \"view\"\n"
	if err := os.WriteFile(cfg.Syslog.Mapping, []byte(mapping), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serve opens anzen with cfg, bootstraps it and runs Serve until the
// returned stop is called; stop returns Serve's error.
func serve(t *testing.T, cfg *config.Config) (*app.App, string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Bootstrap(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { addrc <- addr }) }()
	select {
	case addr := <-addrc:
		return a, addr, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return nil, "", nil
}

func TestServe_SyslogListenersStoreEventsAndStopWithIt(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			cfg := syslogConfig(t, dialect)
			a, httpAddr, stop := serve(t, cfg)
			const n = 50
			var stream bytes.Buffer
			for i := range n {
				m := fmt.Sprintf("<134>1 2026-04-01T09:15:%02d+09:00 ehr01 ehr - - - user=D%04d op=REF pt=%07d", i, i, i)
				fmt.Fprintf(&stream, "%d %s", len(m), m)
			}
			c, err := net.Dial("tcp", a.SyslogAddr("tcp").String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(stream.Bytes()); err != nil {
				t.Fatal(err)
			}
			c.Close()
			u, err := net.Dial("udp", a.SyslogAddr("udp").String())
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			if _, err := io.WriteString(u, "<86>Apr  1 09:20:00 ehr01 ehr: user=D9999 op=REF pt=0000001\n"); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for accepted(a) < n+1 {
				if time.Now().After(deadline) {
					t.Fatalf("accepted %+v", a.SyslogStats())
				}
				time.Sleep(10 * time.Millisecond)
			}
			checkMetrics(t, a, httpAddr)
			if err := stop(); err != nil {
				t.Fatalf("serve: %v", err)
			}
			main, err := a.Facility(context.Background(), "main")
			if err != nil {
				t.Fatal(err)
			}
			all, err := a.Audit.ReadAfter(context.Background(), -1, 10000)
			if err != nil {
				t.Fatal(err)
			}
			var events []audit.Event
			for _, e := range all {
				if e.Source == "ehr-main" {
					events = append(events, e)
				}
			}
			if len(events) != n+1 {
				t.Fatalf("%d events of ehr-main, want %d", len(events), n+1)
			}
			for _, e := range events {
				if e.Facility != main || e.Action != "view" || !strings.HasPrefix(e.Actor.ID, "D") {
					t.Fatalf("event %+v", e)
				}
			}
			size, err := a.Audit.Size(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			cp, err := a.Audit.LatestCheckpoint(context.Background())
			if err != nil || cp == nil || cp.Size != size {
				t.Fatalf("the checkpoint at shutdown: %+v %v, want one of size %d", cp, err, size)
			}
		})
	}
}

func accepted(a *app.App) int64 {
	var n int64
	for _, st := range a.SyslogStats() {
		n += st.Accepted
	}
	return n
}

// checkMetrics reads /metrics with a token of scope metrics and looks for
// the syslog counters.
func checkMetrics(t *testing.T, a *app.App, addr string) {
	t.Helper()
	_, secret, err := a.Identity.CreateToken(context.Background(), identity.SystemActor, identity.NewToken{
		Name: "prometheus", Scopes: []string{"metrics"}, Facility: authz.AllFacilities})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`anzen_syslog_messages_total{listener="tcp",result="accepted"} 50`,
		`anzen_syslog_messages_total{listener="udp",result="received"} 1`, `anzen_syslog_connections{listener="tcp"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics (%d) has no %s", resp.StatusCode, want)
		}
	}
}

func TestServe_SyslogSettingsAreCheckedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cfg *config.Config)
		want   string
	}{
		{"unknown facility", func(cfg *config.Config) { cfg.Syslog.Facility = "branch" }, `ingest.syslog.facility: no facility has the id or code "branch"`},
		{"bad mapping", func(cfg *config.Config) {
			_ = os.WriteFile(cfg.Syslog.Mapping, []byte("[fields]\n\nactor.iid = \"user\"\n"), 0o600)
		}, "ingest.syslog.map: " + "FILE" + ":3: fields.actor.iid: unknown field"},
		{"missing mapping", func(cfg *config.Config) { cfg.Syslog.Mapping += ".missing" }, "ingest.syslog.map: open"},
		{"missing certificate", func(cfg *config.Config) {
			cfg.Syslog.TLS, cfg.Syslog.TLSCert, cfg.Syslog.TLSKey = "127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem"
		}, "ingest.syslog.tls_cert: stat /nonexistent/cert.pem"},
		{"port in use", func(cfg *config.Config) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			cfg.Syslog.TCP = ln.Addr().String()
		}, "ingest.syslog: syslog tcp: listen on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := syslogConfig(t, "sqlite")
			tc.change(cfg)
			ctx := context.Background()
			a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Bootstrap(ctx, io.Discard); err != nil {
				t.Fatal(err)
			}
			err = a.Serve(ctx, func(string) { t.Error("serve started") })
			want := strings.ReplaceAll(tc.want, "FILE", cfg.Syslog.Mapping)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("serve: %v, want an error with %q", err, want)
			}
		})
	}
}

func TestSyslogMaxMessage_IsTheLogsLimit(t *testing.T) {
	if got := config.Default().Syslog.MaxMessage; got != audit.MaxOriginal {
		t.Errorf("ingest.syslog.max_message defaults to %d, the log keeps records of %d bytes", got, audit.MaxOriginal)
	}
}
