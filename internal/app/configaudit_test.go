package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/config"
)

func TestConfigChange_RecordedOnlyWhenSettingsDiffer(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() []audit.Entry {
		t.Helper()
		a, err := app.Open(ctx, cfg, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ev, _, err := a.Audit.Search(ctx, audit.Filter{Action: "config.change", AllFacilities: true})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := open(); len(ev) != 1 || ev[0].Detail["changed"] != "(first start)" {
		t.Fatalf("first start: %+v", ev)
	}
	if ev := open(); len(ev) != 1 {
		t.Fatalf("restart with the same settings recorded again: %d events", len(ev))
	}
	cfg.LockoutFailures = 7
	cfg.SessionIdle = 0
	cfg.SessionIdle = cfg.SessionLifetime / 2
	ev := open()
	if len(ev) != 2 || ev[0].Detail["changed"] != "lockout.max_failures,session.idle_timeout" ||
		ev[0].Detail["setting:lockout.max_failures"] != "7" {
		t.Fatalf("after a change: %+v", ev[0])
	}
}
