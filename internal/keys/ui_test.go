package keys_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestPages_ListAndDetailRenderInBothLanguages(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 90*24*time.Hour)
		e.create("pacs-transfer", keys.PurposeTransport, "", 0)
		e.create("nightly-backup", keys.PurposeBackup, "", 365*24*time.Hour)
		e.create("discharge-signing", keys.PurposeSigning, keys.ECDSAP256, 0)
		e.create("audit-checkpoints", keys.PurposeAuditCheckpoint, "", 0)
		e.create("pseudonyms", keys.PurposeIntegration, keys.HMACSHA256, 0)
		admin := keys.Actor{UserID: 1, Login: "admin"}
		if _, err := e.svc.Rotate(ctx, admin, "ehr-notes"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetVersionState(ctx, admin, "pacs-transfer", 1, false); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetGrants(ctx, admin, "ehr-notes", []keys.Grant{
			{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt}},
			{Kind: "token", Subject: "12", Operations: []keys.Operation{keys.OpDecrypt}}}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			lang string
			want []string
		}{
			{"ja", []string{`<html lang="ja">`, "鍵管理", "保存データの暗号化", "監査ログのチェックポイント署名",
				"ECDSA P-256", "使用中", "使用中のバージョンなし", "2026-06-30", "自動ローテーションなし"}},
			{"en", []string{`<html lang="en">`, "Keys", "Stored data encryption", "Audit log checkpoint signing",
				"ECDSA P-256", "Active", "No active version", "2026-06-30", "No automatic rotation"}},
		}
		for _, tt := range tests {
			for _, who := range []string{"admin", "auditor"} {
				body := e.page("/keys", who, tt.lang)
				for _, s := range tt.want {
					if !strings.Contains(body, s) {
						t.Errorf("/keys as %s (%s) lacks %q", who, tt.lang, s)
					}
				}
				if m := untranslated.FindAllString(body, -1); m != nil {
					t.Errorf("/keys (%s) shows untranslated ids %v", tt.lang, m)
				}
				for _, name := range []string{"ehr-notes", "pacs-transfer", "discharge-signing", "audit-checkpoints", "pseudonyms"} {
					body := e.page("/keys/"+name, who, tt.lang)
					if m := untranslated.FindAllString(body, -1); m != nil {
						t.Errorf("/keys/%s (%s) shows untranslated ids %v", name, tt.lang, m)
					}
					if !strings.Contains(body, `<html lang="`+tt.lang+`">`) || !strings.Contains(body, "<h1>"+name+"</h1>") {
						t.Errorf("/keys/%s (%s) is not the key's page", name, tt.lang)
					}
				}
			}
		}
		detail := e.page("/keys/ehr-notes", "admin", "en")
		for _, s := range []string{"Role: Staff", "API token #12", "Decrypt and verify only", `id="version-2"`,
			"90 days", "情報システム室"} {
			if !strings.Contains(detail, s) {
				t.Errorf("detail of ehr-notes lacks %q", s)
			}
		}
		if w := e.do("GET", "/keys/no-such-key", "admin", "en", nil); w.Code != http.StatusNotFound ||
			untranslated.MatchString(w.Body.String()) {
			t.Errorf("unknown key: %d %s", w.Code, w.Body)
		}
	})
}

func TestPages_HSMWarningListsSigningKeysHeldInSoftware(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		if body := e.page("/keys", "auditor", "ja"); strings.Contains(body, `id="hsm-warning"`) {
			t.Fatal("a warning about signing keys with no signing key")
		}
		e.create("prescription-signing", keys.PurposeSigning, "", 0)
		e.create("audit-checkpoints", keys.PurposeAuditCheckpoint, "", 0)
		for _, lang := range []string{"ja", "en"} {
			body := e.page("/keys", "auditor", lang)
			i := strings.Index(body, `id="hsm-warning"`)
			if i < 0 {
				t.Fatalf("(%s) no HSM warning with signing keys under the local root", lang)
			}
			warning := body[i:]
			warning = warning[:strings.Index(warning, "</section>")]
			for _, s := range []string{`href="/keys/prescription-signing"`, `href="/keys/audit-checkpoints"`, "6.11 B-1 ④"} {
				if !strings.Contains(warning, s) {
					t.Errorf("(%s) the warning lacks %q:\n%s", lang, s, warning)
				}
			}
			if strings.Contains(warning, "ehr-notes") {
				t.Errorf("(%s) the warning lists an encryption key", lang)
			}
		}
		if body := e.page("/keys/prescription-signing", "auditor", "ja"); !strings.Contains(body, `id="hsm-warning"`) {
			t.Error("the signing key's page does not warn")
		}
		card := e.page("/", "auditor", "en")
		if !regexp.MustCompile(`badge warn">2</span>.*\s*<span class="stat-label">signing keys outside an HSM`).MatchString(card) {
			t.Errorf("dashboard card does not count 2 signing keys outside an HSM:\n%s", card)
		}
	})
}

func TestPages_SigningKeysInAnHSMRaiseNoWarning(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, hsmtest.Open(t, hsmtest.New(t)))
		e.create("prescription-signing", keys.PurposeSigning, "", 0)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		body := e.page("/keys", "admin", "ja")
		if strings.Contains(body, `id="hsm-warning"`) {
			t.Error("a warning for a signing key held in the HSM")
		}
		row := body[strings.Index(body, `id="key-prescription-signing"`):]
		row = row[:strings.Index(row, "</tr>")]
		if !strings.Contains(row, "HSM（PKCS#11）") || !strings.Contains(row, "HSM 内") {
			t.Errorf("the signing key's row does not say it is in the HSM:\n%s", row)
		}
		if card := e.page("/", "admin", "en"); !strings.Contains(card, `badge ok">0</span>`) {
			t.Errorf("dashboard card: %s", card)
		}
	})
}

func TestPages_CreateFormPointsOutMistakesAndCreates(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("existing", keys.PurposeStorage, "", 0)
		good := url.Values{"name": {"lab-results"}, "purpose": {"storage"}, "algorithm": {""},
			"owner": {"検査部"}, "rotation_days": {"90"}}
		with := func(k, v string) url.Values {
			f := url.Values{}
			for n, vs := range good {
				f[n] = vs
			}
			f.Set(k, v)
			return f
		}
		tests := []struct {
			name    string
			form    url.Values
			field   string // the id of the input marked invalid
			message string // in English
		}{
			{"name with capitals", with("name", "Lab Results"), "key-name", "A key name has up to 63 lower-case letters"},
			{"name taken", with("name", "existing"), "key-name", "A key with this name exists already"},
			{"no purpose", with("purpose", ""), "key-purpose", "Please choose a purpose"},
			{"unknown purpose", with("purpose", "gossip"), "key-purpose", "Please choose a purpose"},
			{"signing purpose, encryption algorithm", url.Values{"name": {"sig"}, "purpose": {"signing"},
				"algorithm": {"aes256-gcm"}, "rotation_days": {"0"}}, "key-algorithm", "does not fit the purpose"},
			{"encryption purpose, signing algorithm", with("algorithm", "ed25519"), "key-algorithm", "does not fit the purpose"},
			{"unknown algorithm", with("algorithm", "des"), "key-algorithm", "Please choose an algorithm"},
			{"owner too long", with("owner", strings.Repeat("x", 201)), "key-owner", "The owner is too long"},
			{"negative rotation", with("rotation_days", "-1"), "key-rotation", "3650"},
			{"rotation too long", with("rotation_days", "3651"), "key-rotation", "3650"},
			{"rotation not a number", with("rotation_days", "ninety"), "key-rotation", "3650"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := e.do("POST", "/keys", "admin", "en", tt.form)
				body := w.Body.String()
				if w.Code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422\n%s", w.Code, body)
				}
				field := regexp.MustCompile(`id="` + tt.field + `"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*` + tt.field + `-error`)
				if !field.MatchString(body) {
					t.Errorf("field %s is not marked invalid", tt.field)
				}
				i := strings.Index(body, `id="`+tt.field+`-error"`)
				if i < 0 || !strings.Contains(body[i:min(len(body), i+400)], tt.message) {
					t.Errorf("no message %q beside %s", tt.message, tt.field)
				}
				if !strings.Contains(body, `value="`+tt.form.Get("rotation_days")+`"`) {
					t.Error("the form does not keep what was typed")
				}
				if ks, _ := e.svc.List(context.Background()); len(ks) != 1 {
					t.Errorf("%d keys after a refused form", len(ks))
				}
			})
		}
		// In Japanese, with several mistakes at once.
		w := e.do("POST", "/keys", "admin", "ja", url.Values{"name": {"A"}, "purpose": {""}, "rotation_days": {"x"}})
		body := w.Body.String()
		if w.Code != http.StatusUnprocessableEntity || strings.Count(body, `class="error field-error"`) != 3 ||
			!strings.Contains(body, "用途を選んでください") || untranslated.MatchString(body) {
			t.Errorf("several mistakes in Japanese: %d\n%s", w.Code, body)
		}

		e.post("/keys", good, "/keys/lab-results", "keys.flash.created")
		k, err := e.svc.Get(context.Background(), "lab-results")
		if err != nil {
			t.Fatal(err)
		}
		if k.Algorithm != keys.AES256GCM || k.Owner != "検査部" || k.RotationPeriod != 90*24*time.Hour {
			t.Errorf("created %+v", k)
		}
		if got := e.audited("key.create"); len(got) != 2 || got[0] != "key:lab-results by admin" {
			t.Errorf("audit records of key.create: %v", got)
		}
	})
}

func TestPages_RotateDisableEnableAndMinimumVersionThroughForms(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		e.post("/keys/ehr-notes/rotate", url.Values{}, "/keys/ehr-notes", "keys.flash.rotated")
		e.post("/keys/ehr-notes/versions/1/disable", url.Values{}, "/keys/ehr-notes", "keys.flash.disabled")
		k, _ := e.svc.Get(ctx, "ehr-notes")
		if len(k.Versions) != 2 || k.Versions[0].State != keys.Disabled || k.Versions[1].State != keys.Active {
			t.Fatalf("after rotate and disable: %+v", k.Versions)
		}
		e.post("/keys/ehr-notes/versions/1/enable", url.Values{}, "/keys/ehr-notes", "keys.flash.enabled")
		e.post("/keys/ehr-notes/min-decrypt-version", url.Values{"min_decrypt_version": {"2"}}, "/keys/ehr-notes",
			"keys.flash.min_version")
		k, _ = e.svc.Get(ctx, "ehr-notes")
		if k.Versions[0].State != keys.DecryptOnly || k.MinDecryptVersion != 2 {
			t.Fatalf("after enable and minimum version: %+v min %d", k.Versions, k.MinDecryptVersion)
		}
		for _, v := range []string{"5", "0", "two"} {
			w := e.do("POST", "/keys/ehr-notes/min-decrypt-version", "admin", "en", url.Values{"min_decrypt_version": {v}})
			if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="min-version-error"`) {
				t.Errorf("minimum version %s: %d", v, w.Code)
			}
		}
		for path, want := range map[string]int{
			"/keys/no-such-key/rotate":              http.StatusNotFound,
			"/keys/ehr-notes/versions/9/disable":    http.StatusConflict,
			"/keys/ehr-notes/versions/x/enable":     http.StatusNotFound,
			"/keys/no-such-key/min-decrypt-version": http.StatusNotFound,
		} {
			if w := e.do("POST", path, "admin", "ja", url.Values{"min_decrypt_version": {"1"}}); w.Code != want {
				t.Errorf("POST %s: %d, want %d", path, w.Code, want)
			}
		}
		k, _ = e.svc.Get(ctx, "ehr-notes")
		if len(k.Versions) != 2 || k.MinDecryptVersion != 2 {
			t.Errorf("a refused action changed the key: %+v", k)
		}
		for _, action := range []string{"key.rotate", "key.disable", "key.enable", "key.min_version"} {
			if got := e.audited(action); len(got) != 1 || got[0] != "key:ehr-notes by admin" {
				t.Errorf("audit records of %s: %v", action, got)
			}
		}
	})
}

func TestPages_GrantsFormSetsRolesAndTokens(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		body := e.page("/keys/ehr-notes", "admin", "en")
		for _, s := range []string{`name="role_staff" value="encrypt"`, `name="role_csirt" value="datakey"`,
			`name="token_0"`, `name="token_1_op" value="rewrap"`} {
			if !strings.Contains(body, s) {
				t.Errorf("grants form lacks %s", s)
			}
		}
		if strings.Contains(body, `name="role_auditor"`) || strings.Contains(body, `value="sign"`) {
			t.Error("the form offers a role that cannot use keys or an operation the key lacks")
		}
		e.post("/keys/ehr-notes/grants", url.Values{"role_staff": {"encrypt", "decrypt"}, "token_0": {" 007 "},
			"token_0_op": {"decrypt"}, "token_1": {""}, "token_1_op": {"encrypt"}}, "/keys/ehr-notes#grants", "keys.flash.grants")
		got, err := e.svc.Grants(ctx, "ehr-notes")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[{role staff [encrypt decrypt]} {token 7 [decrypt]}]" {
			t.Fatalf("grants %v", got)
		}
		body = e.page("/keys/ehr-notes", "admin", "ja")
		if !strings.Contains(body, `name="role_staff" value="decrypt" aria-label="ロール：職員：復号" checked`) ||
			!strings.Contains(body, `name="token_0" value="7"`) {
			t.Error("the form does not show the stored grants")
		}
		tests := []struct {
			name    string
			form    url.Values
			message string
		}{
			{"the same token twice", url.Values{"token_0": {"7"}, "token_0_op": {"decrypt"}, "token_1": {"07"},
				"token_1_op": {"encrypt"}}, "listed twice"},
			{"an operation the key lacks", url.Values{"role_staff": {"sign"}}, "not supported by this key"},
			{"a token without operations", url.Values{"token_0": {"8"}}, "An operation is missing"},
			{"a token that is not a number", url.Values{"token_0": {"lis"}, "token_0_op": {"decrypt"}}, "API token id is not valid"},
		}
		for _, tt := range tests {
			w := e.do("POST", "/keys/ehr-notes/grants", "admin", "en", tt.form)
			if w.Code != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d, want 422", tt.name, w.Code)
				continue
			}
			body := w.Body.String()
			if i := strings.Index(body, `id="grants-error"`); i < 0 || !strings.Contains(body[i:], tt.message) {
				t.Errorf("%s: no message %q beside the grants", tt.name, tt.message)
			}
		}
		if again, _ := e.svc.Grants(ctx, "ehr-notes"); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Errorf("a refused form changed the grants: %v", again)
		}
		if got := e.audited("key.grants"); len(got) != 1 {
			t.Errorf("audit records of key.grants: %v", got)
		}
	})
}

func TestPages_AuditorReadsWithoutFormsAndIsRefusedChanges(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		forms := []string{`id="key-form"`, `id="rotate-form"`, `id="grants-form"`, `id="min-version-form"`, `/disable"`}
		for _, path := range []string{"/keys", "/keys/ehr-notes"} {
			body := e.page(path, "auditor", "ja")
			for _, f := range forms {
				if strings.Contains(body, f) {
					t.Errorf("%s shows the auditor a form (%s)", path, f)
				}
			}
			if !strings.Contains(body, `href="/keys"`) {
				t.Errorf("%s: no navigation entry for the keys", path)
			}
		}
		if body := e.page("/keys/ehr-notes", "admin", "ja"); !strings.Contains(body, `id="rotate-form"`) ||
			!strings.Contains(body, `id="grants-form"`) || !strings.Contains(body, `/versions/1/disable"`) {
			t.Error("the administrator does not see the forms")
		}
		posts := []string{"/keys", "/keys/ehr-notes/rotate", "/keys/ehr-notes/versions/1/disable",
			"/keys/ehr-notes/versions/1/enable", "/keys/ehr-notes/min-decrypt-version", "/keys/ehr-notes/grants"}
		for _, who := range []string{"auditor", "staff"} {
			for _, path := range posts {
				w := e.do("POST", path, who, "ja", url.Values{"name": {"x"}, "purpose": {"storage"},
					"rotation_days": {"1"}, "min_decrypt_version": {"1"}, "role_staff": {"encrypt"}})
				if w.Code != http.StatusForbidden {
					t.Errorf("POST %s as %s: %d, want 403", path, who, w.Code)
				}
			}
		}
		if w := e.do("GET", "/keys", "staff", "ja", nil); w.Code != http.StatusForbidden {
			t.Errorf("GET /keys as staff: %d, want 403", w.Code)
		}
		if w := e.do("GET", "/keys", "", "ja", nil); w.Code != http.StatusSeeOther {
			t.Errorf("GET /keys signed out: %d, want a redirect to sign in", w.Code)
		}
		k, _ := e.svc.Get(context.Background(), "ehr-notes")
		if len(k.Versions) != 1 || k.Versions[0].State != keys.Active {
			t.Errorf("a refused request changed the key: %+v", k.Versions)
		}
		if g, _ := e.svc.Grants(context.Background(), "ehr-notes"); len(g) != 0 {
			t.Errorf("a refused request set grants: %v", g)
		}
	})
}

func TestPages_OverdueRotationShowsOnTheListAndCard(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 30*24*time.Hour)
		e.create("pseudonyms", keys.PurposeIntegration, keys.HMACSHA256, 0)
		if body := e.page("/keys", "admin", "en"); strings.Contains(body, "Overdue") {
			t.Fatal("overdue on the day of creation")
		}
		e.clock.Advance(31 * 24 * time.Hour)
		body := e.page("/keys", "admin", "en")
		row := body[strings.Index(body, `id="key-ehr-notes"`):]
		if row = row[:strings.Index(row, "</tr>")]; !strings.Contains(row, "2026-05-01") || !strings.Contains(row, "Overdue") {
			t.Errorf("overdue key's row:\n%s", row)
		}
		card := e.page("/", "admin", "en")
		for _, re := range []string{`badge bad">1</span>.*\s*<span class="stat-label">keys past their rotation date`,
			`>2</span>.*\s*<span class="stat-label">keys<`} {
			if !regexp.MustCompile(re).MatchString(card) {
				t.Errorf("dashboard card does not match %s:\n%s", re, card)
			}
		}
	})
}

// svgNode is an element of the usage chart, decoded to count its parts.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

// count counts the elements below n with the given name and class (any
// class when it is "").
func (n svgNode) count(name, class string) int {
	c := 0
	for _, ch := range n.Nodes {
		if ch.XMLName.Local == name && (class == "" || ch.class() == class) {
			c++
		}
		c += ch.count(name, class)
	}
	return c
}

func (n svgNode) class() string {
	for _, a := range n.Attrs {
		if a.Name.Local == "class" {
			return a.Value
		}
	}
	return ""
}

func TestPages_UsageChartHasABarPerHourAndASegmentPerOperation(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		sys := keys.SystemCaller("test")
		nurse := keys.Caller{Principal: person(3, "nurse01", authz.Staff), Client: "10.0.0.7"}
		body := e.page("/keys/ehr-notes", "auditor", "en")
		if !strings.Contains(body, "No uses in the last 24 hours") {
			t.Error("the empty chart does not say so")
		}
		// Two days ago (outside the chart), then 10:xx and 12:xx in Tokyo
		// of the day before, and the current hour.
		e.clock.Set(time.Date(2026, 3, 30, 1, 0, 0, 0, time.UTC))
		if _, err := e.svc.Encrypt(ctx, sys, "ehr-notes", []byte("old"), nil); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(time.Date(2026, 3, 31, 1, 10, 0, 0, time.UTC))
		for range 3 {
			if _, err := e.svc.Encrypt(ctx, sys, "ehr-notes", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
		}
		ct, err := e.svc.Encrypt(ctx, sys, "ehr-notes", []byte("y"), keys.Context{"patient": "P-1"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(time.Date(2026, 3, 31, 3, 30, 0, 0, time.UTC))
		for range 2 {
			if _, err := e.svc.Decrypt(ctx, sys, ct, keys.Context{"patient": "P-1"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Decrypt(ctx, sys, ct, keys.Context{"patient": "P-2"}); err == nil {
			t.Fatal("decrypted with a wrong context")
		}
		e.clock.Set(time.Date(2026, 4, 1, 0, 20, 0, 0, time.UTC))
		if _, err := e.svc.Encrypt(ctx, nurse, "ehr-notes", []byte("z"), nil); err == nil {
			t.Fatal("encrypted without a grant")
		}
		if err := e.svc.FlushUsage(ctx, true); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"ja", "en"} {
			body := e.page("/keys/ehr-notes", "auditor", lang)
			start, end := strings.Index(body, "<svg"), strings.Index(body, "</svg>")
			if start < 0 || end < 0 {
				t.Fatalf("(%s) no chart", lang)
			}
			var svg svgNode
			dec := xml.NewDecoder(strings.NewReader(body[start : end+len("</svg>")]))
			dec.Strict = true
			if err := dec.Decode(&svg); err != nil {
				t.Fatalf("(%s) the chart is not well-formed: %v", lang, err)
			}
			if n := svg.count("g", "bar"); n != 24 {
				t.Errorf("(%s) %d bars, want 24 (one per hour)", lang, n)
			}
			// 10:00 encrypt, 12:00 decrypt and failure, 09:00 failure: four
			// segments, plus one legend swatch per series (4 operations
			// and failures).
			if n := svg.count("rect", "") - 5; n != 4 {
				t.Errorf("(%s) %d bar segments, want 4", lang, n)
			}
			if svg.Nodes[0].XMLName.Local != "title" || svg.Nodes[1].XMLName.Local != "desc" {
				t.Errorf("(%s) the chart has no title and description first", lang)
			}
			desc := svg.Nodes[1].Text
			want := map[string]string{"en": "8 uses in all, 2 of them failed", "ja": "合計 8 回、うち失敗 2 回"}[lang]
			if !strings.Contains(desc, want) {
				t.Errorf("(%s) description %q, want %q", lang, desc, want)
			}
			label := map[string]string{"en": "Hour (JST)", "ja": "時刻（JST）"}[lang]
			if !strings.Contains(body[start:end], label) {
				t.Errorf("(%s) no axis label %q", lang, label)
			}
			table := body[strings.Index(body, `id="usage-chart-table"`):]
			table = table[:strings.Index(table, "</table>")]
			if rows := strings.Count(table, `<th scope="row">`); rows != 24 {
				t.Errorf("(%s) the data table has %d rows, want 24", lang, rows)
			}
			if !strings.Contains(table, `<th scope="row">10:00</th><td>4</td>`) {
				t.Errorf("(%s) the data table lacks the four uses of 10:00:\n%s", lang, table)
			}
		}
	})
}

func TestPages_SealedServiceSaysSoAndRefusesChanges(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, stillSealed{})
		for _, lang := range []string{"ja", "en"} {
			body := e.page("/keys", "admin", lang)
			if !strings.Contains(body, `id="sealed"`) || untranslated.MatchString(body) {
				t.Errorf("(%s) the list does not say the service is sealed", lang)
			}
		}
		w := e.do("POST", "/keys", "admin", "en", url.Values{"name": {"ehr-notes"}, "purpose": {"storage"},
			"rotation_days": {"30"}})
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "The key service is sealed") {
			t.Errorf("create while sealed: %d\n%s", w.Code, w.Body)
		}
		if ks, _ := e.svc.List(context.Background()); len(ks) != 0 {
			t.Errorf("a key was created while sealed: %v", ks)
		}
	})
}
