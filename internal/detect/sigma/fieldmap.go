package sigma

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// FieldMap resolves Sigma field names to paths in JSON events, and says
// which events a rule's logsource covers. Read one with ParseFieldMap or
// FieldMapNamed; it is safe for concurrent use.
//
// Its YAML:
//
//	fields:                       # Sigma name: path, or a list of paths (first present wins)
//	  user: actor.id
//	  Provider_Name: [Event.System.Provider.#attributes.Name, Event.System.Provider_attributes.Name]
//	default: "Event.EventData.{}" # optional: the path of a name not in fields ({} is the name)
//	logsources:                   # optional: which events each logsource covers
//	  - product: windows
//	    service: security
//	    conditions: {Channel: Security}   # field: value or list of values, all must hold
type FieldMap struct {
	fields     map[string][]string
	defaults   []string
	logsources []logsourceEntry

	mu    sync.Mutex
	cache atomic.Pointer[map[string][]fieldPath]
}

type logsourceEntry struct {
	ls         LogSource
	conditions []*item
}

// identityMap resolves every name to itself.
var identityMap = &FieldMap{}

// maxCached bounds the resolved names a FieldMap keeps.
const maxCached = 4096

func (m *FieldMap) resolve(name string) []fieldPath {
	if c := m.cache.Load(); c != nil {
		if p, ok := (*c)[name]; ok {
			return p
		}
	}
	var paths []string
	switch {
	case m.fields[name] != nil:
		paths = m.fields[name]
	case len(m.defaults) > 0:
		for _, d := range m.defaults {
			paths = append(paths, strings.ReplaceAll(d, "{}", name))
		}
	default:
		paths = []string{name}
	}
	fps := make([]fieldPath, len(paths))
	for i, p := range paths {
		fps[i] = fieldPath{full: p, segs: strings.Split(p, ".")}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cache.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n < maxCached {
		next := make(map[string][]fieldPath, n+1)
		if old != nil {
			for k, v := range *old {
				next[k] = v
			}
		}
		next[name] = fps
		m.cache.Store(&next)
	}
	return fps
}

// ParseFieldMap reads a field map from YAML (see FieldMap).
func ParseFieldMap(data []byte) (*FieldMap, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("field map: %w", err)
	}
	m := &FieldMap{fields: map[string][]string{}}
	if len(doc.Content) == 0 {
		return m, nil
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("field map: a YAML map of fields, default and logsources")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		switch k.Value {
		case "fields":
			if v.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("field map: line %d: fields is a map of Sigma name to path", v.Line)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				name, p := v.Content[j].Value, deref(v.Content[j+1])
				paths := stringList(p)
				if len(paths) == 0 || slices0(paths) {
					return nil, fmt.Errorf("field map: line %d: %s has no path", p.Line, name)
				}
				m.fields[name] = paths
			}
		case "default":
			m.defaults = stringList(v)
			for _, d := range m.defaults {
				if !strings.Contains(d, "{}") {
					return nil, fmt.Errorf("field map: line %d: default %q has no {} for the name", v.Line, d)
				}
			}
		case "logsources":
			if v.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("field map: line %d: logsources is a list", v.Line)
			}
			for _, en := range v.Content {
				e, err := parseLogsourceEntry(deref(en))
				if err != nil {
					return nil, err
				}
				m.logsources = append(m.logsources, e)
			}
		default:
			return nil, fmt.Errorf("field map: line %d: unknown key %q (fields, default, logsources)", k.Line, k.Value)
		}
	}
	return m, nil
}

func slices0(ss []string) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}

func parseLogsourceEntry(n *yaml.Node) (logsourceEntry, error) {
	var e logsourceEntry
	if n.Kind != yaml.MappingNode {
		return e, fmt.Errorf("field map: line %d: a logsource is a map", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch k.Value {
		case "category":
			e.ls.Category = v.Value
		case "product":
			e.ls.Product = v.Value
		case "service":
			e.ls.Service = v.Value
		case "conditions":
			if v.Kind != yaml.MappingNode {
				return e, fmt.Errorf("field map: line %d: conditions is a map of field to value", v.Line)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				f := v.Content[j]
				if strings.Contains(f.Value, "|") {
					return e, fmt.Errorf("field map: line %d: conditions take plain values, not modifiers (%s)", f.Line, f.Value)
				}
				it, err := compileItem("logsource", f.Value, nil, v.Content[j+1], nil)
				if err != nil {
					return e, fmt.Errorf("field map: %w", err)
				}
				e.conditions = append(e.conditions, it)
			}
		default:
			return e, fmt.Errorf("field map: line %d: unknown logsource key %q (category, product, service, conditions)", k.Line, k.Value)
		}
	}
	if e.ls == (LogSource{}) {
		return e, fmt.Errorf("field map: line %d: a logsource needs a category, product or service", n.Line)
	}
	return e, nil
}

func (en *logsourceEntry) covers(ls LogSource) bool {
	return (en.ls.Category == "" || en.ls.Category == ls.Category) &&
		(en.ls.Product == "" || en.ls.Product == ls.Product) &&
		(en.ls.Service == "" || en.ls.Service == ls.Service)
}

// Applies reports whether the rule's logsource covers the event. With
// no logsources in the map, every rule applies to every event. Otherwise
// some entry must cover the rule (each of category, product and service
// the entry gives equals the rule's, as in pySigma's logsource
// conditions) and its conditions must hold on the event.
func (m *FieldMap) Applies(r *Rule, e Event) bool {
	if len(m.logsources) == 0 {
		return true
	}
	for i := range m.logsources {
		en := &m.logsources[i]
		if !en.covers(r.LogSource) {
			continue
		}
		ok := true
		for _, c := range en.conditions {
			if !c.eval(e) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Covers reports whether some logsource of the map covers the rule: a
// rule it does not cover never applies, and a loader should say so.
func (m *FieldMap) Covers(r *Rule) bool {
	if len(m.logsources) == 0 {
		return true
	}
	for i := range m.logsources {
		if m.logsources[i].covers(r.LogSource) {
			return true
		}
	}
	return false
}

//go:embed fieldmaps/*.yml
var builtinMaps embed.FS

// FieldMapNames lists the built-in field maps.
func FieldMapNames() []string {
	ents, _ := builtinMaps.ReadDir("fieldmaps")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".yml"))
	}
	sort.Strings(names)
	return names
}

// FieldMapNamed returns a built-in field map: "anzen" for anzen's access
// events, "windows" for Windows event logs exported as JSON
// ({"Event":{"System":{...},"EventData":{...}}}).
func FieldMapNamed(name string) (*FieldMap, error) {
	data, err := builtinMaps.ReadFile("fieldmaps/" + name + ".yml")
	if err != nil || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("no built-in field map %q (have %s)", name, strings.Join(FieldMapNames(), ", "))
	}
	return ParseFieldMap(data)
}
