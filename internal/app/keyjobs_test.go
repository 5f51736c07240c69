package app_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// TestServe_ShutdownRecordsTheKeyUsesOfTheLastMinute uses a key while
// anzen serves, stops it well before the usage job's first run, and
// expects the uses in the audit log when Serve returns, before Close.
func TestServe_ShutdownRecordsTheKeyUsesOfTheLastMinute(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.KeysUsageFlush = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	caller := keys.SystemCaller("test")
	for i := 0; i < 3; i++ {
		ct, err := a.Keys.Encrypt(ctx, caller, "anzen-secrets", []byte("x"), keys.Context{"table": "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Keys.Decrypt(ctx, caller, ct, keys.Context{"table": "t"}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
	ev, _, err := a.Audit.Search(context.Background(), audit.Filter{Action: "key.use", ActorLogin: "system:test",
		AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{} // a minute may have begun in between
	for _, e := range ev {
		n, _ := strconv.Atoi(e.Detail["count"])
		counts[e.Detail["operation"]] += n
	}
	if counts["encrypt"] != 3 || counts["decrypt"] != 3 {
		t.Fatalf("key.use after shutdown: %v, want 3 encryptions and 3 decryptions", counts)
	}
}
