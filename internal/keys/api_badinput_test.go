package keys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// snapshot is what the key service has stored: keys, versions (with their
// wrapped material), grants, and the number of audit records.
func (e *apiEnv) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name, purpose, algorithm, owner, rotation_period_ms, min_decrypt_version, updated_at FROM keys_keys ORDER BY id`,
		`SELECT key_id, version, state, root, material, public_key, updated_at FROM keys_versions ORDER BY key_id, version`,
		`SELECT key_id, kind, subject, operations FROM keys_grants ORDER BY key_id, kind, subject`,
	} {
		rows, err := e.db.QueryContext(ctx, q)
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	n, err := e.log.Count(ctx, audit.Filter{AllFacilities: true})
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(&b, "audit records: %d\n", n)
	return b.String()
}

func TestAPI_BadInputIsRefusedAndChangesNothing(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("ehr-notes", "storage", "")
		e.create("sig", "signing", "ed25519")
		e.grant("ehr-notes", keys.Grant{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt}})
		role := func(subject string, ops ...keys.Operation) keys.Grant {
			return keys.Grant{Kind: "role", Subject: subject, Operations: ops}
		}
		many := make([]keys.Grant, 101)
		for i := range many {
			many[i] = keys.Grant{Kind: "token", Subject: fmt.Sprint(i + 1), Operations: []keys.Operation{keys.OpEncrypt}}
		}
		create := func(fields map[string]any) map[string]any {
			body := map[string]any{"name": "new-key", "purpose": "storage"}
			for k, v := range fields {
				body[k] = v
			}
			return body
		}
		tests := []struct {
			name, method, path string
			body               any
			status             int
			kind               string
			fields             []string
		}{
			{"name with capitals", "POST", "/api/v1/keys", create(map[string]any{"name": "EHR Notes"}), 422, "validation", []string{"name"}},
			{"name taken", "POST", "/api/v1/keys", create(map[string]any{"name": "ehr-notes"}), 422, "validation", []string{"name"}},
			{"unknown purpose", "POST", "/api/v1/keys", create(map[string]any{"purpose": "fun"}), 422, "validation", []string{"purpose"}},
			{"signing purpose with AES", "POST", "/api/v1/keys", create(map[string]any{"purpose": "signing", "algorithm": "aes256-gcm"}),
				422, "validation", []string{"algorithm"}},
			{"unknown algorithm", "POST", "/api/v1/keys", create(map[string]any{"algorithm": "des"}), 422, "validation", []string{"algorithm"}},
			{"owner too long", "POST", "/api/v1/keys", create(map[string]any{"owner": strings.Repeat("x", 201)}), 422, "validation", []string{"owner"}},
			{"negative rotation", "POST", "/api/v1/keys", create(map[string]any{"rotation_days": -1}), 422, "validation", []string{"rotation_days"}},
			{"rotation over ten years", "POST", "/api/v1/keys", create(map[string]any{"rotation_days": 3651}), 422, "validation", []string{"rotation_days"}},
			{"rotation and name both wrong", "POST", "/api/v1/keys", create(map[string]any{"name": "-x", "rotation_days": 99999}),
				422, "validation", []string{"name", "rotation_days"}},
			{"rotation beyond int64", "POST", "/api/v1/keys", `{"name":"new-key","purpose":"storage","rotation_days":1e300}`, 400, "invalid-field-type", nil},
			{"several fields", "POST", "/api/v1/keys", map[string]any{"name": "", "purpose": ""}, 422, "validation", []string{"name", "purpose"}},
			{"unknown field", "POST", "/api/v1/keys", create(map[string]any{"material": "AAAA"}), 400, "unknown-field", nil},
			{"rotate an unknown key", "POST", "/api/v1/keys/nothing/rotate", nil, 404, "key-not-found", nil},
			{"disable an unknown version", "POST", "/api/v1/keys/ehr-notes/versions/5/disable", nil, 409, "key-version", nil},
			{"minimum version 0", "PUT", "/api/v1/keys/ehr-notes/min-decrypt-version", map[string]any{"min_decrypt_version": 0},
				422, "validation", []string{"min_decrypt_version"}},
			{"minimum version above the newest", "PUT", "/api/v1/keys/ehr-notes/min-decrypt-version",
				map[string]any{"min_decrypt_version": 2}, 422, "validation", []string{"min_decrypt_version"}},
			{"minimum version of an unknown key", "PUT", "/api/v1/keys/nothing/min-decrypt-version",
				map[string]any{"min_decrypt_version": 1}, 404, "key-not-found", nil},
			{"grant to an unknown role", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{role("nurse", keys.OpEncrypt)}}, 422, "validation", []string{"grants"}},
			{"grant to a token that is no number", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{{Kind: "token", Subject: "lis", Operations: []keys.Operation{keys.OpEncrypt}}}},
				422, "validation", []string{"grants"}},
			{"grant to a group", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{{Kind: "group", Subject: "ward-3", Operations: []keys.Operation{keys.OpEncrypt}}}},
				422, "validation", []string{"grants"}},
			{"grant of an operation the key lacks", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{role("staff", keys.OpSign)}}, 422, "validation", []string{"grants"}},
			{"grant of no operation", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{role("staff")}}, 422, "validation", []string{"grants"}},
			{"the same role twice", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{role("staff", keys.OpEncrypt), role("staff", keys.OpDecrypt)}},
				422, "validation", []string{"grants"}},
			{"the same token twice in two spellings", "PUT", "/api/v1/keys/ehr-notes/grants",
				map[string]any{"grants": []keys.Grant{{Kind: "token", Subject: "7", Operations: []keys.Operation{keys.OpEncrypt}},
					{Kind: "token", Subject: "007", Operations: []keys.Operation{keys.OpDecrypt}}}},
				422, "validation", []string{"grants"}},
			{"too many grants", "PUT", "/api/v1/keys/ehr-notes/grants", map[string]any{"grants": many}, 422, "validation", []string{"grants"}},
			{"grants of an unknown key", "PUT", "/api/v1/keys/nothing/grants", map[string]any{"grants": []keys.Grant{}}, 404, "key-not-found", nil},
			{"grants not a list", "PUT", "/api/v1/keys/ehr-notes/grants", `{"grants":{"kind":"role"}}`, 400, "invalid-field-type", nil},
			{"encrypt plaintext not base64", "POST", "/api/v1/keys/ehr-notes/encrypt", map[string]any{"plaintext": "a b"},
				422, "validation", []string{"plaintext"}},
			{"encrypt with too many context pairs", "POST", "/api/v1/keys/ehr-notes/encrypt",
				map[string]any{"plaintext": "", "context": manyPairs(33)}, 422, "validation", []string{"context"}},
			{"sign with an unknown key", "POST", "/api/v1/keys/nothing/sign", map[string]any{"message": ""}, 404, "key-not-found", nil},
			{"verify without a signature", "POST", "/api/v1/keys/verify", map[string]any{"message": ""}, 422, "validation", []string{"signature"}},
			{"empty body", "POST", "/api/v1/keys/decrypt", "", 400, "invalid-json", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.snapshot()
				a := e.refused(tt.status, tt.kind, "admin", tt.method, tt.path, tt.body)
				if after := e.snapshot(); after != before {
					t.Errorf("stored state changed:\nbefore %s\nafter  %s", before, after)
				}
				var p web.Problem
				if err := json.Unmarshal(a.body, &p); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, fe := range p.Errors {
					got = append(got, fe.Field)
					if fe.Message == "" || strings.HasPrefix(fe.Message, "keys.") || strings.HasPrefix(fe.Message, "[") {
						t.Errorf("field %s: untranslated message %q", fe.Field, fe.Message)
					}
				}
				if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
					t.Errorf("errors name %v, want %v", got, tt.fields)
				}
			})
		}
	})
}

func manyPairs(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprint("k", i)] = "v"
	}
	return m
}

func TestAPI_ProblemsSpeakTheCallersLanguage(t *testing.T) {
	e := newAPIEnv(t, dbtest.SQLite(t, apiParts...), true)
	for lang, want := range map[string]string{"ja": "この名前の鍵はありません", "en": "There is no key with this name"} {
		r := httptest.NewRequest("GET", "/api/v1/keys/nothing", nil)
		r.Header.Set("X-Test-As", "admin")
		r.Header.Set("Accept-Language", lang)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		var p web.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != 404 || !strings.Contains(p.Detail, want) {
			t.Errorf("%s: %d %+v, want detail %q", lang, w.Code, p, want)
		}
	}
}

func TestAPI_SealedServiceAnswers503AndStillLists(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		open := newAPIEnv(t, d, true)
		open.create("ehr-notes", "storage", "")
		open.grant("ehr-notes", keys.Grant{Kind: "role", Subject: "admin", Operations: []keys.Operation{keys.OpEncrypt}})
		sealed := newAPIEnv(t, d, false)
		before := sealed.snapshot()
		sealed.refused(http.StatusServiceUnavailable, "sealed", "admin", "POST", "/api/v1/keys/ehr-notes/encrypt",
			map[string]any{"plaintext": b64("x")})
		sealed.refused(http.StatusServiceUnavailable, "sealed", "admin", "POST", "/api/v1/keys",
			map[string]any{"name": "other", "purpose": "storage"})
		sealed.refused(http.StatusServiceUnavailable, "sealed", "admin", "POST", "/api/v1/keys/ehr-notes/rotate", nil)
		if after := sealed.snapshot(); after != before {
			t.Errorf("a sealed service changed what is stored:\n%s\n%s", before, after)
		}
		var list keys.KeyList
		sealed.ok(http.StatusOK, &list, "admin", "GET", "/api/v1/keys", nil)
		if len(list.Keys) != 1 {
			t.Fatalf("list while sealed: %+v", list)
		}
	})
}
