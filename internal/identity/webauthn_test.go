package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// These tests drive the WebAuthn routes with softKey, a software
// authenticator, the way webauthn.js drives them from a browser.

type ceremonyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		Exclude []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		Allow []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

type finishAnswer struct {
	Redirect      string   `json:"redirect"`
	RecoveryCodes []string `json:"recovery_codes"`
}

type problemAnswer struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func post(t *testing.T, e *apptest.Env, c *http.Client, path string, body any) (int, string) {
	t.Helper()
	resp := e.Do(t, c, "POST", path, body)
	return resp.StatusCode, apptest.ReadBody(t, resp)
}

func begin(t *testing.T, e *apptest.Env, c *http.Client, path string) ceremonyOptions {
	t.Helper()
	status, body := post(t, e, c, path, map[string]any{})
	if status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, status, body)
	}
	var o ceremonyOptions
	if err := json.Unmarshal([]byte(body), &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("POST %s: no options in %s (%v)", path, body, err)
	}
	return o
}

func finish(t *testing.T, e *apptest.Env, c *http.Client, path string, body any) finishAnswer {
	t.Helper()
	status, b := post(t, e, c, path, body)
	if status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, status, b)
	}
	var a finishAnswer
	if err := json.Unmarshal([]byte(b), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func wantProblem(t *testing.T, status int, body string, wantStatus int, wantType string) {
	t.Helper()
	var p problemAnswer
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("want problem %s, got %d %s", wantType, status, body)
	}
	if status != wantStatus || p.Type != "urn:anzen:problem:"+wantType || p.Detail == "" {
		t.Fatalf("want %d %s, got %d %s", wantStatus, wantType, status, body)
	}
}

// signIn posts the password form and returns a client whose session is
// part-way through sign-in.
func signIn(t *testing.T, e *apptest.Env, u *apptest.User) *http.Client {
	t.Helper()
	c := e.Client()
	form := url.Values{"login": {u.Login}, "password": {u.Password}}.Encode()
	resp := e.Do(t, c, "POST", "/login", form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/continue" {
		t.Fatalf("password sign-in of %s: %d to %q", u.Login, resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

// signedIn reports whether the client's session is fully signed in.
func signedIn(t *testing.T, e *apptest.Env, c *http.Client) bool {
	t.Helper()
	resp := e.Do(t, c, "GET", "/api/v1/me", nil)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func newKey(t *testing.T, e *apptest.Env) *softKey { return newSoftKey(t, "localhost", e.URL) }

// enrolAtSignIn registers a first key for u during sign-in and returns
// it with the now signed-in client.
func enrolAtSignIn(t *testing.T, e *apptest.Env, u *apptest.User) (*softKey, *http.Client, finishAnswer) {
	t.Helper()
	c := signIn(t, e, u)
	k := newKey(t, e)
	o := begin(t, e, c, "/login/enrol/webauthn/begin")
	a := finish(t, e, c, "/login/enrol/webauthn/finish",
		map[string]any{"name": "青い USB キー", "credential": k.create(t, o.PublicKey.Challenge)})
	return k, c, a
}

// bearer sends an API token with every request.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func handleOf(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func auditCount(t *testing.T, e *apptest.Env, action, detailKey, detailValue string) int {
	t.Helper()
	entries, _, err := e.App.Audit.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if detailKey == "" || en.Detail[detailKey] == detailValue {
			n++
		}
	}
	return n
}

func TestWebAuthn_EnrolAtSignInShowsCodesThenKeySignsIn(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse01", false)

			c := signIn(t, e, u)
			resp := e.Do(t, c, "GET", "/login/continue", nil)
			if page := apptest.ReadBody(t, resp); !strings.Contains(page, `id="webauthn-enrol"`) ||
				!strings.Contains(page, `id="totp-enrol-form"`) || !strings.Contains(page, `id="webauthn-codes"`) {
				t.Fatalf("enrolment page offers no security key beside TOTP:\n%s", page)
			}
			o := begin(t, e, c, "/login/enrol/webauthn/begin")
			if o.PublicKey.RP.ID != "localhost" || o.PublicKey.RP.Name != "anzen" {
				t.Errorf("rp = %+v, want localhost / anzen", o.PublicKey.RP)
			}
			if o.PublicKey.User.ID != base64.RawURLEncoding.EncodeToString(handleOf(u.ID)) || o.PublicKey.User.Name != "nurse01" {
				t.Errorf("user = %+v, want the 8-byte id of user %d", o.PublicKey.User, u.ID)
			}
			if signedIn(t, e, c) {
				t.Fatal("signed in before any second factor")
			}
			k := newKey(t, e)
			a := finish(t, e, c, "/login/enrol/webauthn/finish",
				map[string]any{"name": "青い USB キー", "credential": k.create(t, o.PublicKey.Challenge)})
			if a.Redirect != "/" || len(a.RecoveryCodes) != 10 {
				t.Fatalf("enrol answer = %+v, want redirect / and 10 recovery codes", a)
			}
			if !signedIn(t, e, c) {
				t.Fatal("not signed in after enrolling a key")
			}
			keys, err := e.App.Identity.WebAuthnKeys(context.Background(), u.ID)
			if err != nil || len(keys) != 1 || keys[0].Name != "青い USB キー" {
				t.Fatalf("keys = %+v, %v", keys, err)
			}
			if n := auditCount(t, e, "mfa.enrol", "factor", "webauthn"); n != 1 {
				t.Errorf("mfa.enrol factor=webauthn recorded %d times, want 1", n)
			}

			// Next sign-in: the key is the second factor.
			c = signIn(t, e, u)
			resp = e.Do(t, c, "GET", "/login/continue", nil)
			page := apptest.ReadBody(t, resp)
			if !strings.Contains(page, `id="webauthn-login"`) || !strings.Contains(page, "/static/identity/webauthn.js") {
				t.Fatalf("second-factor page offers no security key:\n%s", page)
			}
			e.Clock.Advance(time.Minute)
			o = begin(t, e, c, "/login/webauthn/begin")
			if len(o.PublicKey.Allow) != 1 || o.PublicKey.Allow[0].ID != b64u(k.id) {
				t.Fatalf("allowCredentials = %+v, want the registered key", o.PublicKey.Allow)
			}
			a = finish(t, e, c, "/login/webauthn/finish",
				map[string]any{"credential": k.get(t, o.PublicKey.Challenge, handleOf(u.ID))})
			if a.Redirect != "/" || len(a.RecoveryCodes) != 0 {
				t.Fatalf("login answer = %+v", a)
			}
			if !signedIn(t, e, c) {
				t.Fatal("not signed in after the key's assertion")
			}
			keys, _ = e.App.Identity.WebAuthnKeys(context.Background(), u.ID)
			if !keys[0].LastUsedAt.Equal(e.Clock.Now()) {
				t.Errorf("last used = %v, want %v", keys[0].LastUsedAt, e.Clock.Now())
			}
			if n := auditCount(t, e, "login.success", "method", "webauthn"); n != 2 {
				t.Errorf("login.success method=webauthn recorded %d times, want 2 (enrolment and key)", n)
			}

			// Settings list the key and offer to add another.
			resp = e.Do(t, c, "GET", "/settings", nil)
			if page := apptest.ReadBody(t, resp); !strings.Contains(page, "青い USB キー") || !strings.Contains(page, `id="webauthn-add"`) {
				t.Fatalf("settings page does not list the key or offer to add one:\n%s", page)
			}
		})
	}
}

func TestWebAuthn_SecondFactorPageOffersKeyOnlyToUsersWithKeys(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse02", true)
			c := signIn(t, e, u)
			resp := e.Do(t, c, "GET", "/login/continue", nil)
			page := apptest.ReadBody(t, resp)
			if !strings.Contains(page, `id="totp-form"`) || strings.Contains(page, `id="webauthn-login"`) {
				t.Fatalf("TOTP-only user: want the code form and no key button:\n%s", page)
			}
			status, body := post(t, e, c, "/login/webauthn/begin", map[string]any{})
			wantProblem(t, status, body, http.StatusConflict, "webauthn-no-keys")
		})
	}
}

// TestWebAuthn_RefusesReplayCloneAndFinishWithoutBegin checks every way a
// login assertion is refused; each leaves the session part-way.
func TestWebAuthn_RefusesReplayCloneAndFinishWithoutBegin(t *testing.T) {
	cases := []struct {
		name     string
		attempt  func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string)
		status   int
		problem  string
		auditWhy string
	}{
		{"finish without begin", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": k.get(t, "AAAAAAAAAAAAAAAAAAAAAA", h)})
		}, http.StatusBadRequest, "webauthn-no-ceremony", "webauthn_no_ceremony"},
		{"assertion that signed in before, replayed", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			begin(t, e, c, "/login/webauthn/begin")
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": prev})
		}, http.StatusUnauthorized, "webauthn-failed", "wrong_webauthn"},
		{"assertion of an earlier ceremony replayed", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			old := begin(t, e, c, "/login/webauthn/begin")
			stale := k.get(t, old.PublicKey.Challenge, h)
			begin(t, e, c, "/login/webauthn/begin") // a new begin replaces the old ceremony
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": stale})
		}, http.StatusUnauthorized, "webauthn-failed", "wrong_webauthn"},
		{"same finish sent twice", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			o := begin(t, e, c, "/login/webauthn/begin")
			wrong := newKey(t, e).get(t, o.PublicKey.Challenge, h)
			post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": wrong})
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": k.get(t, o.PublicKey.Challenge, h)})
		}, http.StatusBadRequest, "webauthn-no-ceremony", "webauthn_no_ceremony"},
		{"signature counter not advanced", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			o := begin(t, e, c, "/login/webauthn/begin")
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": k.sign(t, o.PublicKey.Challenge, h)})
		}, http.StatusUnauthorized, "webauthn-clone-warning", "webauthn_clone_warning"},
		{"key not registered", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			o := begin(t, e, c, "/login/webauthn/begin")
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": newKey(t, e).get(t, o.PublicKey.Challenge, h)})
		}, http.StatusUnauthorized, "webauthn-failed", "wrong_webauthn"},
		{"assertion made for another site", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			o := begin(t, e, c, "/login/webauthn/begin")
			phish := *k
			phish.origin = "http://anzen.example.net"
			defer func() { k.count = phish.count }()
			return post(t, e, c, "/login/webauthn/finish", map[string]any{"credential": phish.get(t, o.PublicKey.Challenge, h)})
		}, http.StatusUnauthorized, "webauthn-failed", "wrong_webauthn"},
		{"assertion for a registration ceremony", func(t *testing.T, e *apptest.Env, c *http.Client, k *softKey, h []byte, prev json.RawMessage) (int, string) {
			return post(t, e, c, "/login/enrol/webauthn/finish", map[string]any{"name": "x", "credential": newKey(t, e).create(t, "AAAAAAAAAAAAAAAAAAAAAA")})
		}, http.StatusConflict, "login-step", ""},
	}
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					u := e.CreateUser(t, fmt.Sprintf("nurse%02d", 10+i), false)
					k, _, _ := enrolAtSignIn(t, e, u)
					// One good sign-in first, so that the key's counter is stored.
					c := signIn(t, e, u)
					o := begin(t, e, c, "/login/webauthn/begin")
					prev := k.get(t, o.PublicKey.Challenge, handleOf(u.ID))
					finish(t, e, c, "/login/webauthn/finish", map[string]any{"credential": prev})

					c = signIn(t, e, u)
					before := auditCount(t, e, "login.failure", "reason", tc.auditWhy)
					status, body := tc.attempt(t, e, c, k, handleOf(u.ID), prev)
					wantProblem(t, status, body, tc.status, tc.problem)
					if signedIn(t, e, c) {
						t.Fatal("signed in after a refused assertion")
					}
					if tc.auditWhy != "" && auditCount(t, e, "login.failure", "reason", tc.auditWhy) <= before {
						t.Errorf("no login.failure with reason %s recorded", tc.auditWhy)
					}
					// The right key with a fresh ceremony still signs in.
					o = begin(t, e, c, "/login/webauthn/begin")
					finish(t, e, c, "/login/webauthn/finish", map[string]any{"credential": k.get(t, o.PublicKey.Challenge, handleOf(u.ID))})
					if !signedIn(t, e, c) {
						t.Fatal("the registered key no longer signs in")
					}
				})
			}
		})
	}
}

func TestWebAuthn_RegistrationFinishWithoutBeginIsRefused(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse03", false)
			c := signIn(t, e, u)
			k := newKey(t, e)
			status, body := post(t, e, c, "/login/enrol/webauthn/finish",
				map[string]any{"name": "キー", "credential": k.create(t, "AAAAAAAAAAAAAAAAAAAAAA")})
			wantProblem(t, status, body, http.StatusBadRequest, "webauthn-no-ceremony")
			// A ceremony's challenge must be the one signed.
			begin(t, e, c, "/login/enrol/webauthn/begin")
			status, body = post(t, e, c, "/login/enrol/webauthn/finish",
				map[string]any{"name": "キー", "credential": k.create(t, "AAAAAAAAAAAAAAAAAAAAAA")})
			wantProblem(t, status, body, http.StatusBadRequest, "webauthn-invalid")
			if keys, _ := e.App.Identity.WebAuthnKeys(context.Background(), u.ID); len(keys) != 0 || signedIn(t, e, c) {
				t.Fatalf("refused registrations stored %d keys or signed in", len(keys))
			}
		})
	}
}

func TestWebAuthn_SettingsAddsKeysExcludingRegisteredOnes(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse04", false)
			k1, c, _ := enrolAtSignIn(t, e, u)

			o := begin(t, e, c, "/settings/webauthn/begin")
			if len(o.PublicKey.Exclude) != 1 || o.PublicKey.Exclude[0].ID != b64u(k1.id) {
				t.Fatalf("excludeCredentials = %+v, want the first key", o.PublicKey.Exclude)
			}
			// The same key again is refused even when the browser ignored the exclusion.
			status, body := post(t, e, c, "/settings/webauthn/finish",
				map[string]any{"name": "同じキー", "credential": k1.create(t, o.PublicKey.Challenge)})
			wantProblem(t, status, body, http.StatusConflict, "webauthn-duplicate")

			k2 := newKey(t, e)
			o = begin(t, e, c, "/settings/webauthn/begin")
			a := finish(t, e, c, "/settings/webauthn/finish",
				map[string]any{"name": "ナースステーション PC", "credential": k2.create(t, o.PublicKey.Challenge)})
			if a.Redirect != "/settings" || len(a.RecoveryCodes) != 0 {
				t.Fatalf("settings answer = %+v, want /settings and no new codes", a)
			}
			keys, _ := e.App.Identity.WebAuthnKeys(context.Background(), u.ID)
			if len(keys) != 2 || keys[1].Name != "ナースステーション PC" {
				t.Fatalf("keys = %+v", keys)
			}
			// Either key is offered and signs in.
			for _, k := range []*softKey{k2, k1} {
				c := signIn(t, e, u)
				o := begin(t, e, c, "/login/webauthn/begin")
				if len(o.PublicKey.Allow) != 2 {
					t.Fatalf("allowCredentials = %+v, want both keys", o.PublicKey.Allow)
				}
				finish(t, e, c, "/login/webauthn/finish", map[string]any{"credential": k.get(t, o.PublicKey.Challenge, nil)})
			}
		})
	}
}

func TestWebAuthn_FirstKeyInSettingsMakesRecoveryCodes(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d, func(c *config.Config) { c.MFARoles = []string{"admin"} })
			u := e.CreateUser(t, "clerk01", false)
			c := e.Login(t, u)
			k := newKey(t, e)
			o := begin(t, e, c, "/settings/webauthn/begin")
			a := finish(t, e, c, "/settings/webauthn/finish", map[string]any{"name": "キー", "credential": k.create(t, o.PublicKey.Challenge)})
			if a.Redirect != "/settings" || len(a.RecoveryCodes) != 10 {
				t.Fatalf("answer = %+v, want 10 recovery codes with the first factor", a)
			}
		})
	}
}

func TestWebAuthn_RemoveKeyRefusesLastRequiredFactor(t *testing.T) {
	cases := []struct {
		name       string
		mfaRoles   []string
		secondKey  bool
		otherUsers bool
		status     int
		keysLeft   int
	}{
		{"last factor of a user who must have one", nil, false, false, http.StatusConflict, 1},
		{"one of two keys", nil, true, false, http.StatusSeeOther, 1},
		{"last factor of a user who need not have one", []string{"admin"}, false, false, http.StatusSeeOther, 0},
		{"another person's key", nil, true, true, http.StatusNotFound, 2},
	}
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var opts []apptest.Option
					if tc.mfaRoles != nil {
						opts = append(opts, func(c *config.Config) { c.MFARoles = tc.mfaRoles })
					}
					e := apptest.New(t, d, opts...)
					u := e.CreateUser(t, "nurse05", false)
					var c *http.Client
					if tc.mfaRoles == nil {
						_, c, _ = enrolAtSignIn(t, e, u)
					} else {
						c = e.Login(t, u)
						o := begin(t, e, c, "/settings/webauthn/begin")
						finish(t, e, c, "/settings/webauthn/finish", map[string]any{"name": "キー", "credential": newKey(t, e).create(t, o.PublicKey.Challenge)})
					}
					if tc.secondKey {
						o := begin(t, e, c, "/settings/webauthn/begin")
						finish(t, e, c, "/settings/webauthn/finish", map[string]any{"name": "予備", "credential": newKey(t, e).create(t, o.PublicKey.Challenge)})
					}
					keys, _ := e.App.Identity.WebAuthnKeys(context.Background(), u.ID)
					remover := c
					if tc.otherUsers {
						other := e.CreateUser(t, "nurse06", false)
						_, remover, _ = enrolAtSignIn(t, e, other)
					}
					before := auditCount(t, e, "mfa.remove", "factor", "webauthn")
					resp := e.Do(t, remover, "POST", fmt.Sprintf("/settings/webauthn/%d/remove", keys[0].ID), "")
					body := apptest.ReadBody(t, resp)
					if resp.StatusCode != tc.status {
						t.Fatalf("remove: %d, want %d\n%s", resp.StatusCode, tc.status, body)
					}
					left, _ := e.App.Identity.WebAuthnKeys(context.Background(), u.ID)
					if len(left) != tc.keysLeft {
						t.Fatalf("%d keys left, want %d", len(left), tc.keysLeft)
					}
					removed := auditCount(t, e, "mfa.remove", "factor", "webauthn") - before
					if want := len(keys) - tc.keysLeft; removed != want {
						t.Errorf("mfa.remove recorded %d times, want %d", removed, want)
					}
				})
			}
		})
	}
}

func TestWebAuthn_RoutesRefuseWrongStepAndBadInput(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			withTOTP := e.CreateUser(t, "nurse07", true)
			pendingTOTP := signIn(t, e, withTOTP)
			fresh := e.CreateUser(t, "nurse08", false)
			pendingEnrol := signIn(t, e, fresh)
			full := e.Login(t, withTOTP)
			_, token, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor,
				identity.NewToken{Name: "ehr-feed", Scopes: []string{"read"}, Facility: e.Facility})
			if err != nil {
				t.Fatal(err)
			}
			program := &http.Client{Transport: bearer(token)}

			cases := []struct {
				name    string
				c       *http.Client
				path    string
				body    any
				status  int
				problem string
			}{
				{"enrolment by a user who has a factor", pendingTOTP, "/login/enrol/webauthn/begin", map[string]any{}, http.StatusConflict, "login-step"},
				{"key sign-in by a user who must enrol", pendingEnrol, "/login/webauthn/begin", map[string]any{}, http.StatusConflict, "login-step"},
				{"sign-in ceremony on a full session", full, "/login/webauthn/begin", map[string]any{}, http.StatusConflict, "login-step"},
				{"form body", pendingEnrol, "/login/enrol/webauthn/begin", "a=b", http.StatusUnsupportedMediaType, "unsupported-media-type"},
				{"unknown field", pendingEnrol, "/login/enrol/webauthn/begin", map[string]any{"x": 1}, http.StatusBadRequest, "unknown-field"},
				{"name too long", full, "/settings/webauthn/finish", map[string]any{"name": strings.Repeat("鍵", 65), "credential": map[string]any{}}, http.StatusUnprocessableEntity, "validation"},
				{"name empty", full, "/settings/webauthn/finish", map[string]any{"name": " ", "credential": map[string]any{}}, http.StatusUnprocessableEntity, "validation"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					status, body := post(t, e, tc.c, tc.path, tc.body)
					wantProblem(t, status, body, tc.status, tc.problem)
				})
			}
			// An API token is a program: the web guard refuses it every page,
			// these among them, before any handler runs.
			for _, path := range []string{"/settings/webauthn/begin", "/settings/webauthn/1/remove"} {
				resp := e.Do(t, program, "POST", path, "")
				if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s by an API token: %d, want 403\n%s", path, resp.StatusCode, body)
				}
			}
			// A credential that is no credential is refused, and uses up
			// its ceremony.
			begin(t, e, pendingEnrol, "/login/enrol/webauthn/begin")
			for _, cred := range []any{5, nil, map[string]any{"id": "!", "type": "public-key"}} {
				status, body := post(t, e, pendingEnrol, "/login/enrol/webauthn/finish", map[string]any{"name": "k", "credential": cred})
				wantProblem(t, status, body, http.StatusBadRequest, "webauthn-invalid")
				begin(t, e, pendingEnrol, "/login/enrol/webauthn/begin")
			}
			// A refused name leaves the ceremony in place: the same key
			// with a good name is then accepted.
			k := newKey(t, e)
			o := begin(t, e, full, "/settings/webauthn/begin")
			cred := k.create(t, o.PublicKey.Challenge)
			status, body := post(t, e, full, "/settings/webauthn/finish", map[string]any{"name": "", "credential": cred})
			wantProblem(t, status, body, http.StatusUnprocessableEntity, "validation")
			finish(t, e, full, "/settings/webauthn/finish", map[string]any{"name": "キー", "credential": cred})
		})
	}
}

func TestWebAuthn_ParallelFinishesUseOneCeremonyOnce(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse09", false)
			k, _, _ := enrolAtSignIn(t, e, u)
			c := signIn(t, e, u)
			o := begin(t, e, c, "/login/webauthn/begin")
			cred := k.get(t, o.PublicKey.Challenge, handleOf(u.ID))
			const n = 8
			var wg sync.WaitGroup
			statuses := make(chan int, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := e.Do(t, c, "POST", "/login/webauthn/finish", map[string]any{"credential": cred})
					resp.Body.Close()
					statuses <- resp.StatusCode
				}()
			}
			wg.Wait()
			close(statuses)
			ok := 0
			for s := range statuses {
				if s == http.StatusOK {
					ok++
				}
			}
			if ok != 1 {
				t.Fatalf("%d of %d parallel finishes succeeded, want exactly 1", ok, n)
			}
		})
	}
}
