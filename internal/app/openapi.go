package app

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// OpenAPIPath is where anzen serves the OpenAPI document of its JSON API.
const OpenAPIPath = "/api/v1/openapi.json"

// openAPIBase is the frame of the document: info, tags, security schemes,
// the Problem schema, the shared problem responses and the problem types
// of the web layer. Each part adds its paths, schemas and problem types.
//
//go:embed openapi_base.json
var openAPIBase []byte

// apiFragment is one part's piece of the OpenAPI document.
type apiFragment struct {
	part string
	doc  []byte
}

// apiFragments lists every part's piece of the document; a part with a
// JSON API adds its own here.
func apiFragments() []apiFragment {
	frags := []apiFragment{
		{"identity", identity.OpenAPI()},
		{"identity-admin", identity.OpenAPIAdmin()},
		{"audit", audit.OpenAPI()},
		{"keys", keys.OpenAPI()},
		{"ingest", ingest.OpenAPI()},
	}
	for _, doc := range detect.OpenAPI() {
		frags = append(frags, apiFragment{"detect", doc})
	}
	for _, doc := range incident.OpenAPI() {
		frags = append(frags, apiFragment{"incident", doc})
	}
	for _, doc := range compliance.OpenAPI() {
		frags = append(frags, apiFragment{"compliance", doc})
	}
	return frags
}

// registerOpenAPI serves the merged document. It is built at the first
// request, when every part has registered its routes.
func (a *App) registerOpenAPI(srv *web.Server) {
	var (
		once sync.Once
		doc  []byte
		err  error
	)
	srv.Handle(http.MethodGet, OpenAPIPath, web.Public, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { doc, err = OpenAPIDocument(a.Cfg.BaseURL(), srv.Routes()) })
		if err != nil {
			srv.Log().Error("build the OpenAPI document", "err", err)
			srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}

// OpenAPIDocument merges the parts' pieces into one OpenAPI 3.1 document
// for the server at serverURL. The security of each operation is not
// written by hand but taken from the access its route declares (roles and
// token scopes of the permission), so that the document cannot promise
// more or less than the route guard does; so are the problem responses
// every operation of that access may give.
func OpenAPIDocument(serverURL string, routes []web.Route) ([]byte, error) {
	doc, err := mergeOpenAPI(openAPIBase, apiFragments())
	if err != nil {
		return nil, err
	}
	doc["servers"] = []any{map[string]any{"url": serverURL,
		"description": "This anzen, as configured (public_url). / この anzen（public_url の設定）。"}}
	applyAccess(doc, routes)
	return json.MarshalIndent(doc, "", "  ")
}

// fragmentKeys are the top-level members a part's piece may have.
var fragmentKeys = map[string]bool{"paths": true, "components": true, "x-problem-types": true}

// mergeOpenAPI adds each fragment's paths, components and problem types to
// base. Two parts defining the same operation, component or problem type
// is an error, as is anything else at the top of a fragment.
func mergeOpenAPI(base []byte, frags []apiFragment) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("openapi: base document: %w", err)
	}
	paths := objectAt(doc, "paths")
	components := objectAt(doc, "components")
	problems := map[string]any{}
	addProblems := func(part string, v any) error {
		list, ok := v.([]any)
		if v != nil && !ok {
			return fmt.Errorf("openapi: %s: x-problem-types is not a list", part)
		}
		for _, it := range list {
			p, ok := it.(map[string]any)
			kind, _ := p["type"].(string)
			if !ok || kind == "" {
				return fmt.Errorf("openapi: %s: a problem type without a type", part)
			}
			if _, dup := problems[kind]; dup {
				return fmt.Errorf("openapi: %s: problem type %s is already listed", part, kind)
			}
			p["type"] = web.ProblemTypePrefix + kind
			problems[kind] = p
		}
		return nil
	}
	if err := addProblems("base", doc["x-problem-types"]); err != nil {
		return nil, err
	}
	for _, f := range frags {
		var frag map[string]any
		if err := json.Unmarshal(f.doc, &frag); err != nil {
			return nil, fmt.Errorf("openapi: fragment of %s: %w", f.part, err)
		}
		for k := range frag {
			if !fragmentKeys[k] {
				return nil, fmt.Errorf("openapi: fragment of %s: unexpected member %q (allowed: paths, components, x-problem-types)", f.part, k)
			}
		}
		fpaths, _ := frag["paths"].(map[string]any)
		for p, item := range fpaths {
			if !strings.HasPrefix(p, "/api/") {
				return nil, fmt.Errorf("openapi: %s documents %s, which is not under /api/", f.part, p)
			}
			fitem, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("openapi: %s: path %s is not an object", f.part, p)
			}
			have := objectAt(paths, p)
			for k, v := range fitem {
				if _, dup := have[k]; dup {
					return nil, fmt.Errorf("openapi: %s: %s of path %s is defined twice", f.part, k, p)
				}
				have[k] = v
			}
		}
		fcomp, _ := frag["components"].(map[string]any)
		for section, v := range fcomp {
			entries, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("openapi: %s: components.%s is not an object", f.part, section)
			}
			have := objectAt(components, section)
			for name, def := range entries {
				if _, dup := have[name]; dup {
					return nil, fmt.Errorf("openapi: %s: components.%s.%s is defined twice", f.part, section, name)
				}
				have[name] = def
			}
		}
		if err := addProblems(f.part, frag["x-problem-types"]); err != nil {
			return nil, err
		}
	}
	kinds := make([]string, 0, len(problems))
	for k := range problems {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	list := make([]any, len(kinds))
	for i, k := range kinds {
		list[i] = problems[k]
	}
	doc["x-problem-types"] = list
	return doc, nil
}

// objectAt returns m[key] as an object, creating it when absent.
func objectAt(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}

// wildcardPattern matches the net/http wildcards OpenAPI writes otherwise:
// {name...} (rest of the path) and {$} (end of the path).
var wildcardPattern = regexp.MustCompile(`\{\$\}|\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`)

// openAPIPath turns a net/http pattern into an OpenAPI path: {id} stays,
// {rest...} becomes {rest}, {$} goes.
func openAPIPath(pattern string) string {
	return wildcardPattern.ReplaceAllStringFunc(pattern, func(m string) string {
		if m == "{$}" {
			return ""
		}
		return m[:len(m)-4] + "}"
	})
}

// applyAccess writes, for each documented operation of an API route, the
// access it declares (x-anzen-access), who may call it (security: the roles
// for a session, the scopes for a token) and the problem responses the
// route guard and the body decoder may give, unless the piece documents
// them itself.
func applyAccess(doc map[string]any, routes []web.Route) {
	paths := objectAt(doc, "paths")
	for _, rt := range routes {
		if !rt.API() {
			continue
		}
		item, _ := paths[openAPIPath(rt.Pattern)].(map[string]any)
		op, _ := item[strings.ToLower(rt.Method)].(map[string]any)
		if op == nil {
			continue // undocumented: the document test names it
		}
		op["x-anzen-access"] = rt.Access.String()
		op["security"] = securityOf(rt.Access)
		responses := objectAt(op, "responses")
		add := func(status, name string) {
			if _, ok := responses[status]; !ok {
				responses[status] = map[string]any{"$ref": "#/components/responses/" + name}
			}
		}
		if !rt.Access.IsPublic() {
			add("401", "Unauthenticated")
		}
		if _, ok := rt.Access.Permission(); ok || rt.Method != http.MethodGet {
			add("403", "Forbidden")
		}
		if _, ok := op["requestBody"]; ok {
			add("400", "BadRequest")
			add("413", "PayloadTooLarge")
			add("415", "UnsupportedMediaType")
		}
		add("500", "InternalError")
	}
}

// securityOf says who passes the route guard for access a: nobody needs to
// sign in for a public route; any session (even one part-way through
// sign-in, for Pending) or API token for Pending and SignedIn; for a
// permission, a session of a role that holds it or a token with a scope
// that carries it. Any one listed role or scope suffices.
func securityOf(a web.Access) []any {
	if a.IsPublic() {
		return []any{}
	}
	perm, ok := a.Permission()
	if !ok {
		return []any{map[string]any{"session": []any{}}, map[string]any{"token": []any{}}}
	}
	spec, _ := authz.Lookup(perm)
	roles := make([]any, 0, len(spec.Roles))
	for _, r := range spec.Roles {
		roles = append(roles, string(r))
	}
	var out []any
	if len(roles) > 0 || len(spec.Scopes) == 0 {
		out = append(out, map[string]any{"session": roles})
	}
	if len(spec.Scopes) > 0 {
		scopes := make([]any, 0, len(spec.Scopes))
		for _, s := range spec.Scopes {
			scopes = append(scopes, s)
		}
		out = append(out, map[string]any{"token": scopes})
	}
	return out
}
