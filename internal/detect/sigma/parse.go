package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Option changes how Parse reads rules.
type Option func(*options)

type options struct {
	placeholders map[string][]string
}

// WithPlaceholders gives the values of the placeholders that |expand
// replaces: %admins% with each of placeholders["admins"]. A rule that
// expands a placeholder with no values is rejected.
func WithPlaceholders(placeholders map[string][]string) Option {
	return func(o *options) { o.placeholders = placeholders }
}

// RelatedRule is an entry of a rule's related list.
type RelatedRule struct {
	ID   string
	Type string // derived, obsolete, merged, renamed or similar
}

var statuses = []string{"stable", "test", "experimental", "deprecated", "unsupported"}

// known are the top-level attributes the specification names; the
// others go to Rule.Custom.
var known = map[string]bool{
	"title": true, "id": true, "name": true, "related": true, "taxonomy": true,
	"status": true, "description": true, "license": true, "references": true,
	"author": true, "date": true, "modified": true, "logsource": true,
	"detection": true, "fields": true, "falsepositives": true, "level": true,
	"tags": true, "scope": true,
}

// Parse reads one YAML file of Sigma rules: one document or several
// separated by ---. A document with a top-level correlation key is a
// correlation rule; the others are detection rules, compiled for Match.
// A document that cannot be run is reported as an *Error, whose line
// counts from the start of the file; several are joined with
// errors.Join. The rules that did load are returned with the error, so
// a caller may report the rejected ones and run the rest.
func Parse(data []byte, opts ...Option) (*Set, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	set := &Set{}
	var errs []error
	texts := splitDocuments(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			e := yamlError(len(docs)+1, err)
			e.Msg += " (the documents after it were not read)"
			errs = append(errs, e)
			break
		}
		docs = append(docs, &n)
	}
	if len(docs) != len(texts) {
		texts = nil
	}
	for i, doc := range docs {
		num := i + 1
		var text []byte
		if texts != nil {
			text = texts[i]
		} else {
			text, _ = yaml.Marshal(doc)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := deref(doc.Content[0])
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		if root.Kind != yaml.MappingNode {
			errs = append(errs, &Error{Doc: num, Line: root.Line, Msg: "a rule is a YAML map"})
			continue
		}
		if has(root, "correlation") {
			c, err := parseCorrelation(num, root)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.Doc = text // as written, not as parseCorrelation encoded it again
			set.Correlations = append(set.Correlations, c)
			continue
		}
		r, err := parseRule(root, &o)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Doc = num
				if e.Rule == "" && r != nil {
					e.Rule = r.Key()
				}
			}
			errs = append(errs, err)
			continue
		}
		if prev := dup(set.Rules, r); prev != "" {
			errs = append(errs, &Error{Doc: num, Line: root.Line, Rule: r.Key(), Msg: prev})
			continue
		}
		r.Doc = text
		set.Rules = append(set.Rules, r)
	}
	if len(errs) == 1 {
		return set, errs[0]
	}
	return set, errors.Join(errs...)
}

// dup says why r clashes with a rule read before it, or returns "".
func dup(rules []*Rule, r *Rule) string {
	for _, o := range rules {
		switch {
		case r.ID != "" && o.ID == r.ID:
			return fmt.Sprintf("id %s is already the id of %q in this file", r.ID, o.Title)
		case r.Name != "" && o.Name == r.Name:
			return fmt.Sprintf("name %s is already the name of %q in this file", r.Name, o.Title)
		}
	}
	return ""
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(doc int, err error) *Error {
	e := &Error{Doc: doc, Msg: "YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// splitDocuments cuts a file at its --- lines, dropping parts that hold
// no document (only blanks and comments).
func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	start := 0
	add := func(part []byte) {
		for _, l := range bytes.Split(part, []byte("\n")) {
			t := bytes.TrimSpace(l)
			if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("...")) {
				out = append(out, part)
				return
			}
		}
	}
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		end := len(data)
		if j >= 0 {
			end = i + j + 1
		}
		line := bytes.TrimRight(data[i:end], " \t\r\n")
		if bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) {
			add(data[start:i])
			start = end
		}
		i = end
	}
	add(data[start:])
	return out
}

func has(m *yaml.Node, key string) bool {
	return get(m, key) != nil
}

func get(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

// parseRule reads a detection rule and compiles it. The rule it returns
// with an error carries what was read, for naming it.
func parseRule(root *yaml.Node, o *options) (*Rule, error) {
	r := &Rule{}
	r.ID = scalarString(get(root, "id"))
	r.Name = scalarString(get(root, "name"))
	r.Title = scalarString(get(root, "title"))
	fail := func(n *yaml.Node, format string, args ...any) (*Rule, error) {
		e := errAt(n, format, args...)
		e.Rule = r.Key()
		return r, e
	}
	if n := get(root, "action"); n != nil {
		return fail(n, "action: %s documents (Sigma 1 rule collections) are not supported; write each rule whole", n.Value)
	}
	if n := get(root, "filter"); n != nil {
		return fail(n, "Sigma filter documents (filter:) are not supported")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return fail(k, "a top-level key must be a plain name")
		}
		if known[k.Value] {
			switch k.Value {
			case "references", "falsepositives", "fields", "tags", "scope":
				if v.Kind != yaml.SequenceNode && v.Kind != yaml.ScalarNode {
					return fail(v, "%s: a list of strings", k.Value)
				}
			case "logsource", "detection":
			case "related":
				if v.Kind != yaml.SequenceNode {
					return fail(v, "related: a list of {id, type}")
				}
			default:
				if v.Kind != yaml.ScalarNode {
					return fail(v, "%s: a single value, not a list or map", k.Value)
				}
			}
			continue
		}
		var x any
		if err := v.Decode(&x); err != nil {
			return fail(v, "%s: %v", k.Value, err)
		}
		if r.Custom == nil {
			r.Custom = map[string]any{}
		}
		r.Custom[k.Value] = x
	}
	if r.Title == "" {
		return fail(root, "title is missing")
	}
	r.Description = scalarString(get(root, "description"))
	r.Status = scalarString(get(root, "status"))
	if r.Status != "" && !slices.Contains(statuses, r.Status) {
		return fail(get(root, "status"), "status: unknown %q (stable, test, experimental, deprecated or unsupported)", r.Status)
	}
	r.Author = scalarString(get(root, "author"))
	r.Date = scalarString(get(root, "date"))
	r.Modified = scalarString(get(root, "modified"))
	r.License = scalarString(get(root, "license"))
	r.Taxonomy = scalarString(get(root, "taxonomy"))
	r.References = stringList(get(root, "references"))
	r.FalsePositives = stringList(get(root, "falsepositives"))
	r.Fields = stringList(get(root, "fields"))
	r.Tags = stringList(get(root, "tags"))
	r.Scope = stringList(get(root, "scope"))
	if n := get(root, "related"); n != nil {
		for _, c := range n.Content {
			c = deref(c)
			if c.Kind != yaml.MappingNode {
				return fail(c, "related: each entry is a map with id and type")
			}
			r.Related = append(r.Related, RelatedRule{ID: scalarString(get(c, "id")), Type: scalarString(get(c, "type"))})
		}
	}
	r.Level = LevelMedium
	if n := get(root, "level"); n != nil {
		l, err := ParseLevel(n.Value)
		if err != nil {
			return fail(n, "level: %v", err)
		}
		r.Level = l
	}
	ls := get(root, "logsource")
	if ls == nil || ls.Kind != yaml.MappingNode {
		return fail(root, "logsource is missing (a map of category, product, service)")
	}
	for _, key := range []string{"category", "product", "service"} {
		if n := get(ls, key); n != nil && (n.Kind != yaml.ScalarNode || n.Tag == "!!null") {
			return fail(n, "logsource: %s is a single name", key)
		}
	}
	r.LogSource = LogSource{
		Category: scalarString(get(ls, "category")),
		Product:  scalarString(get(ls, "product")),
		Service:  scalarString(get(ls, "service")),
	}
	det := get(root, "detection")
	if det == nil || det.Kind != yaml.MappingNode {
		return fail(root, "detection is missing (a map of search identifiers and a condition)")
	}
	m, reqs, err := compileDetection(det, o)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Rule = r.Key()
		}
		return r, err
	}
	r.match, r.reqs = m, reqs
	r.keywords = hasKeywords(det)
	return r, nil
}

// compileDetection compiles a detection section into one matcher, and
// reads what an event needs to match it (for Index).
func compileDetection(det *yaml.Node, o *options) (func(Event) bool, []fieldReq, error) {
	searches := map[string]*search{}
	var names []string
	var condNode *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := det.Content[i], det.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = deref(v)
			continue
		case "timeframe":
			return nil, nil, errAt(k, "detection: timeframe (a Sigma 1 aggregation) is not supported; write a correlation rule")
		}
		if strings.ContainsAny(k.Value, " \t()") || reserved[k.Value] || k.Value == "" {
			return nil, nil, errAt(k, "detection: %q cannot be a search identifier name", k.Value)
		}
		s, err := compileSearch(k.Value, v, o.placeholders)
		if err != nil {
			return nil, nil, err
		}
		searches[k.Value] = s
		names = append(names, k.Value)
	}
	if condNode == nil {
		return nil, nil, errAt(det, "detection: condition is missing")
	}
	var conds []string
	switch condNode.Kind {
	case yaml.ScalarNode:
		conds = []string{condNode.Value}
	case yaml.SequenceNode:
		for _, c := range condNode.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode {
				return nil, nil, errAt(c, "condition: a list of conditions holds strings")
			}
			conds = append(conds, c.Value)
		}
		if len(conds) == 0 {
			return nil, nil, errAt(condNode, "condition: an empty list")
		}
	default:
		return nil, nil, errAt(condNode, "condition: a string or a list of strings")
	}
	if len(names) == 0 {
		return nil, nil, errAt(det, "detection: no search identifiers")
	}
	slices.Sort(names)
	var fs []func(Event) bool
	var alts [][]fieldReq
	for _, s := range conds {
		if strings.Contains(s, "|") {
			return nil, nil, errAt(condNode, "condition: aggregations (%q) are Sigma 1; write a correlation rule", s)
		}
		c, err := parseCondition(s, names)
		if err != nil {
			return nil, nil, errAt(condNode, "%v", err)
		}
		fs = append(fs, compileCond(c, searches))
		alts = append(alts, condReqs(c, searches))
	}
	reqs := common(alts)
	if len(fs) == 1 {
		return fs[0], reqs, nil
	}
	return func(e Event) bool {
		for _, f := range fs {
			if f(e) {
				return true
			}
		}
		return false
	}, reqs, nil
}

// hasKeywords reports whether a detection has a keyword search: a
// search identifier that is a list of plain values, or a key starting
// with |.
func hasKeywords(det *yaml.Node) bool {
	for i := 0; i+1 < len(det.Content); i += 2 {
		if det.Content[i].Value == "condition" {
			continue
		}
		v := deref(det.Content[i+1])
		if v.Kind == yaml.SequenceNode {
			for _, c := range v.Content {
				c = deref(c)
				if c.Kind == yaml.ScalarNode {
					return true
				}
				if c.Kind == yaml.MappingNode && mapHasKeyword(c) {
					return true
				}
			}
		}
		if v.Kind == yaml.MappingNode && mapHasKeyword(v) {
			return true
		}
	}
	return false
}

func mapHasKeyword(m *yaml.Node) bool {
	for j := 0; j < len(m.Content); j += 2 {
		if strings.HasPrefix(m.Content[j].Value, "|") {
			return true
		}
	}
	return false
}

func scalarString(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func stringList(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		c = deref(c)
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		} else {
			out = append(out, fmt.Sprint(c.Value))
		}
	}
	return out
}
