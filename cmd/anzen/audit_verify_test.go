package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
)

// TestAuditVerifyProof_FromTheShell walks an operator's day with the log:
// verify it, print the checkpoint and the keys, write one event's proof
// and check it offline; then a row is altered behind anzen's back and
// verify names it and exits 1.
func TestAuditVerifyProof_FromTheShell(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			c := newCLI(t, d)
			a := c.open()
			first, err := a.Audit.Append(ctx, audittest.Events(0, 2000))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Audit.SignCheckpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for behind := int64(1); behind > 0; {
				if behind, err = a.Audit.Sync(ctx); err != nil {
					t.Fatal(err)
				}
			}

			// Verify: exit 0, a summary, a record.
			r := c.mustRun("audit", "verify")
			if !strings.HasPrefix(r.out, "ok: the log of ") || !strings.Contains(r.out, "signatures valid") ||
				!strings.Contains(r.out, "search index: matches the log") {
				t.Fatalf("verify said:\n%s", r.out)
			}
			v, err := a.Audit.LatestVerification(ctx)
			if err != nil || !v.Result.OK || v.Via != "cli" || v.Result.Size < 2000 || !v.Result.Index {
				t.Fatalf("the verification is not recorded: %+v, %v", v, err)
			}
			eventsBy(t, a, audit.ActionVerify)

			// The keys, the checkpoint, a proof, checked offline.
			keys := strings.Fields(c.mustRun("audit", "checkpoint", "--keys").out)
			if len(keys) == 0 || !strings.Contains(keys[0], "+") {
				t.Fatalf("checkpoint --keys printed %q", keys)
			}
			note := c.mustRun("audit", "checkpoint").out
			origin, _, _ := strings.Cut(note, "\n")
			if origin == "" || !strings.Contains(note, "\n— ") {
				t.Fatalf("checkpoint printed:\n%s", note)
			}
			seq := first + 1234
			file := filepath.Join(t.TempDir(), "proof.json")
			c.mustRun("audit", "proof", strconv.FormatInt(seq, 10), "-o", file)
			if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("the proof file: %v, %v (it holds an event: only its owner may read it)", st, err)
			}
			r = c.mustRun("audit", "check-proof", file, "--key", keys[0])
			want := "ok: the event at position " + strconv.FormatInt(seq, 10) + " is in the log " + strconv.Quote(origin)
			if !strings.HasPrefix(r.out, want) || !strings.Contains(r.out, audittest.Event(1234).Actor.ID) {
				t.Fatalf("check-proof said:\n%s\nwant it to begin %q", r.out, want)
			}
			keyFile := filepath.Join(t.TempDir(), "keys.txt")
			if err := os.WriteFile(keyFile, []byte("# the log's keys\n"+strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			proof, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if r := c.run(string(proof), "audit", "check-proof", "--key-file", keyFile); r.err != nil {
				t.Fatalf("check-proof from standard input: %v", r.err)
			}

			// A proof whose entry was changed, one checked with another
			// log's key, and one with no key at all do not hold.
			var p audit.Proof
			if err := json.Unmarshal(proof, &p); err != nil {
				t.Fatal(err)
			}
			p.Entry[len(p.Entry)-1] ^= 1
			changed, _ := json.Marshal(p)
			other, _ := audittest.NewSigner().VerifierKeys(ctx, origin)
			for name, run := range map[string]result{
				"changed entry": c.run(string(changed), "audit", "check-proof", "--key", keys[0]),
				"other key":     c.run(string(proof), "audit", "check-proof", "--key", other[0]),
				"no key":        c.run(string(proof), "audit", "check-proof"),
				"not a proof":   c.run("{", "audit", "check-proof", "--key", keys[0]),
			} {
				if run.err == nil || strings.HasPrefix(run.out, "ok") {
					t.Errorf("%s: check-proof accepted it:\n%s", name, run.out)
				}
			}
			if r := c.run("", "audit", "proof", "x"); r.err == nil || !strings.Contains(r.err.Error(), "not a position") {
				t.Errorf("proof x: %v", r.err)
			}

			// Tampering: a leaf hash rewritten behind anzen's back.
			bad := first + 777
			if _, err := a.DB.ExecContext(ctx, `UPDATE audit_log SET leaf = ? WHERE seq = ?`, make([]byte, 32), bad); err != nil {
				t.Fatal(err)
			}
			r = c.run("", "audit", "verify", "--json")
			var ee exitError
			if !errors.As(r.err, &ee) || ee.code != 1 || !strings.Contains(r.err.Error(), "position "+strconv.FormatInt(bad, 10)) {
				t.Fatalf("verify of a tampered log returned %v, want exit 1 naming position %d", r.err, bad)
			}
			var res audit.VerifyResult
			if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.OK || res.FirstBad != bad || res.Kind != audit.ProblemAltered {
				t.Fatalf("verify --json printed %+v (%v):\n%s", res, err, r.out)
			}
			v, err = a.Audit.LatestVerification(ctx)
			if err != nil || v.Result.OK || v.Result.FirstBad != bad || v.Result.Kind != audit.ProblemAltered {
				t.Fatalf("the failed verification is not recorded: %+v, %v", v, err)
			}
			if r := c.run("", "audit", "verify", "--from", "-1"); r.err == nil {
				t.Error("verify --from -1 was accepted")
			}
		})
	}
}
