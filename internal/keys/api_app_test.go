package keys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The same API through a whole anzen: real sessions after sign-in with a
// second factor, real API tokens, the key service as anzen unseals it.

// appCall is one caller of the API: a signed-in client or a token.
type appCall struct {
	e      *apptest.Env
	client *http.Client
	bearer string
}

func (c appCall) do(t *testing.T, method, path string, body any, out any) (int, string) {
	t.Helper()
	var buf []byte
	if body != nil {
		var err error
		if buf, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.e.URL+path, bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.client
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text := apptest.ReadBody(t, resp)
	if resp.StatusCode >= 400 {
		var p web.Problem
		_ = json.Unmarshal([]byte(text), &p)
		return resp.StatusCode, strings.TrimPrefix(p.Type, web.ProblemTypePrefix)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, text)
		}
	}
	return resp.StatusCode, ""
}

func (c appCall) want(t *testing.T, status int, kind, method, path string, body any, out any) {
	t.Helper()
	got, gotKind := c.do(t, method, path, body, out)
	if got != status || gotKind != kind {
		t.Fatalf("%s %s: %d %s, want %d %s", method, path, got, gotKind, status, kind)
	}
}

func TestAPIApp_StaffAndTokensUseAKeyOnlyWithItsGrant(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			admin := appCall{e: e, client: e.Login(t, e.CreateUser(t, "key-admin", true,
				authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities}))}
			nurse := appCall{e: e, client: e.Login(t, e.CreateUser(t, "nurse01", true))}
			tok, secret, err := e.App.Identity.CreateToken(ctx, identity.SystemActor, identity.NewToken{Name: "lis",
				Scopes: []string{"keys"}, Facility: authz.AllFacilities})
			if err != nil {
				t.Fatal(err)
			}
			lis := appCall{e: e, bearer: secret}
			_, readSecret, err := e.App.Identity.CreateToken(ctx, identity.SystemActor, identity.NewToken{Name: "siem",
				Scopes: []string{"read"}, Facility: authz.AllFacilities})
			if err != nil {
				t.Fatal(err)
			}
			reader := appCall{e: e, bearer: readSecret}

			admin.want(t, 201, "", "POST", "/api/v1/keys", map[string]any{"name": "lab-results", "purpose": "storage"}, nil)
			ec := keys.Context{"patient": "P-000123"}
			enc := map[string]any{"plaintext": b64("Hb 13.2 g/dL"), "context": ec}
			nurse.want(t, 403, "key-denied", "POST", "/api/v1/keys/lab-results/encrypt", enc, nil)
			lis.want(t, 403, "key-denied", "POST", "/api/v1/keys/lab-results/encrypt", enc, nil)
			reader.want(t, 403, "forbidden", "POST", "/api/v1/keys/lab-results/encrypt", enc, nil)
			nurse.want(t, 403, "forbidden", "POST", "/api/v1/keys/lab-results/rotate", nil, nil)

			admin.want(t, 200, "", "PUT", "/api/v1/keys/lab-results/grants", map[string]any{"grants": []keys.Grant{
				{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt}},
				{Kind: "token", Subject: strconv.FormatInt(tok.ID, 10), Operations: []keys.Operation{keys.OpDecrypt}},
			}}, nil)
			var ct keys.CiphertextResponse
			nurse.want(t, 200, "", "POST", "/api/v1/keys/lab-results/encrypt", enc, &ct)
			var pt keys.PlaintextResponse
			nurse.want(t, 200, "", "POST", "/api/v1/keys/decrypt", map[string]any{"ciphertext": ct.Ciphertext, "context": ec}, &pt)
			if unb64(t, pt.Plaintext) != "Hb 13.2 g/dL" {
				t.Fatalf("nurse decrypt = %q", pt.Plaintext)
			}
			pt = keys.PlaintextResponse{}
			lis.want(t, 200, "", "POST", "/api/v1/keys/decrypt", map[string]any{"ciphertext": ct.Ciphertext, "context": ec}, &pt)
			if unb64(t, pt.Plaintext) != "Hb 13.2 g/dL" {
				t.Fatalf("token decrypt = %q", pt.Plaintext)
			}
			lis.want(t, 403, "key-denied", "POST", "/api/v1/keys/lab-results/encrypt", enc, nil)
			nurse.want(t, 422, "context-mismatch", "POST", "/api/v1/keys/decrypt",
				map[string]any{"ciphertext": ct.Ciphertext, "context": keys.Context{"patient": "P-000124"}}, nil)
			raw, _ := keys.DecodeText(ct.Ciphertext)
			raw[len(raw)-1] ^= 0x80
			nurse.want(t, 422, "context-mismatch", "POST", "/api/v1/keys/decrypt",
				map[string]any{"ciphertext": keys.EncodeText(raw), "context": ec}, nil)
			nurse.want(t, 404, "key-not-found", "POST", "/api/v1/keys/lab/encrypt", enc, nil)

			// The key service of this anzen recorded the changes and, once
			// flushed, the uses.
			if err := e.App.Keys.FlushUsage(ctx, true); err != nil {
				t.Fatal(err)
			}
			var list keys.KeyList
			reader.want(t, 200, "", "GET", "/api/v1/keys", nil, &list)
			found := false
			for _, k := range list.Keys {
				found = found || k.Name == "lab-results"
			}
			if !found {
				t.Fatalf("lab-results is not in the list: %+v", list)
			}
		})
	}
}
