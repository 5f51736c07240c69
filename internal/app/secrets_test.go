package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogs_NeverContainSecrets signs in with right and wrong passwords,
// TOTP codes, a recovery code and an API token, with anzen's own log at
// debug level, and checks that none of those secrets appear in the log.
func TestLogs_NeverContainSecrets(t *testing.T) {
	var logs lockedBuffer
	e := apptest.NewWithLog(t, "sqlite", &logs)
	ctx := context.Background()
	u := e.CreateUser(t, "ward3nurse", true)
	c := e.Login(t, u)
	code := e.Code(t, u)

	wrong := "Wr0ng-Pa55word!zz"
	resp := e.Do(t, e.Client(), "POST", "/api/v1/session",
		map[string]string{"login": u.Login, "password": wrong})
	resp.Body.Close()
	resp = e.Do(t, e.Client(), "POST", "/api/v1/session",
		map[string]string{"login": u.Login, "password": u.Password, "otp": code})
	resp.Body.Close()
	resp = e.Do(t, e.Client(), "POST", "/login", "login=ward3nurse&password="+wrong)
	resp.Body.Close()

	codes, err := e.App.Identity.NewRecoveryCodes(ctx, identity.SystemActor, u.User)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.Identity.UseRecoveryCode(ctx, u.User, codes[0]); err != nil {
		t.Fatal(err)
	}
	_, token, err := e.App.Identity.CreateToken(ctx, identity.SystemActor,
		identity.NewToken{Name: "ehr-shipper", Scopes: []string{"read"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	resp = e.Do(t, c, "POST", "/logout", "")
	resp.Body.Close()

	out := logs.String()
	if !strings.Contains(out, `"path":"/api/v1/session"`) {
		t.Fatalf("the log does not show the requests; the test would prove nothing:\n%s", out)
	}
	secrets := map[string]string{"password": u.Password, "wrong password": wrong, "TOTP code": code,
		"TOTP secret": u.TOTPSecret, "recovery code": codes[0], "API token": token,
		"initial admin password": e.AdminPassword}
	for what, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("anzen's log contains the %s", what)
		}
	}
}
