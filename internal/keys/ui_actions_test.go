package keys_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// resultOf returns the value of the op's i-th result on an actions page.
func resultOf(t *testing.T, body, op, i string) string {
	t.Helper()
	re := regexp.MustCompile(`id="action-` + op + `-result-` + i + `"[^>]*>([^<]*)<`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no result %s of %s in\n%s", i, op, body)
	}
	return html.UnescapeString(m[1])
}

// grantStaff lets the staff role use the key for ops.
func grantStaff(t *testing.T, e *pageEnv, name string, ops ...keys.Operation) {
	t.Helper()
	if err := e.svc.SetGrants(context.Background(), keys.Actor{UserID: 1, Login: "admin"}, name,
		[]keys.Grant{{Kind: "role", Subject: "staff", Operations: ops}}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyActions_EncryptThenDecryptThroughThePage(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		grantStaff(t, e, "ehr-notes", keys.OpEncrypt, keys.OpDecrypt)
		ctxText := "patient=12345\r\ntable=notes\n\n"
		w := e.do("POST", "/keys/ehr-notes/actions", "staff", "ja", url.Values{
			"op": {"encrypt"}, "plaintext": {"血圧 120/80 <normal>"}, "context": {ctxText}})
		if w.Code != http.StatusOK {
			t.Fatalf("encrypt: %d\n%s", w.Code, w.Body)
		}
		ct := resultOf(t, w.Body.String(), "encrypt", "0")
		if !strings.HasPrefix(ct, keys.TextPrefix) {
			t.Fatalf("ciphertext %q", ct)
		}
		w = e.do("POST", "/keys/ehr-notes/actions", "staff", "ja", url.Values{
			"op": {"decrypt"}, "ciphertext": {ct}, "context": {"table=notes\npatient=12345"}})
		if w.Code != http.StatusOK {
			t.Fatalf("decrypt: %d\n%s", w.Code, w.Body)
		}
		if got := resultOf(t, w.Body.String(), "decrypt", "0"); got != "血圧 120/80 <normal>" {
			t.Errorf("decrypted %q", got)
		}
		if got := e.svc.FlushUsage(context.Background(), true); got != nil {
			t.Fatal(got)
		}
		if got := e.audited("key.use"); len(got) == 0 {
			t.Error("no usage audit for the page's uses")
		}

		// Wrong context, and a ciphertext of another key.
		w = e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{
			"op": {"decrypt"}, "ciphertext": {ct}, "context": {"patient=99999\ntable=notes"}})
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="action-decrypt-error"`) ||
			!strings.Contains(w.Body.String(), "does not match") {
			t.Errorf("wrong context: %d\n%s", w.Code, w.Body)
		}
		e.create("other", keys.PurposeStorage, "", 0)
		grantStaff(t, e, "other", keys.OpDecrypt)
		w = e.do("POST", "/keys/other/actions", "staff", "en", url.Values{"op": {"decrypt"}, "ciphertext": {ct}})
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "another key") {
			t.Errorf("other key's ciphertext: %d\n%s", w.Code, w.Body)
		}
	})
}

func TestKeyActions_BadInputIsRefusedBesideTheForm(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		grantStaff(t, e, "ehr-notes", keys.OpEncrypt, keys.OpDecrypt, keys.OpRewrap, keys.OpDataKey)
		tests := []struct {
			name   string
			form   url.Values
			status int
			want   string
		}{
			{"context without =", url.Values{"op": {"encrypt"}, "plaintext": {"x"}, "context": {"patient"}}, 422, `id="encrypt-context-error"`},
			{"context key twice", url.Values{"op": {"encrypt"}, "plaintext": {"x"}, "context": {"a=1\na=2"}}, 422, `id="encrypt-context-error"`},
			{"empty plaintext", url.Values{"op": {"encrypt"}}, 422, `id="encrypt-plaintext-error"`},
			{"not a ciphertext", url.Values{"op": {"decrypt"}, "ciphertext": {"hello"}}, 422, `id="decrypt-ciphertext-error"`},
			{"damaged ciphertext", url.Values{"op": {"rewrap"}, "ciphertext": {"anzen:AAAA"}}, 422, `id="rewrap-ciphertext-error"`},
			{"operation of another algorithm", url.Values{"op": {"sign"}, "message": {"x"}}, 422, "does not support"},
			{"unknown operation", url.Values{"op": {"launch"}}, 422, "does not support"},
		}
		for _, tt := range tests {
			w := e.do("POST", "/keys/ehr-notes/actions", "staff", "en", tt.form)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("%s: %d, want %d with %s\n%s", tt.name, w.Code, tt.status, tt.want, w.Body)
			}
		}
		// The data key, with and without its plaintext, then rewrapped.
		w := e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{"op": {"datakey"}, "with_plaintext": {"1"}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `id="action-datakey-result-1"`) {
			t.Fatalf("datakey: %d\n%s", w.Code, w.Body)
		}
		w = e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{"op": {"datakey"}})
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `id="action-datakey-result-1"`) {
			t.Fatalf("datakey without plaintext: %d\n%s", w.Code, w.Body)
		}
		wrapped := resultOf(t, w.Body.String(), "datakey", "0")
		w = e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{"op": {"rewrap"}, "ciphertext": {wrapped}})
		if w.Code != http.StatusOK || !strings.HasPrefix(resultOf(t, w.Body.String(), "rewrap", "0"), keys.TextPrefix) {
			t.Fatalf("rewrap: %d\n%s", w.Code, w.Body)
		}
		w = e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{"op": {"decrypt"}, "ciphertext": {wrapped}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "base64") {
			t.Fatalf("decrypt data key: %d\n%s", w.Code, w.Body)
		}
	})
}

func TestKeyActions_NoGrantOrNoPermissionIsForbidden(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		grantStaff(t, e, "ehr-notes", keys.OpEncrypt)
		for _, lang := range []string{"ja", "en"} {
			w := e.do("POST", "/keys/ehr-notes/actions", "admin", lang, url.Values{"op": {"encrypt"}, "plaintext": {"x"}})
			want := map[string]string{"ja": "許可", "en": "not allowed"}[lang]
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="action-encrypt-error"`) ||
				!strings.Contains(w.Body.String(), want) {
				t.Errorf("admin without a grant (%s): %d\n%s", lang, w.Code, w.Body)
			}
		}
		if w := e.do("POST", "/keys/ehr-notes/actions", "staff", "en", url.Values{"op": {"decrypt"}, "ciphertext": {"x"}}); w.Code == http.StatusOK {
			t.Errorf("staff decrypting without that grant: %d", w.Code)
		}
		for _, m := range []string{"GET", "POST"} {
			var form url.Values
			if m == "POST" {
				form = url.Values{"op": {"encrypt"}, "plaintext": {"x"}}
			}
			if w := e.do(m, "/keys/ehr-notes/actions", "auditor", "en", form); w.Code != http.StatusForbidden {
				t.Errorf("auditor %s: %d, want 403", m, w.Code)
			}
		}
		if w := e.do("GET", "/keys/nothing/actions", "staff", "en", nil); w.Code != http.StatusNotFound {
			t.Errorf("unknown key: %d, want 404", w.Code)
		}
	})
}

func TestKeyActions_SignThenVerifyAndHMAC(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("discharge-signing", keys.PurposeSigning, keys.Ed25519, 0)
		grantStaff(t, e, "discharge-signing", keys.OpSign, keys.OpVerify)
		w := e.do("POST", "/keys/discharge-signing/actions", "staff", "ja", url.Values{"op": {"sign"}, "message": {"退院サマリー 第1版"}})
		if w.Code != http.StatusOK {
			t.Fatalf("sign: %d\n%s", w.Code, w.Body)
		}
		sig := resultOf(t, w.Body.String(), "sign", "0")
		for msg, want := range map[string]string{"退院サマリー 第1版": "action-verify-valid", "退院サマリー 第2版": "action-verify-invalid"} {
			w = e.do("POST", "/keys/discharge-signing/actions", "staff", "ja", url.Values{"op": {"verify"}, "message": {msg}, "signature": {sig}})
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `id="`+want+`"`) {
				t.Errorf("verify %q: %d, want %s\n%s", msg, w.Code, want, w.Body)
			}
		}

		e.create("pseudonyms", keys.PurposeIntegration, keys.HMACSHA256, 0)
		grantStaff(t, e, "pseudonyms", keys.OpHMAC, keys.OpVerify)
		w = e.do("POST", "/keys/pseudonyms/actions", "staff", "en", url.Values{"op": {"hmac"}, "message": {"12345"}})
		if w.Code != http.StatusOK {
			t.Fatalf("hmac: %d\n%s", w.Code, w.Body)
		}
		mac := resultOf(t, w.Body.String(), "hmac", "0")
		w = e.do("POST", "/keys/pseudonyms/actions", "staff", "en", url.Values{"op": {"verify"}, "message": {"12345"}, "signature": {mac}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `id="action-verify-valid"`) {
			t.Errorf("verify mac: %d\n%s", w.Code, w.Body)
		}
	})
}

func TestKeyActions_PagesRenderInBothLanguages(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		e.create("discharge-signing", keys.PurposeSigning, keys.ECDSAP256, 0)
		e.create("pseudonyms", keys.PurposeIntegration, keys.HMACSHA256, 0)
		forms := map[string][]string{
			"ehr-notes":         {"encrypt", "decrypt", "rewrap", "datakey"},
			"discharge-signing": {"sign", "verify"},
			"pseudonyms":        {"hmac", "verify"},
		}
		for name, ops := range forms {
			for _, lang := range []string{"ja", "en"} {
				body := e.page("/keys/"+name+"/actions", "staff", lang)
				if m := untranslated.FindString(body); m != "" {
					t.Errorf("%s (%s): untranslated %s", name, lang, m)
				}
				for _, op := range keys.Operations {
					has := strings.Contains(body, `id="action-`+string(op)+`-form"`)
					want := false
					for _, o := range ops {
						want = want || o == string(op)
					}
					if has != want {
						t.Errorf("%s (%s): form %s shown %v, want %v", name, lang, op, has, want)
					}
				}
			}
			if body := e.page("/keys/"+name, "admin", "ja"); !strings.Contains(body, `href="/keys/`+name+`/actions"`) {
				t.Errorf("%s: the key's page has no link to its actions", name)
			}
		}
		if body := e.page("/keys/ehr-notes", "auditor", "en"); strings.Contains(body, `id="actions-link"`) {
			t.Error("the auditor sees a link to actions they may not use")
		}
	})
}
