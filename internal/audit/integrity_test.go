package audit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// TestIntegrity_RecordsVerificationsAndShowsThem verifies a whole log,
// then one altered behind anzen's back, and checks what the record, the
// log itself, the API, the page and the dashboard card say of each.
func TestIntegrity_RecordsVerificationsAndShowsThem(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		ts := &testServer{t: t, log: l}
		appendAll(t, l, audittest.Events(0, 300))
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}

		// Never verified: the API says overdue, the page and card say so.
		var resp audit.VerificationsResponse
		apiGet(t, ts, "/api/v1/audit/verifications", &resp)
		if len(resp.Verifications) != 0 || resp.LastOK != nil || !resp.Overdue {
			t.Fatalf("before any verification: %+v", resp)
		}
		if body := pageBody(t, ts.get(cisoAll, "/audit/integrity", "ja"), http.StatusOK); !strings.Contains(body, `id="integrity-never"`) {
			t.Fatalf("the page does not say the log was never verified:\n%s", body)
		}
		if c := integrityCard(t, ts, "ja"); !strings.Contains(c, "未実施") || !strings.Contains(c, "warn") {
			t.Fatalf("card before any verification:\n%s", c)
		}

		good := verifyAndRecord(t, l, audit.VerificationOrigin{Via: "job"})
		if !good.Result.OK || good.Result.Size < 300 || !good.Result.Signatures || !good.Result.Index {
			t.Fatalf("verification of a whole log: %+v", good.Result)
		}

		// A leaf rewritten: the next verification names it.
		const bad = 123
		if _, err := d.ExecContext(ctx, `UPDATE audit_log SET leaf = ? WHERE seq = ?`, make([]byte, 32), bad); err != nil {
			t.Fatal(err)
		}
		failed := verifyAndRecord(t, l, audit.VerificationOrigin{Via: "cli", Actor: "cli:root", Client: "local"})
		if failed.Result.OK || failed.Result.FirstBad != bad || failed.Result.Kind != audit.ProblemAltered {
			t.Fatalf("verification of an altered log: %+v", failed.Result)
		}

		// Read back, newest first, with every fact of the result.
		vs, err := l.Verifications(ctx, 10)
		if err != nil || len(vs) != 2 || vs[0].ID != failed.ID || vs[1].ID != good.ID {
			t.Fatalf("verifications: %+v, %v", vs, err)
		}
		if r := vs[0].Result; r.OK || r.FirstBad != bad || r.Kind != audit.ProblemAltered || r.Problem == "" || vs[0].Via != "cli" ||
			r.Size != failed.Result.Size || r.Duration != failed.Result.Duration || !vs[0].Started.Equal(failed.Started) {
			t.Errorf("the failed verification read back: %+v %+v", vs[0], r)
		}
		if r := vs[1].Result; !r.OK || r.FirstBad != -1 || !r.Signatures || !r.Index || r.Checkpoints != good.Result.Checkpoints {
			t.Errorf("the good verification read back: %+v", r)
		}
		if last, err := l.LastGoodVerification(ctx); err != nil || last.ID != good.ID {
			t.Errorf("last good verification: %+v, %v", last, err)
		}

		// Each is an event on the log, the failure with its position.
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		recs, _ := search(t, l, audit.Filter{AllFacilities: true, Action: audit.ActionVerify})
		if len(recs) != 2 || recs[0].Outcome != selfaudit.Failure || recs[0].Detail["first_bad"] != strconv.Itoa(bad) ||
			recs[0].Detail["kind"] != audit.ProblemAltered || recs[0].ActorLogin != "cli:root" ||
			recs[1].Outcome != selfaudit.Success || recs[1].ActorLogin != "system" || recs[1].Detail["via"] != "job" {
			t.Fatalf("verifications on the log: %+v", recs)
		}

		// The API, the page and the card show the failure.
		apiGet(t, ts, "/api/v1/audit/verifications?limit=1", &resp)
		if len(resp.Verifications) != 1 || resp.Verifications[0].Result.FirstBad != bad || resp.LastOK == nil ||
			resp.LastOK.ID != good.ID || resp.Overdue {
			t.Fatalf("API after the failure: %+v", resp)
		}
		for _, limit := range []string{"0", "101", "x"} {
			if w := ts.get(cisoAll, "/api/v1/audit/verifications?limit="+limit, ""); w.Code != http.StatusBadRequest ||
				!strings.Contains(w.Body.String(), "invalid-parameter") {
				t.Errorf("limit=%s: %d %s", limit, w.Code, w.Body)
			}
		}
		for lang, want := range map[string][]string{
			"ja": {"位置 123 で不整合", "イベントの改変", "CSIRT", "定期実行", `id="integrity-note"`},
			"en": {"Wrong at position 123", "an event was altered", "CSIRT", "schedule", `id="integrity-keys"`},
		} {
			body := pageBody(t, ts.get(cisoAll, "/audit/integrity", lang), http.StatusOK)
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("%s page lacks %q", lang, w)
				}
			}
			if c := integrityCard(t, ts, lang); !strings.Contains(c, "bad") || !strings.Contains(c, "123") {
				t.Errorf("%s card after the failure:\n%s", lang, c)
			}
		}
	})
}

func verifyAndRecord(t *testing.T, l *audit.Log, o audit.VerificationOrigin) *audit.Verification {
	t.Helper()
	res, err := l.Verify(context.Background(), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.RecordVerification(context.Background(), res, o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func apiGet(t *testing.T, ts *testServer, target string, into any) {
	t.Helper()
	w := ts.get(cisoAll, target, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), into); err != nil {
		t.Fatal(err)
	}
}

func integrityCard(t *testing.T, ts *testServer, lang string) string {
	t.Helper()
	body := pageBody(t, ts.get(cisoAll, "/", lang), http.StatusOK)
	i := strings.Index(body, `id="card-audit-integrity"`)
	if i < 0 {
		t.Fatalf("no integrity card: %s", body)
	}
	c := body[i:]
	return c[:strings.Index(c, "</section>")]
}
