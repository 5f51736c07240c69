package keys

import (
	"context"
	"crypto/x509/pkix"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// checkCatalog is the key service's message catalog, loaded once.
var checkCatalog = sync.OnceValues(func() (*i18n.Catalog, error) {
	c := i18n.New()
	return c, c.Add(Locales())
})

// runCheck runs the check id and asserts that its result reads in both
// languages: detail and link labels exist in ja and en, and every figure
// the message uses is in the data.
func runCheck(t *testing.T, e *env, id string) check.Result {
	t.Helper()
	var c *check.Check
	for _, ch := range e.svc.Checks() {
		if ch.ID == id {
			c = &ch
		}
	}
	if c == nil {
		t.Fatalf("no check %s", id)
	}
	// Keys are the organisation's: any facility gets the same answer.
	res, err := c.Run(context.Background(), 7)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{res.DetailID}
	for _, l := range res.Links {
		ids = append(ids, l.LabelID)
	}
	for _, lang := range i18n.Languages {
		for _, mid := range ids {
			if !cat.Has(lang, mid) {
				t.Errorf("%s: message %s missing in %s", id, mid, lang)
			}
		}
		if text := cat.T(lang, res.DetailID, res.Data); strings.Contains(text, "<no value>") || strings.HasPrefix(text, "[") {
			t.Errorf("%s in %s reads %q", res.DetailID, lang, text)
		}
	}
	return res
}

func want(t *testing.T, res check.Result, status check.Status, detail string, data map[string]any) {
	t.Helper()
	if res.Status != status || res.DetailID != detail {
		t.Fatalf("result = %s %s (%v), want %s %s", res.Status, res.DetailID, res.Data, status, detail)
	}
	for k, v := range data {
		if !reflect.DeepEqual(res.Data[k], v) {
			t.Errorf("%s: data[%s] = %#v, want %#v", detail, k, res.Data[k], v)
		}
	}
}

func TestChecks_AreValidUniqueAndNamedInBothLanguages(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t, testParts...))
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("messages in one language only: %v", m)
	}
	seen := map[string]bool{}
	for _, c := range e.svc.Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if seen[c.ID] {
			t.Errorf("check %s declared twice", c.ID)
		}
		seen[c.ID] = true
		if !strings.HasPrefix(c.ID, "keys.") || !strings.HasPrefix(c.TitleID, "keys.check.") {
			t.Errorf("check %s (title %s) is not the key service's", c.ID, c.TitleID)
		}
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, c.TitleID) {
				t.Errorf("%s: title %s missing in %s", c.ID, c.TitleID, lang)
			}
		}
	}
	for _, id := range []string{"keys.rotation", "keys.signing_hsm", "keys.certificates"} {
		if !seen[id] {
			t.Errorf("check %s is not declared", id)
		}
	}
}

func TestCheckRotation_WarnsWhileDueFailsWhenTheJobIsLate(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		want(t, runCheck(t, e, "keys.rotation"), check.NotApplicable, "keys.check.rotation.no_keys", nil)

		if _, err := e.svc.Create(ctx, admin, NewKey{Name: "ehr-records", Purpose: PurposeStorage,
			RotationPeriod: 30 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		e.create(t, "pacs-transfer", PurposeTransport, "")
		want(t, runCheck(t, e, "keys.rotation"), check.Pass, "keys.check.rotation.pass",
			map[string]any{"keys": 2, "scheduled": 1})

		e.clock.Advance(30*24*time.Hour + time.Hour)
		want(t, runCheck(t, e, "keys.rotation"), check.Warning, "keys.check.rotation.due",
			map[string]any{"count": 1, "names": "ehr-records", "more": 0, "grace_hours": 24})

		e.clock.Advance(23 * time.Hour)
		res := runCheck(t, e, "keys.rotation")
		want(t, res, check.Fail, "keys.check.rotation.fail", map[string]any{"count": 1, "names": "ehr-records"})
		if len(res.Links) != 1 || res.Links[0].Href != "/keys" {
			t.Errorf("links = %+v", res.Links)
		}

		if _, err := e.svc.RotateDue(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, e, "keys.rotation"), check.Pass, "keys.check.rotation.pass",
			map[string]any{"keys": 2, "scheduled": 1})
	})
}

func TestCheckSigningHSM_FailsForCASigningKeysInSoftware(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "ehr-records", PurposeStorage, "")
		want(t, runCheck(t, e, "keys.signing_hsm"), check.NotApplicable, "keys.check.signing_hsm.no_keys", nil)

		// Under the local root every key is in software.
		e.create(t, "checkpoints", PurposeAuditCheckpoint, Ed25519)
		want(t, runCheck(t, e, "keys.signing_hsm"), check.Warning, "keys.check.signing_hsm.own_soft",
			map[string]any{"keys": 1, "count": 1, "names": "checkpoints (v1)"})

		e.create(t, "e-prescription", PurposeSigning, ECDSAP256)
		if _, err := e.svc.Rotate(ctx, admin, "e-prescription"); err != nil {
			t.Fatal(err)
		}
		res := runCheck(t, e, "keys.signing_hsm")
		want(t, res, check.Fail, "keys.check.signing_hsm.fail",
			map[string]any{"keys": 2, "count": 1, "names": "e-prescription (v1, v2)", "own": 1})
		if res.Links[0].Href != "/keys#hsm-warning" {
			t.Errorf("links = %+v", res.Links)
		}
	})
}

func TestCheckSigningHSM_ACertifiedCheckpointKeyInSoftwareFails(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t, testParts...))
	ctx := context.Background()
	e.create(t, "checkpoints", PurposeAuditCheckpoint, Ed25519)
	csr, err := e.svc.CSR(ctx, admin, "checkpoints", pkix.Name{CommonName: "anzen audit log"})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, e.clock.Now())
	if _, err := e.svc.ImportCertificate(ctx, admin, "checkpoints", ca.issue(t, csr, e.clock.Now(), 365, "")); err != nil {
		t.Fatal(err)
	}
	want(t, runCheck(t, e, "keys.signing_hsm"), check.Fail, "keys.check.signing_hsm.fail",
		map[string]any{"count": 1, "names": "checkpoints (v1)", "own": 0})
}

func TestCheckSigningHSM_PassesWhenEverySigningKeyIsInTheHSM(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t, testParts...))
	e.svc.Unseal(newFakeHSM(t))
	e.create(t, "checkpoints", PurposeAuditCheckpoint, Ed25519)
	e.create(t, "e-prescription", PurposeSigning, Ed25519)
	e.create(t, "ehr-records", PurposeStorage, "")
	want(t, runCheck(t, e, "keys.signing_hsm"), check.Pass, "keys.check.signing_hsm.pass", map[string]any{"keys": 2})
}

func TestCheckCertificates_WarnsThirtyDaysAheadFailsWhenExpired(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "doctor-sign", PurposeSigning, ECDSAP256)
		want(t, runCheck(t, e, "keys.certificates"), check.NotApplicable, "keys.check.certificates.none", nil)

		now := e.clock.Now()
		csr, err := e.svc.CSR(ctx, admin, "doctor-sign", pkix.Name{CommonName: "Hanako Yamada"})
		if err != nil {
			t.Fatal(err)
		}
		ca := newTestCA(t, now)
		if _, err := e.svc.ImportCertificate(ctx, admin, "doctor-sign", ca.issue(t, csr, now, 60, "Medical Doctor")); err != nil {
			t.Fatal(err)
		}
		end := now.AddDate(0, 0, 60).Format(time.DateOnly)
		want(t, runCheck(t, e, "keys.certificates"), check.Pass, "keys.check.certificates.pass",
			map[string]any{"keys": 1, "days": 30})

		e.clock.Advance(29 * 24 * time.Hour) // 31 days left
		want(t, runCheck(t, e, "keys.certificates"), check.Pass, "keys.check.certificates.pass", nil)

		e.clock.Advance(2 * 24 * time.Hour) // 29 days left
		res := runCheck(t, e, "keys.certificates")
		want(t, res, check.Warning, "keys.check.certificates.expiring",
			map[string]any{"count": 1, "names": "doctor-sign (" + end + ")", "days": 30})
		if res.Links[0].Href != "/keys/certificates" {
			t.Errorf("links = %+v", res.Links)
		}

		e.clock.Advance(29 * 24 * time.Hour)
		want(t, runCheck(t, e, "keys.certificates"), check.Fail, "keys.check.certificates.expired",
			map[string]any{"count": 1, "names": "doctor-sign (" + end + ")", "soon": 0})
	})
}

// TestCheckMessages_SourceAndCatalogAgree fails when the checks' code names
// a message the catalog lacks in a language, or the catalog keeps a check
// message no code uses any more.
func TestCheckMessages_SourceAndCatalogAgree(t *testing.T) {
	ids := regexp.MustCompile(`"(keys\.check\.[a-z0-9_.]+)"`)
	used := map[string]bool{}
	for _, name := range []string{"checks.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ids.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 10 {
		t.Fatalf("found only %d message ids in the checks' code", len(used))
	}
	for id := range used {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, id) {
				t.Errorf("message %s is not in the %s catalog", id, lang)
			}
		}
	}
	keys := regexp.MustCompile(`(?m)^"(keys\.check\.[^"]+)"\s*=`)
	for _, name := range []string{"checks.ja.toml", "checks.en.toml"} {
		b, err := fs.ReadFile(Locales(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keys.FindAllStringSubmatch(string(b), -1) {
			if !used[m[1]] {
				t.Errorf("%s: message %s is used by no check", name, m[1])
			}
		}
	}
}

func TestChecks_ADatabaseErrorIsAnErrorNotAFailure(t *testing.T) {
	d := dbtest.SQLite(t, testParts...)
	e := newEnv(t, d)
	d.Close()
	for _, c := range e.svc.Checks() {
		if res, err := c.Run(context.Background(), 1); err == nil {
			t.Errorf("%s on a closed database: %+v, want an error", c.ID, res)
		}
	}
}
