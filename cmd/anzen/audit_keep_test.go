package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/clock"
)

// TestAuditArchive_ArchivesEventsPastRetentionAndSaysSo appends a segment
// of events received six years ago, archives it from the shell and checks
// the rest of the log and the archive. Segments are 256 events here
// (level 8): the commands are under test, not the segment size, which
// internal/audit tests at its real 65,536 (TestArchive_RealSegmentSize...).
func TestAuditArchive_ArchivesEventsPastRetentionAndSaysSo(t *testing.T) {
	const segment = 256
	audit.UseSmallSegmentsInTests(t, 8)
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			c := newCLI(t, d)
			// Six years ago anzen started and received a segment of events.
			old := time.Now().AddDate(-6, 0, 0)
			cfg, err := c.g.load(map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFrozen(old))
			if err != nil {
				t.Fatal(err)
			}
			for i := int64(0); i < segment+10; i += 100 {
				events := audittest.Events(int(i), int(min(100, segment+10-i)))
				for j := range events {
					events[j].Time = old.Add(time.Duration(int(i)+j) * time.Millisecond)
					events[j].Received = events[j].Time
				}
				if _, err := a.Audit.Append(ctx, events); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.Audit.SignCheckpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for {
				if behind, err := a.Audit.Sync(ctx); err != nil {
					t.Fatal(err)
				} else if behind == 0 {
					break
				}
			}
			a.Close()

			r := c.mustRun("audit", "archive", "--dry-run")
			if !strings.Contains(r.out, "would archive 1 segment (256 events") || !strings.Contains(r.out, "positions 0 to 255") {
				t.Fatalf("dry run said:\n%s", r.out)
			}
			r = c.mustRun("audit", "archive")
			dir := filepath.Join(c.g.data, "audit-archive")
			if !strings.Contains(r.out, "archived 1 segment ") || !strings.Contains(r.out, audit.SegmentName(0, segment)+".gz, sha256 ") ||
				!strings.Contains(r.out, dir) {
				t.Fatalf("archive said:\n%s", r.out)
			}
			if r := c.mustRun("audit", "archive"); !strings.Contains(r.out, "nothing to archive: no whole segment of 256 events") {
				t.Fatalf("second archive said:\n%s", r.out)
			}

			a = c.open()
			v, err := a.Audit.Verify(ctx, audit.VerifyOptions{ArchiveDir: dir})
			if err != nil || !v.OK || v.Archived != segment || v.ArchiveSegments != 1 {
				t.Fatalf("verify: %+v, %v", v, err)
			}
			entries, _, err := a.Audit.Search(ctx, audit.Filter{Action: audit.ActionArchive, AllFacilities: true})
			if err != nil || len(entries) != 1 || entries[0].ActorLogin != cliActor().Login || entries[0].Detail["via"] != "cli" {
				t.Fatalf("the archiving is not recorded as the CLI's: %+v, %v", entries, err)
			}
		})
	}
}

// TestAuditWitnesses_SendsNowAndShowsTheDeliveries configures a webhook
// witness in the configuration file and sends the checkpoint from the
// shell.
func TestAuditWitnesses_SendsNowAndShowsTheDeliveries(t *testing.T) {
	c := newCLI(t, "sqlite")
	if r := c.mustRun("audit", "witnesses"); !strings.Contains(r.out, "no witness is configured") {
		t.Fatalf("without witnesses:\n%s", r.out)
	}
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "witness.secret")
	if err := os.WriteFile(secret, []byte("a-shared-secret-of-some-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := "[audit.witness]\nwebhooks = [\"" + srv.URL + "/in?key=k-77\"]\nwebhook_secret_file = \"" + secret + "\"\n"
	if err := os.WriteFile(filepath.Join(c.g.data, "anzen.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.mustRun("audit", "witnesses", "--send")
	if !strings.Contains(r.out, "webhook:"+srv.URL+"/in?…") || !strings.Contains(r.out, "sent, checkpoint of") ||
		strings.Contains(r.out+r.errOut, "k-77") {
		t.Fatalf("witnesses --send said:\n%s\n%s", r.out, r.errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], "\n— ") {
		t.Fatalf("the webhook received %q", bodies)
	}
}
