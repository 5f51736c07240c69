// Package apptest starts a whole anzen for a test: a fresh database on
// SQLite or PostgreSQL, every part, and an HTTP server on a loopback port,
// with a frozen clock the test moves. It also makes signed-in users, so
// that a test of a page or an API route is a few lines.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Dialects are the databases every end-to-end test runs on.
var Dialects = []string{"sqlite", "postgres"}

// Env is a running anzen for one test.
type Env struct {
	App    *app.App
	Server *httptest.Server
	URL    string // http://localhost:PORT, the configured public URL
	Clock  *clock.Frozen
	Web    *web.Server
	// Facility is the id of the first facility, made at bootstrap.
	Facility int64
	// AdminPassword is the first administrator's one-time password.
	AdminPassword string
}

// Option changes the configuration before anzen starts.
type Option func(*config.Config)

// New starts anzen on dialect ("sqlite" or "postgres") and stops it when
// the test ends. The clock starts at 2026-04-01 09:00 JST and moves only
// when the test moves it. The failure delay is 0 unless an option sets it.
func New(t testing.TB, dialect string, opts ...Option) *Env {
	t.Helper()
	return NewWithLog(t, dialect, nil, opts...)
}

// NewWithLog is New with anzen's own log written to logOut at debug level
// (for tests that read what anzen logs); nil discards it.
func NewWithLog(t testing.TB, dialect string, logOut io.Writer, opts ...Option) *Env {
	t.Helper()
	UseCheapKeyDerivation()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.FailureDelay = 0
	cfg.LoginRatePerMin = 100000
	cfg.Metrics = true // every route registered, as the route and OpenAPI tests expect
	// Tests change the database behind anzen's back (the CLI, direct SQL)
	// and expect the next request to see it; the session cache has its
	// own tests in internal/identity.
	cfg.SessionCacheTTL = 0
	switch dialect {
	case "sqlite":
	case "postgres":
		cfg.DSN = dbtest.PostgresDSN(t)
	default:
		t.Fatalf("apptest: unknown dialect %q", dialect)
	}
	// Listen first, so that the public URL (WebAuthn's origin) names the
	// real port; "localhost", since WebAuthn refuses IP addresses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apptest: listen: %v", err)
	}
	cfg.PublicURL = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	for _, o := range opts {
		o(cfg)
	}
	clk := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case logOut != nil:
		log = slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case testing.Verbose():
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, log, clk)
	if err != nil {
		t.Fatalf("apptest: open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	var out bytes.Buffer
	if err := a.Bootstrap(ctx, &out); err != nil {
		t.Fatalf("apptest: bootstrap: %v", err)
	}
	h, srv, err := a.Handler()
	if err != nil {
		t.Fatalf("apptest: handler: %v", err)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	e := &Env{App: a, Server: hs, URL: cfg.PublicURL, Clock: clk, Web: srv}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "password: "); ok {
			e.AdminPassword = v
		}
	}
	fs, err := a.Identity.Facilities(ctx)
	if err != nil || len(fs) == 0 {
		t.Fatalf("apptest: no facility after bootstrap: %v", err)
	}
	e.Facility = fs[0].ID
	return e
}

// UseCheapKeyDerivation makes every anzen started afterwards in this test
// binary hash passwords and seal its root key with argon2id at a test-only
// cost (64 KiB, one pass) instead of anzen's (19 MiB and 64 MiB): under
// -race each bootstrap, user and sign-in took 1–3 s and each start that
// unseals the root 5–20 s. internal/identity and internal/keys test the
// real cost; the switches panic outside a test binary. New calls it;
// tests that call app.Open themselves call it first (TestMain).
func UseCheapKeyDerivation() {
	identity.UseCheapPasswordHashesInTests()
	keys.UseCheapSealingInTests()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// User is a user made by the test, with what it takes to sign in.
type User struct {
	*identity.User
	Password   string
	TOTPSecret string // empty when the user has no TOTP
}

// Code returns the user's current TOTP code. Each call moves the clock on
// by one 30-second step first, so that two codes are never the same step
// (anzen refuses a code twice).
func (e *Env) Code(t testing.TB, u *User) string {
	t.Helper()
	e.Clock.Advance(30 * time.Second)
	code, err := totp.GenerateCodeCustom(u.TOTPSecret, e.Clock.Now(), totp.ValidateOpts{Period: 30,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// CreateUser makes an active user with the given grants, a known password
// already changed (no forced change) and, when withTOTP, an enrolled TOTP.
func (e *Env) CreateUser(t testing.TB, login string, withTOTP bool, grants ...authz.Grant) *User {
	t.Helper()
	ctx := context.Background()
	if len(grants) == 0 {
		grants = []authz.Grant{{Role: authz.Staff, Facility: e.Facility}}
	}
	svc := e.App.Identity
	u, initial, err := svc.CreateUser(ctx, identity.SystemActor, identity.NewUser{Facility: e.Facility, Login: login,
		Name: "テスト " + login, NameKana: "テスト", Department: "検査", Profession: "nurse", Grants: grants})
	if err != nil {
		t.Fatalf("apptest: create user %s: %v", login, err)
	}
	password := "Kq7#" + strings.ToUpper(login[:1]) + "-tz9pLw!x"
	if err := svc.ChangePassword(ctx, identity.SystemActor, u.ID, initial, password); err != nil {
		t.Fatalf("apptest: set password of %s: %v", login, err)
	}
	tu := &User{User: u, Password: password}
	if withTOTP {
		enr, err := svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		tu.TOTPSecret = enr.Secret
		if _, err := svc.ConfirmTOTP(ctx, identity.SystemActor, u, e.Code(t, tu)); err != nil {
			t.Fatalf("apptest: enrol TOTP of %s: %v", login, err)
		}
	}
	fresh, err := svc.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	tu.User = fresh
	return tu
}

// Client returns an HTTP client with its own cookie jar that does not
// follow redirects.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Login signs u in through POST /api/v1/session and returns a client that
// carries the session cookie.
func (e *Env) Login(t testing.TB, u *User) *http.Client {
	t.Helper()
	c := e.Client()
	body := map[string]string{"login": u.Login, "password": u.Password}
	if u.TOTPSecret != "" {
		body["otp"] = e.Code(t, u)
	}
	resp := e.Do(t, c, "POST", "/api/v1/session", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("apptest: login %s: status %d: %s", u.Login, resp.StatusCode, ReadBody(t, resp))
	}
	resp.Body.Close()
	return c
}

// Do sends a request; a non-nil body that is not an io.Reader is sent as
// JSON.
func (e *Env) Do(t testing.TB, c *http.Client, method, path string, body any) *http.Response {
	t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	case string:
		r = strings.NewReader(b)
		ct = "application/x-www-form-urlencoded"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(buf)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// ReadBody reads and closes a response body.
func ReadBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
