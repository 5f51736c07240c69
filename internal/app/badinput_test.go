package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Bad input to the JSON API gets a 4xx problem+json of a stable type and
// changes nothing stored: each request is made between two snapshots of
// the whole database (see storeSnapshot), which must be equal but for the
// security events that record the refusal.

const sqlMeta = "'; DROP TABLE identity_users; --"

var (
	longText = strings.Repeat("x", 10000)
	// deepJSON nests arrays past encoding/json's limit of 10000 levels.
	deepJSON = `{"login":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
)

// rawRequest is one request of a bad-input test.
type rawRequest struct {
	method, path string
	contentType  string // "" sends none
	body         []byte
	chunked      bool   // send without Content-Length
	cookie       string // session secret
	bearer       string // API token
	// op is the route's operation in the OpenAPI document: the status of
	// a refusal must be one it documents.
	op map[string]any
}

type rawAnswer struct {
	status  int
	ctype   string
	problem web.Problem
	body    string
}

func sendRaw(t *testing.T, e *apptest.Env, rq rawRequest) rawAnswer {
	t.Helper()
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
		if rq.chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
	}
	req, err := http.NewRequest(rq.method, e.URL+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	if rq.cookie != "" {
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: rq.cookie})
	}
	if rq.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := rawAnswer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}
	_ = json.Unmarshal(b, &a.problem)
	return a
}

// refusedUnchanged sends rq between two snapshots and checks that it was
// refused with status and problem type kind (any documented 4xx type when
// kind is "") and that nothing stored changed.
func refusedUnchanged(t *testing.T, e *apptest.Env, rq rawRequest, status int, kinds ...string) {
	t.Helper()
	before := takeSnapshot(t, e)
	a := sendRaw(t, e, rq)
	after := takeSnapshot(t, e)
	if d := before.diff(after); d != "" {
		t.Errorf("%s %s changed what is stored:%s", rq.method, rq.path, d)
	}
	if a.ctype != "application/problem+json" {
		t.Fatalf("%s %s: %d %q %.300s, want problem+json", rq.method, rq.path, a.status, a.ctype, a.body)
	}
	kind := strings.TrimPrefix(a.problem.Type, web.ProblemTypePrefix)
	switch {
	case status != 0 && a.status != status:
		t.Errorf("%s %s: status %d (%s), want %d", rq.method, rq.path, a.status, kind, status)
	case a.status < 400 || a.status > 499:
		t.Errorf("%s %s: status %d (%s), want 4xx", rq.method, rq.path, a.status, kind)
	}
	if len(kinds) > 0 && !slices.Contains(kinds, kind) {
		t.Errorf("%s %s: problem type %q, want %v (%s)", rq.method, rq.path, kind, kinds, a.problem.Detail)
	}
	if a.problem.Status != a.status || a.problem.Title == "" || !strings.HasPrefix(a.problem.Type, web.ProblemTypePrefix) {
		t.Errorf("%s %s: malformed problem %+v", rq.method, rq.path, a.problem)
	}
	checkDocumented(t, rq, a.status)
}

// checkDocumented checks that the OpenAPI document lists status among the
// responses of rq's operation.
func checkDocumented(t *testing.T, rq rawRequest, status int) {
	t.Helper()
	if rq.op == nil {
		t.Fatalf("%s %s: no documented operation to check the answer against", rq.method, rq.path)
	}
	responses, _ := rq.op["responses"].(map[string]any)
	if _, ok := responses[strconv.Itoa(status)]; !ok {
		if _, ok := responses["default"]; !ok {
			t.Errorf("%s %s answered %d, which its OpenAPI operation does not document", rq.method, rq.path, status)
		}
	}
}

func TestBadInput_SignInRefusesAndChangesNothing(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			op := docOperations(fetchOpenAPI(t, e))["POST /api/v1/session"]
			u := e.CreateUser(t, "bad-input", true)
			max := int(e.App.Cfg.MaxBodyBytes)
			oversize := []byte(`{"login":"` + strings.Repeat("a", max) + `","password":"x"}`)
			tests := []struct {
				name        string
				contentType string
				body        string
				chunked     bool
				status      int
				kind        string
			}{
				{"login of the wrong type", "application/json", `{"login":5,"password":"x"}`, false, 400, "invalid-field-type"},
				{"password of the wrong type", "application/json", `{"login":"x","password":true}`, false, 400, "invalid-field-type"},
				{"otp as a number", "application/json", `{"login":"x","password":"y","otp":123456}`, false, 400, "invalid-field-type"},
				{"number too large for anything", "application/json", `{"login":1e400,"password":"y"}`, false, 400, "invalid-field-type"},
				{"body over the limit with its length", "application/json", string(oversize), false, 413, "body-too-large"},
				{"body over the limit sent chunked", "application/json", string(oversize), true, 413, "body-too-large"},
				{"unknown field", "application/json", `{"login":"x","password":"y","admin":true}`, false, 400, "unknown-field"},
				{"invalid UTF-8 in a string", "application/json", "{\"login\":\"\xff\xfe\",\"password\":\"y\"}", false, 400, "invalid-utf8"},
				{"invalid UTF-8 outside strings", "application/json", "\xef\xbb\xbf\xc0{}", false, 400, "invalid-utf8"},
				{"plain text", "text/plain", `{"login":"x","password":"y"}`, false, 415, "unsupported-media-type"},
				{"form", "application/x-www-form-urlencoded", "login=x&password=y", false, 415, "unsupported-media-type"},
				{"JSON look-alike type", "application/jsonx", `{"login":"x","password":"y"}`, false, 415, "unsupported-media-type"},
				{"malformed content type", "application/json; charset", `{"login":"x","password":"y"}`, false, 415, "unsupported-media-type"},
				{"SQL in the login", "application/json", `{"login":"` + sqlMeta + `","password":"x"}`, false, 401, "invalid-credentials"},
				{"SQL in the password", "application/json", `{"login":"nobody","password":"` + sqlMeta + `"}`, false, 401, "invalid-credentials"},
				{"SQL in both", "application/json", `{"login":"` + sqlMeta + `","password":"` + sqlMeta + `","otp":"` + sqlMeta + `"}`, false, 401, "invalid-credentials"},
				{"NUL in the login", "application/json", `{"login":"bad\u0000input","password":"x"}`, false, 401, "invalid-credentials"},
				{"10000-character login", "application/json", `{"login":"` + longText + `","password":"x"}`, false, 401, "invalid-credentials"},
				{"10000-character password", "application/json", `{"login":"nobody","password":"` + longText + `"}`, false, 401, "invalid-credentials"},
				{"empty body", "application/json", "", false, 400, "invalid-json"},
				{"white space only", "application/json", " \n\t ", false, 400, "invalid-json"},
				{"array instead of object", "application/json", `[{"login":"x","password":"y"}]`, false, 400, "invalid-field-type"},
				{"string instead of object", "application/json", `"login"`, false, 400, "invalid-field-type"},
				{"deeply nested", "application/json", deepJSON, false, 400, "invalid-json"},
				{"nested object as the login", "application/json", `{"login":{"$ne":null},"password":"x"}`, false, 400, "invalid-field-type"},
				{"cut short", "application/json", `{"login":"x","password":`, false, 400, "invalid-json"},
				{"a second object after the first", "application/json", `{"login":"x","password":"y"}{"login":"z"}`, false, 400, "invalid-json"},
				{"a stray brace after the object", "application/json", `{"login":"x","password":"y"}}`, false, 400, "invalid-json"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					refusedUnchanged(t, e, rawRequest{method: "POST", path: "/api/v1/session", contentType: tt.contentType,
						body: []byte(tt.body), chunked: tt.chunked, op: op}, tt.status, tt.kind)
				})
			}
			// The right password with a bad second factor: refused, the
			// code's time step is not used up, and a wrong code counts
			// towards the lockout like a wrong password (an empty one asks
			// for the code and counts nothing).
			for name, otp := range map[string]string{"SQL in the code": sqlMeta, "10000-character code": longText,
				"code with letters": "12345a", "empty code": ""} {
				t.Run("right password, "+name, func(t *testing.T) {
					if err := e.App.Identity.Unlock(context.Background(), identity.SystemActor, u.Login); err != nil {
						t.Fatal(err)
					}
					var stepBefore, stepAfter int64
					e.App.DB.QueryRowContext(context.Background(), `SELECT last_step FROM identity_totp WHERE user_id = ?`, u.ID).Scan(&stepBefore)
					body, _ := json.Marshal(map[string]string{"login": u.Login, "password": u.Password, "otp": otp})
					kind, wantFailures := "second-factor-invalid", 1
					if otp == "" {
						kind, wantFailures = "second-factor-required", 0
					}
					a := sendRaw(t, e, rawRequest{method: "POST", path: "/api/v1/session", contentType: "application/json",
						body: body, op: op})
					if a.status != 401 || strings.TrimPrefix(a.problem.Type, web.ProblemTypePrefix) != kind {
						t.Fatalf("status %d %s, want 401 %s", a.status, a.problem.Type, kind)
					}
					e.App.DB.QueryRowContext(context.Background(), `SELECT last_step FROM identity_totp WHERE user_id = ?`, u.ID).Scan(&stepAfter)
					if stepAfter != stepBefore {
						t.Errorf("a refused code used up the time step (%d -> %d)", stepBefore, stepAfter)
					}
					if got, err := e.App.Identity.UserByLogin(context.Background(), u.Login); err != nil || got.FailedCount != wantFailures {
						t.Errorf("failed count after the attempt: %d, want %d (%v)", got.FailedCount, wantFailures, err)
					}
				})
			}
			if err := e.App.Identity.Unlock(context.Background(), identity.SystemActor, u.Login); err != nil {
				t.Fatal(err)
			}
			// After all that, the user still signs in.
			e.Login(t, u)
		})
	}
}

func TestBadInput_SecurityEventSearchRefusesBadParameters(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			op := docOperations(fetchOpenAPI(t, e))["GET /api/v1/audit/security-events"]
			auditor := e.CreateUser(t, "bad-auditor", true, authz.Grant{Role: authz.Auditor, Facility: authz.AllFacilities})
			session := fullSession(t, e, auditor)
			refused := map[string]string{
				"limit with SQL":        "limit=" + url.QueryEscape(sqlMeta),
				"before with SQL":       "before=" + url.QueryEscape(sqlMeta),
				"limit out of range":    "limit=99999999999999999999",
				"negative before":       "before=-1",
				"from not a time":       "from=" + url.QueryEscape(sqlMeta),
				"to before from":        "from=2026-04-02T00:00:00Z&to=2026-04-01T00:00:00Z",
				"outcome not allowed":   "outcome=" + url.QueryEscape(sqlMeta),
				"10000-character actor": "actor=" + longText,
				"invalid UTF-8 target":  "target=%ff%fe",
			}
			for name, q := range refused {
				t.Run(name, func(t *testing.T) {
					refusedUnchanged(t, e, rawRequest{method: "GET", path: "/api/v1/audit/security-events?" + q,
						cookie: session, op: op}, 400, "invalid-parameter")
				})
			}
			// SQL in a text filter is a string to look for: nothing has it,
			// and the table is still there.
			for _, param := range []string{"actor", "action", "target", "client"} {
				t.Run("SQL in "+param, func(t *testing.T) {
					before := takeSnapshot(t, e)
					a := sendRaw(t, e, rawRequest{method: "GET", path: "/api/v1/audit/security-events?" + param + "=" +
						url.QueryEscape(sqlMeta), cookie: session})
					if a.status != http.StatusOK || !strings.Contains(a.body, `"events":[]`) {
						t.Errorf("status %d %.300s, want 200 and no events", a.status, a.body)
					}
					if d := before.diff(takeSnapshot(t, e)); d != "" {
						t.Errorf("the search changed what is stored:%s", d)
					}
				})
			}
			if n, err := e.App.Identity.CountUsers(context.Background()); err != nil || n < 2 {
				t.Errorf("users after the searches: %d, %v", n, err)
			}
		})
	}
}

// fullSession makes a signed-in session of u directly and returns its
// cookie value.
func fullSession(t *testing.T, e *apptest.Env, u *apptest.User) string {
	t.Helper()
	secret, err := e.App.Identity.StartSession(context.Background(), e.App.DB, u.User, web.StageFull, "127.0.0.1", "bad-input")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestBadInput_EveryWriteRouteRefusesMalformedBodies sends every malformed
// body to every API route that documents a JSON request body, as a caller
// the route lets through, and, led by the documented schema, a value of
// the wrong type, a 10000-character string and SQL in a constrained
// string for each field.
func TestBadInput_EveryWriteRouteRefusesMalformedBodies(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			doc := fetchOpenAPI(t, e)
			ops := docOperations(doc)
			admin := e.CreateUser(t, "bad-admin", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
			target := e.CreateUser(t, "bad-target", true)
			tok, _, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor,
				identity.NewToken{Name: "bad-target", Scopes: []string{"read"}, Facility: authz.AllFacilities})
			if err != nil {
				t.Fatal(err)
			}
			targets := map[string]string{"users": strconv.FormatInt(target.ID, 10),
				"tokens": strconv.FormatInt(tok.ID, 10), "facilities": strconv.FormatInt(e.Facility, 10)}
			max := int(e.App.Cfg.MaxBodyBytes)
			routes := 0
			for _, rt := range e.Web.Routes() {
				if !rt.API() || (rt.Method != "POST" && rt.Method != "PUT" && rt.Method != "PATCH") {
					continue
				}
				op := ops[rt.Method+" "+patternToOpenAPI(rt.Pattern)]
				schema, example := jsonRequestBody(doc, op)
				if schema == nil {
					continue // takes no body (or is undocumented, which the OpenAPI test reports)
				}
				routes++
				path := fillWildcards(rt.Pattern, targets)
				cred := credentialsFor(t, e, rt, admin)
				t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
					send := func(name, ct string, body []byte, chunked bool, status int, kinds ...string) {
						t.Run(name, func(t *testing.T) {
							rq := cred
							rq.method, rq.path, rq.contentType, rq.body, rq.chunked = rt.Method, path, ct, body, chunked
							rq.op = op
							refusedUnchanged(t, e, rq, status, kinds...)
						})
					}
					big := []byte(`{"zz":"` + strings.Repeat("a", max) + `"}`)
					send("body over the limit", "application/json", big, false, 413, "body-too-large")
					send("body over the limit sent chunked", "application/json", big, true, 413, "body-too-large")
					send("unknown field", "application/json", withField(example, "zz_unknown_field", 1), false, 400, "unknown-field")
					send("invalid UTF-8", "application/json", []byte("{\"zz\":\"\xff\"}"), false, 400, "invalid-utf8")
					send("plain text", "text/plain", mustJSON(example), false, 415, "unsupported-media-type")
					if rb, _ := op["requestBody"].(map[string]any); rb["required"] != false {
						// An optional body (requestBody.required false) may be left empty.
						send("empty body", "application/json", []byte{}, false, 400, "invalid-json")
					}
					send("array instead of object", "application/json", []byte("["+string(mustJSON(example))+"]"), false, 400, "invalid-field-type")
					send("deeply nested", "application/json", []byte(deepJSON), false, 400, "invalid-json")
					props, _ := schema["properties"].(map[string]any)
					for _, name := range slices.Sorted(maps.Keys(props)) {
						p, _ := resolveRef(doc, props[name]).(map[string]any)
						if wrong, ok := wrongTypeValue(p); ok {
							// A time field refuses a number by its own parser, which
							// DecodeJSON reports as invalid-json.
							send(name+" of the wrong type", "application/json", withField(example, name, wrong), false, 400,
								"invalid-field-type", "invalid-json")
						}
						if schemaType(p) == "string" {
							send(name+" of 10000 characters", "application/json", withField(example, name, longText), false, 0)
							if p["pattern"] != nil || p["enum"] != nil || p["format"] != nil {
								send(name+" with SQL", "application/json", withField(example, name, sqlMeta), false, 0)
							}
						}
					}
				})
			}
			if routes == 0 {
				t.Fatal("no API route documents a JSON request body")
			}
			t.Logf("%d API routes take a JSON body", routes)
		})
	}
}

// credentialsFor returns credentials that pass rt's guard: none for a
// public route, an administrator's session when admin holds the route's
// permission, else a token with a scope that carries it.
func credentialsFor(t *testing.T, e *apptest.Env, rt web.Route, admin *apptest.User) rawRequest {
	t.Helper()
	if rt.Access.IsPublic() {
		return rawRequest{}
	}
	perm, ok := rt.Access.Permission()
	if !ok || authz.RoleHas(authz.Admin, perm) {
		return rawRequest{cookie: fullSession(t, e, admin)}
	}
	for _, sc := range authz.Scopes() {
		if authz.ScopeHas(sc, perm) {
			_, secret, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor,
				identity.NewToken{Name: "bad-" + sc, Scopes: []string{sc}, Facility: authz.AllFacilities})
			if err != nil {
				t.Fatal(err)
			}
			// The first use notes the time; later ones within the frozen
			// minute write nothing.
			sendRaw(t, e, rawRequest{method: "GET", path: "/api/v1/me", bearer: secret})
			return rawRequest{bearer: secret}
		}
	}
	t.Fatalf("%s %s: no role or scope holds %s", rt.Method, rt.Pattern, perm)
	return rawRequest{}
}

// jsonRequestBody returns the schema and example of op's JSON request
// body, or a nil schema when it has none.
//
// The ingestion endpoints (x-anzen-ingest) take other systems' records,
// each accepted or refused by itself, not one object decoded strictly:
// badinput_ingest_test.go tests them.
func jsonRequestBody(doc map[string]any, op map[string]any) (schema, example map[string]any) {
	if op["x-anzen-ingest"] == true {
		return nil, nil
	}
	rb, _ := resolveRef(doc, op["requestBody"]).(map[string]any)
	content, _ := rb["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return nil, nil
	}
	schema, _ = resolveRef(doc, media["schema"]).(map[string]any)
	example, _ = media["example"].(map[string]any)
	if example == nil {
		example = map[string]any{}
	}
	return schema, example
}

func schemaType(p map[string]any) string {
	switch ty := p["type"].(type) {
	case string:
		return ty
	case []any:
		for _, x := range ty {
			if s, _ := x.(string); s != "null" {
				return s
			}
		}
	}
	if p["$ref"] != nil || p["properties"] != nil {
		return "object"
	}
	return ""
}

// wrongTypeValue returns a JSON value of another type than p's.
func wrongTypeValue(p map[string]any) (any, bool) {
	switch schemaType(p) {
	case "string":
		return 12345, true
	case "integer", "number", "boolean":
		return "x", true
	case "array":
		return map[string]any{"x": 1}, true
	case "object":
		return 5, true
	}
	return nil, false
}

// withField returns example with field set to v, as JSON.
func withField(example map[string]any, field string, v any) []byte {
	m := make(map[string]any, len(example)+1)
	for k, x := range example {
		m[k] = x
	}
	m[field] = v
	return mustJSON(m)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestBadInput_EveryQueryParameterRefusesOrIgnoresBadValues sends SQL, a
// NUL, invalid UTF-8 and 10000 characters in every documented query
// parameter of every API route that reads, as a caller the route lets
// through. A parameter whose schema constrains it (a number, an enum, a
// pattern, a format or a shorter maxLength) refuses such values with 400
// or 422;
// a free-text one may also look for them and find nothing. Either way
// nothing stored changes but the record of a search.
func TestBadInput_EveryQueryParameterRefusesOrIgnoresBadValues(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			doc := fetchOpenAPI(t, e)
			ops := docOperations(doc)
			admin := e.CreateUser(t, "query-admin", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
			targets := map[string]string{"users": strconv.FormatInt(admin.ID, 10), "facilities": strconv.FormatInt(e.Facility, 10),
				"exports": "oscal-catalog"}
			values := map[string]string{"SQL": url.QueryEscape(sqlMeta), "NUL": "a%00b", "invalid UTF-8": "%ff%fe",
				"10000 characters": longText}
			params := 0
			for _, rt := range e.Web.Routes() {
				if !rt.API() || rt.Method != http.MethodGet {
					continue
				}
				op := ops[rt.Method+" "+patternToOpenAPI(rt.Pattern)]
				list, _ := op["parameters"].([]any)
				cred := credentialsFor(t, e, rt, admin)
				for _, p := range list {
					pm, _ := resolveRef(doc, p).(map[string]any)
					if pm["in"] != "query" {
						continue
					}
					params++
					name, _ := pm["name"].(string)
					schema, _ := pm["schema"].(map[string]any)
					for what, v := range values {
						t.Run(rt.Pattern+"?"+name+"="+what, func(t *testing.T) {
							rq := cred
							rq.method, rq.path = "GET", fillWildcards(rt.Pattern, targets)+"?"+name+"="+v
							rq.op = op
							before := takeSnapshot(t, e)
							a := sendRaw(t, e, rq)
							if diff := before.diff(takeSnapshot(t, e)); diff != "" {
								t.Errorf("changed what is stored:%s", diff)
							}
							switch {
							case constrained(schema, what):
								if (a.status != http.StatusBadRequest && a.status != http.StatusUnprocessableEntity) ||
									a.ctype != "application/problem+json" {
									t.Errorf("status %d %q %.200s, want a 400 or 422 problem", a.status, a.ctype, a.body)
								}
							case a.status >= 500 || (a.status != http.StatusOK && a.ctype != "application/problem+json"):
								t.Errorf("status %d %q %.200s, want 200 or a 4xx problem", a.status, a.ctype, a.body)
							}
							checkDocumented(t, rq, a.status)
						})
					}
				}
			}
			if params == 0 {
				t.Fatal("no API route documents a query parameter")
			}
		})
	}
}

// constrained reports whether a parameter of this schema must refuse the
// kind of value named by what.
func constrained(schema map[string]any, what string) bool {
	if schemaType(schema) != "string" || schema["enum"] != nil || schema["pattern"] != nil || schema["format"] != nil {
		return true
	}
	maxLen, ok := schema["maxLength"].(float64)
	return what == "10000 characters" && ok && maxLen < 10000
}

var wildcard = regexp.MustCompile(`\{(\$|[A-Za-z_]\w*(\.\.\.)?)\}`)

// fillWildcards fills the wildcards of a route pattern: with targets[seg]
// when the segment before the wildcard is seg (such as "users"), else with
// 999999, an id nothing has; {$} is left out.
func fillWildcards(pattern string, targets map[string]string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if !wildcard.MatchString(s) {
			continue
		}
		v := "999999"
		if i > 0 {
			if t, ok := targets[segs[i-1]]; ok {
				v = t
			}
		}
		segs[i] = wildcard.ReplaceAllStringFunc(s, func(m string) string {
			if m == "{$}" {
				return ""
			}
			return v
		})
	}
	return strings.Join(segs, "/")
}
