package app_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// fetchOpenAPI gets the served document without signing in and decodes it.
func fetchOpenAPI(t *testing.T, e *apptest.Env) map[string]any {
	t.Helper()
	resp := e.Do(t, e.Client(), "GET", "/api/v1/openapi.json", nil)
	body := apptest.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	return doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// docOperations lists the document's operations as "METHOD /path".
func docOperations(doc map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		it, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := it[m].(map[string]any); ok {
				out[strings.ToUpper(m)+" "+p] = op
			}
		}
	}
	return out
}

// patternToOpenAPI writes a net/http pattern as an OpenAPI path. Both write
// a wildcard as {name}; net/http's {name...} is {name} there, and {$} is
// nothing.
func patternToOpenAPI(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return regexp.MustCompile(`\{(\w+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

func TestOpenAPI_DocumentsExactlyTheRegisteredAPIRoutes(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d, func(c *config.Config) { c.Metrics = true })
			doc := fetchOpenAPI(t, e)
			ops := docOperations(doc)
			routes := map[string]bool{}
			for _, rt := range e.Web.Routes() {
				if !rt.API() {
					continue
				}
				key := rt.Method + " " + patternToOpenAPI(rt.Pattern)
				routes[key] = true
				if _, ok := ops[key]; !ok {
					t.Errorf("route %s (access %s) is registered but not in the OpenAPI document: describe it in its "+
						"part's openapi.json (a part's first one also needs its OpenAPI() in apiFragments, internal/app/openapi.go)",
						key, rt.Access)
				}
			}
			for key := range ops {
				if !routes[key] {
					t.Errorf("the OpenAPI document describes %s, which is not a registered route", key)
				}
			}
			if len(routes) < 4 {
				t.Errorf("only %d API routes registered; the walk found too little", len(routes))
			}
		})
	}
}

func TestOpenAPI_IsAValidOpenAPI31Document(t *testing.T) {
	e := apptest.New(t, "sqlite")
	doc := fetchOpenAPI(t, e)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	info, _ := doc["info"].(map[string]any)
	desc, _ := info["description"].(string)
	if info["title"] != "anzen" || info["version"] == nil || !strings.Contains(desc, "JSON API") ||
		!strings.Contains(desc, "認証") {
		t.Errorf("info must have title anzen, a version and a description in English and Japanese: %v", info)
	}
	if servers, _ := doc["servers"].([]any); len(servers) != 1 ||
		servers[0].(map[string]any)["url"] != e.URL {
		t.Errorf("servers = %v, want the public URL %s", doc["servers"], e.URL)
	}

	// Every $ref points into this document and resolves.
	var refs []string
	walkJSON(doc, func(k string, v any) {
		if s, ok := v.(string); ok && k == "$ref" {
			refs = append(refs, s)
		}
	})
	if len(refs) < 10 {
		t.Errorf("only %d $refs found", len(refs))
	}
	for _, ref := range refs {
		if _, ok := resolvePointer(doc, ref); !ok {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}

	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	session, _ := schemes["session"].(map[string]any)
	if session["type"] != "apiKey" || session["in"] != "cookie" || session["name"] != identity.SessionCookie {
		t.Errorf("security scheme session = %v, want the cookie %s", session, identity.SessionCookie)
	}
	if tok, _ := schemes["token"].(map[string]any); tok["type"] != "http" || tok["scheme"] != "bearer" ||
		!strings.Contains(tok["bearerFormat"].(string), identity.TokenPrefix) {
		t.Errorf("security scheme token = %v, want bearer %s...", tok, identity.TokenPrefix)
	}

	ids := map[string]string{}
	for key, op := range docOperations(doc) {
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("operationId %s names both %s and %s", id, other, key)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", key)
		}
		if _, ok := op["x-anzen-access"].(string); !ok {
			t.Errorf("%s has no x-anzen-access (is its route registered?)", key)
		}
		sec, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s has no security", key)
		}
		for _, req := range sec {
			for name := range req.(map[string]any) {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s names security scheme %q, which is not defined", key, name)
				}
			}
		}
		responses, _ := op["responses"].(map[string]any)
		ok2xx := false
		for status, resp := range responses {
			ok2xx = ok2xx || strings.HasPrefix(status, "2")
			if n, err := strconv.Atoi(status); err == nil && n >= 400 {
				if r, _ := resolveRef(doc, resp).(map[string]any); !hasProblemContent(r) {
					t.Errorf("%s answers %s without application/problem+json", key, status)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s documents no success response", key)
		}
		checkPathParameters(t, doc, key, op)
	}
	checkShape(t, doc)
}

// The members OpenAPI 3.1 allows in each kind of object; "x-" extensions
// are allowed everywhere.
var (
	pathItemKeys  = keySet("summary description servers parameters get put post delete options head patch trace")
	operationKeys = keySet("tags summary description externalDocs operationId parameters requestBody responses " +
		"callbacks deprecated security servers")
	parameterKeys = keySet("name in description required deprecated allowEmptyValue schema content style explode " +
		"allowReserved example examples")
	requestBodyKeys = keySet("description content required")
	responseKeys    = keySet("description headers content links")
	mediaTypeKeys   = keySet("schema example examples encoding")
	statusPattern   = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`)
)

func keySet(s string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(s) {
		m[k] = true
	}
	return m
}

// checkKeys reports members of obj that allowed does not name.
func checkKeys(t *testing.T, where string, obj map[string]any, allowed map[string]bool) {
	t.Helper()
	for k := range obj {
		if !allowed[k] && !strings.HasPrefix(k, "x-") && k != "$ref" {
			t.Errorf("%s: %q is not a member OpenAPI 3.1 allows here", where, k)
		}
	}
}

// checkShape checks the members of path items, operations, parameters,
// request bodies, responses and media types, the status codes, and that
// every tag an operation uses is declared.
func checkShape(t *testing.T, doc map[string]any) {
	t.Helper()
	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tags[tg.(map[string]any)["name"].(string)] = true
	}
	checkMedia := func(where string, content any) {
		c, _ := content.(map[string]any)
		for mt, m := range c {
			mm, _ := m.(map[string]any)
			checkKeys(t, where+" "+mt, mm, mediaTypeKeys)
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		it := item.(map[string]any)
		checkKeys(t, path, it, pathItemKeys)
		for _, m := range httpMethods {
			op, ok := it[m].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(m) + " " + path
			checkKeys(t, where, op, operationKeys)
			for _, tg := range op["tags"].([]any) {
				if !tags[tg.(string)] {
					t.Errorf("%s: tag %q is not declared in tags", where, tg)
				}
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm, _ := resolveRef(doc, p).(map[string]any)
				checkKeys(t, where+" parameter", pm, parameterKeys)
				switch pm["in"] {
				case "query", "header", "path", "cookie":
				default:
					t.Errorf("%s: parameter %v is in %v", where, pm["name"], pm["in"])
				}
				if (pm["schema"] == nil) == (pm["content"] == nil) {
					t.Errorf("%s: parameter %v needs either schema or content", where, pm["name"])
				}
			}
			if rb, ok := resolveRef(doc, op["requestBody"]).(map[string]any); ok {
				checkKeys(t, where+" requestBody", rb, requestBodyKeys)
				checkMedia(where+" requestBody", rb["content"])
			}
			for status, r := range op["responses"].(map[string]any) {
				if !statusPattern.MatchString(status) {
					t.Errorf("%s: %q is not a status code", where, status)
				}
				rm, _ := resolveRef(doc, r).(map[string]any)
				checkKeys(t, where+" "+status, rm, responseKeys)
				if d, _ := rm["description"].(string); d == "" {
					t.Errorf("%s: response %s has no description", where, status)
				}
				checkMedia(where+" "+status, rm["content"])
			}
		}
	}
}

// checkPathParameters checks that each {name} of the path is a declared,
// required path parameter of the operation or its path item.
func checkPathParameters(t *testing.T, doc map[string]any, key string, op map[string]any) {
	t.Helper()
	path := strings.SplitN(key, " ", 2)[1]
	item := doc["paths"].(map[string]any)[path].(map[string]any)
	declared := map[string]bool{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			pm, _ := resolveRef(doc, p).(map[string]any)
			if pm["in"] == "path" {
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v must be required", key, pm["name"])
				}
				declared[pm["name"].(string)] = true
			}
		}
	}
	for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
		if !declared[m[1]] {
			t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
		}
		delete(declared, m[1])
	}
	for name := range declared {
		t.Errorf("%s declares path parameter %s, which is not in the path", key, name)
	}
}

// hasProblemContent reports whether an error response is documented in
// anzen's error form: problem+json, or, for the FHIR endpoint, FHIR's own
// (an OperationOutcome as application/fhir+json; see docs/ingest.md).
func hasProblemContent(r map[string]any) bool {
	c, _ := r["content"].(map[string]any)
	if _, ok := c["application/problem+json"]; ok {
		return true
	}
	fhir, _ := c["application/fhir+json"].(map[string]any)
	schema, _ := fhir["schema"].(map[string]any)
	return schema["$ref"] == "#/components/schemas/OperationOutcome"
}

// walkJSON calls fn for every member of every object in v.
func walkJSON(v any, fn func(key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			fn(k, c)
			walkJSON(c, fn)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, fn)
		}
	}
}

// resolvePointer resolves a local reference such as
// "#/components/schemas/Problem" (RFC 6901).
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// resolveRef follows v's $ref, if it has one.
func resolveRef(doc map[string]any, v any) any {
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			r, _ := resolvePointer(doc, ref)
			return r
		}
	}
	return v
}

// TestOpenAPI_SecurityIsWhatTheGuardLetsThrough checks a few operations
// against the permission table written out here by hand.
func TestOpenAPI_SecurityIsWhatTheGuardLetsThrough(t *testing.T) {
	e := apptest.New(t, "sqlite")
	ops := docOperations(fetchOpenAPI(t, e))
	tests := []struct {
		op      string
		access  string
		want    string // the security requirements, as JSON
		want401 bool
	}{
		{"POST /api/v1/session", "public", `[]`, true}, // wrong password
		{"GET /api/v1/openapi.json", "public", `[]`, false},
		{"DELETE /api/v1/session", "pending", `[{"session":[]},{"token":[]}]`, true},
		{"GET /api/v1/me", "signed-in", `[{"session":[]},{"token":[]}]`, true},
		{"GET /api/v1/audit/security-events", "audit.security_events.read",
			`[{"session":["admin","ciso","csirt","auditor"]},{"token":["read"]}]`, true},
	}
	for _, tt := range tests {
		op, ok := ops[tt.op]
		if !ok {
			t.Errorf("%s is not documented", tt.op)
			continue
		}
		if op["x-anzen-access"] != tt.access {
			t.Errorf("%s: x-anzen-access = %v, want %s", tt.op, op["x-anzen-access"], tt.access)
		}
		if got, _ := json.Marshal(op["security"]); string(got) != tt.want {
			t.Errorf("%s: security = %s, want %s", tt.op, got, tt.want)
		}
		_, has401 := op["responses"].(map[string]any)["401"]
		if has401 != tt.want401 {
			t.Errorf("%s: documents 401 = %v, want %v", tt.op, has401, tt.want401)
		}
	}
}

// TestOpenAPI_LimitsMatchTheCode keeps the documented limits equal to the
// constants the code enforces.
func TestOpenAPI_LimitsMatchTheCode(t *testing.T) {
	e := apptest.New(t, "sqlite")
	doc := fetchOpenAPI(t, e)
	get := func(ref string) any {
		v, ok := resolvePointer(doc, ref)
		if !ok {
			t.Fatalf("%s is not in the document", ref)
		}
		return v
	}
	num := func(v any) int {
		f, _ := v.(float64)
		return int(f)
	}
	if got := num(get("#/components/schemas/LoginRequest/properties/password/maxLength")); got != identity.MaxPasswordLength {
		t.Errorf("password maxLength = %d, code allows %d", got, identity.MaxPasswordLength)
	}
	var roles []any
	for _, r := range authz.Roles {
		roles = append(roles, string(r))
	}
	if got := get("#/components/schemas/Role/enum").([]any); !slices.Equal(got, roles) {
		t.Errorf("Role enum = %v, want %v", got, roles)
	}
	params := map[string]map[string]any{}
	for _, p := range get("#/paths/~1api~1v1~1audit~1security-events/get/parameters").([]any) {
		pm := p.(map[string]any)
		params[pm["name"].(string)] = pm["schema"].(map[string]any)
	}
	if s := params["limit"]; num(s["maximum"]) != audit.MaxLimit || num(s["default"]) != audit.DefaultLimit {
		t.Errorf("limit = %v, want maximum %d and default %d", s, audit.MaxLimit, audit.DefaultLimit)
	}
	for _, name := range []string{"from", "to", "actor", "action", "target", "client"} {
		if got := num(params[name]["maxLength"]); got != audit.MaxFieldLen {
			t.Errorf("parameter %s: maxLength %d, want %d", name, got, audit.MaxFieldLen)
		}
	}
}

// TestOpenAPI_ListsEveryProblemTypeTheCodeSends reads the source of every
// part for the problem types it answers with (the kind given to a
// ...Problem function, or to a DecodeError) and checks that the document
// lists each one, and nothing else.
func TestOpenAPI_ListsEveryProblemTypeTheCodeSends(t *testing.T) {
	e := apptest.New(t, "sqlite")
	doc := fetchOpenAPI(t, e)
	listed := map[string]bool{}
	for _, p := range doc["x-problem-types"].([]any) {
		pm := p.(map[string]any)
		kind, _ := pm["type"].(string)
		if !strings.HasPrefix(kind, "urn:anzen:problem:") || pm["description"] == nil || pm["status"] == nil {
			t.Errorf("problem type %v needs a urn:anzen:problem: type, a status and a description", pm)
		}
		listed[strings.TrimPrefix(kind, "urn:anzen:problem:")] = true
	}
	used := problemKindsInSource(t, "..")
	if len(used) < 10 {
		t.Fatalf("found only %d problem types in the source: %v", len(used), used)
	}
	sent := map[string]bool{}
	for _, u := range used {
		sent[u.kind] = true
		if !listed[u.kind] {
			t.Errorf("%s answers with problem type %q, which x-problem-types does not list", u.where, u.kind)
		}
	}
	for kind := range listed {
		if !sent[kind] {
			t.Errorf("x-problem-types lists %q, which no code sends: remove it, or write its kind as a literal "+
				"where the code answers with it", kind)
		}
	}
}

type problemUse struct{ kind, where string }

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// problemKindsInSource finds the literal problem kinds in the non-test Go
// files under dir: string arguments of calls to functions whose name ends
// in "Problem" or "problem" (after the writer and request), the kind of
// DecodeError literals, and strings added to ProblemTypePrefix.
func problemKindsInSource(t *testing.T, dir string) []problemUse {
	t.Helper()
	var out []problemUse
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		add := func(e ast.Expr) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && kindPattern.MatchString(s) {
				out = append(out, problemUse{s, fset.Position(lit.Pos()).String()})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				name := ""
				switch fn := x.Fun.(type) {
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				case *ast.Ident:
					name = fn.Name
				}
				if strings.HasSuffix(strings.ToLower(name), "problem") && len(x.Args) >= 4 {
					for _, a := range x.Args[2:] {
						add(a)
					}
				}
			case *ast.CompositeLit:
				if typeName(x.Type) != "DecodeError" {
					break
				}
				for i, el := range x.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && typeName(kv.Key) == "Kind" {
						add(kv.Value)
					} else if !ok && i == 0 {
						add(el)
					}
				}
			case *ast.BinaryExpr:
				if x.Op == token.ADD && typeName(x.X) == "ProblemTypePrefix" {
					add(x.Y)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out
}

func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	}
	return ""
}
