package compliance

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The catalogs and the control library are data: YAML files under
// catalogs/, embedded in the binary. Each framework file holds one
// Framework; controls.yaml holds the controls. Adding an edition (5.2,
// 6.0) or another framework is adding a file.

//go:embed catalogs/*.yaml
var catalogFS embed.FS

// Library is every framework and the controls that answer their items.
type Library struct {
	Frameworks []*Framework // ordered by kind, then id
	Controls   []*Control   // in the order of controls.yaml

	frameworks map[string]*Framework
	controls   map[string]*Control
}

// Builtin returns the library embedded in anzen. It is read once per
// process (parsing the guideline takes tens of milliseconds, and every
// command that opens anzen builds the compliance part); the library is
// never changed after loading, so every caller shares it.
func Builtin() (*Library, error) { return loadBuiltin() }

var loadBuiltin = sync.OnceValues(func() (*Library, error) { return Load(catalogFS, "catalogs") })

// Load reads every framework file and controls.yaml from dir in fsys and
// checks that the controls name items and frameworks that exist.
func Load(fsys fs.FS, dir string) (*Library, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	lib := &Library{frameworks: map[string]*Framework{}, controls: map[string]*Control{}}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		if path.Base(n) == "controls.yaml" {
			cs, err := ParseControls(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			lib.Controls = append(lib.Controls, cs...)
			continue
		}
		fw, err := ParseFramework(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if old, ok := lib.frameworks[fw.ID]; ok && old.Version >= fw.Version {
			continue // a higher version of the data wins
		}
		lib.frameworks[fw.ID] = fw
	}
	for _, fw := range lib.frameworks {
		lib.Frameworks = append(lib.Frameworks, fw)
	}
	sort.Slice(lib.Frameworks, func(i, j int) bool {
		a, b := lib.Frameworks[i], lib.Frameworks[j]
		if a.Kind != b.Kind {
			return a.Kind > b.Kind // guidelines first
		}
		return a.ID < b.ID
	})
	for _, c := range lib.Controls {
		if _, dup := lib.controls[c.ID]; dup {
			return nil, fmt.Errorf("controls.yaml: control %s is listed twice", c.ID)
		}
		lib.controls[c.ID] = c
		for _, req := range c.Requirements {
			_, it, err := lib.Resolve(req)
			if err != nil {
				return nil, fmt.Errorf("controls.yaml: control %s: %w", c.ID, err)
			}
			if !it.Assessable() {
				return nil, fmt.Errorf("controls.yaml: control %s: %s is a heading or a rationale, not assessable", c.ID, req)
			}
		}
	}
	return lib, nil
}

// Framework returns the framework of id, or nil.
func (l *Library) Framework(id string) *Framework { return l.frameworks[id] }

// Control returns the control of id, or nil.
func (l *Library) Control(id string) *Control { return l.controls[id] }

// Guideline returns the guideline edition assessed: the newest one.
func (l *Library) Guideline() *Framework { return l.newest(KindGuideline) }

// Checklist returns the checklist answered: the newest fiscal year's.
func (l *Library) Checklist() *Framework { return l.newest(KindChecklist) }

func (l *Library) newest(kind string) *Framework {
	var best *Framework
	for _, fw := range l.Frameworks {
		if fw.Kind == kind && (best == nil || fw.Published > best.Published) {
			best = fw
		}
	}
	return best
}

// Resolve finds the item of a "<framework>:<ref>" reference.
func (l *Library) Resolve(ref string) (*Framework, *Item, error) {
	fwID, itemRef, ok := strings.Cut(ref, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%q is not <framework>:<ref>", ref)
	}
	fw := l.frameworks[fwID]
	if fw == nil {
		return nil, nil, fmt.Errorf("%q: no framework %s", ref, fwID)
	}
	it := fw.Item(itemRef)
	if it == nil {
		return nil, nil, fmt.Errorf("%q: framework %s has no item %s", ref, fwID, itemRef)
	}
	return fw, it, nil
}

// ControlsFor returns the controls that answer a "<framework>:<ref>" item.
func (l *Library) ControlsFor(ref string) []*Control {
	var out []*Control
	for _, c := range l.Controls {
		for _, r := range c.Requirements {
			if r == ref {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// Item returns the item of ref, or nil.
func (fw *Framework) Item(ref string) *Item { return fw.byRef[ref] }

// Walk calls fn for every item in catalog order (depth 0 at the top);
// when fn returns false the item's children are skipped.
func (fw *Framework) Walk(fn func(it *Item, depth int) bool) {
	var walk func(items []*Item, depth int)
	walk = func(items []*Item, depth int) {
		for _, it := range items {
			if fn(it, depth) {
				walk(it.Children, depth+1)
			}
		}
	}
	walk(fw.Items, 0)
}

// Parent returns the item's heading, or nil at the top.
func (it *Item) Parent() *Item { return it.parent }

// Top returns the item's top-level heading (its chapter or sheet).
func (it *Item) Top() *Item {
	for it.parent != nil {
		it = it.parent
	}
	return it
}

var kinds = map[string]bool{ItemChapter: true, ItemSection: true, ItemTopic: true, ItemB: true, ItemC: true,
	ItemD: true, ItemSheet: true, ItemGroup: true, ItemQuestion: true}

// guidelineKinds are the kinds of item a guideline holds; a checklist
// holds the others.
var guidelineKinds = map[string]bool{ItemChapter: true, ItemSection: true, ItemTopic: true, ItemB: true, ItemC: true, ItemD: true}

// Checklist cells a question may stand for, and the volumes of edition 6.0.
var (
	targets   = map[string]bool{"": true, "server": true, "terminal": true, "network": true}
	v6Volumes = map[string]bool{"overview": true, "management": true, "planning": true, "operations": true}
	datePat   = regexp.MustCompile(`^\d{4}-\d{2}(-\d{2})?$`)
	checkPat  = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
)

// validRef reports whether a ref can stand in a "<framework>:<ref>"
// reference and, lowercased, in an OSCAL token.
func validRef(ref string) bool {
	return ref != "" && !strings.ContainsAny(ref, ": /\t\n#") && utf8.ValidString(ref)
}

// ParseFramework reads one framework file and checks it: an id, a kind,
// both languages of every name and summary, unique refs, known kinds.
func ParseFramework(b []byte) (*Framework, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var fw Framework
	if err := dec.Decode(&fw); err != nil {
		return nil, fmt.Errorf("not a framework file: %w", err)
	}
	if fw.ID == "" || strings.ContainsAny(fw.ID, ": /") {
		return nil, errors.New("the framework needs an id without ':', '/' or spaces")
	}
	if fw.Kind != KindGuideline && fw.Kind != KindChecklist {
		return nil, fmt.Errorf("framework %s: kind %q is neither %s nor %s", fw.ID, fw.Kind, KindGuideline, KindChecklist)
	}
	if fw.Name.JA == "" || fw.Name.EN == "" {
		return nil, fmt.Errorf("framework %s: the name needs ja and en", fw.ID)
	}
	if len(fw.Items) == 0 {
		return nil, fmt.Errorf("framework %s has no items", fw.ID)
	}
	if fw.Published != "" && !datePat.MatchString(fw.Published) {
		return nil, fmt.Errorf("framework %s: published %q is not YYYY-MM or YYYY-MM-DD", fw.ID, fw.Published)
	}
	fw.byRef = map[string]*Item{}
	var check func(items []*Item, parent *Item) error
	check = func(items []*Item, parent *Item) error {
		for _, it := range items {
			if it == nil {
				return fmt.Errorf("framework %s: an empty item under %v", fw.ID, parent)
			}
			it.parent = parent
			if it.Ref == "" {
				return fmt.Errorf("framework %s: an item without a ref (number %q)", fw.ID, it.Number)
			}
			if !validRef(it.Ref) {
				return fmt.Errorf("framework %s: ref %q may not hold ':', '/', '#' or spaces", fw.ID, it.Ref)
			}
			if _, dup := fw.byRef[it.Ref]; dup {
				return fmt.Errorf("framework %s: ref %s is used twice", fw.ID, it.Ref)
			}
			fw.byRef[it.Ref] = it
			if !kinds[it.Kind] {
				return fmt.Errorf("framework %s: item %s has an unknown kind %q", fw.ID, it.Ref, it.Kind)
			}
			if it.Title.JA == "" || it.Title.EN == "" {
				return fmt.Errorf("framework %s: item %s needs a title in ja and en", fw.ID, it.Ref)
			}
			if it.Assessable() && (it.Summary.JA == "" || it.Summary.EN == "") {
				return fmt.Errorf("framework %s: item %s needs a summary in ja and en", fw.ID, it.Ref)
			}
			if (it.Summary.JA == "") != (it.Summary.EN == "") {
				return fmt.Errorf("framework %s: item %s has a summary in one language only", fw.ID, it.Ref)
			}
			if it.Assess && it.Kind != ItemB {
				return fmt.Errorf("framework %s: item %s: assess is for B items only", fw.ID, it.Ref)
			}
			if !targets[it.Target] || (it.Target != "" && it.Kind != ItemQuestion) {
				return fmt.Errorf("framework %s: item %s: target %q is not a checklist cell (server, terminal, network)", fw.ID, it.Ref, it.Target)
			}
			for _, v := range it.V6 {
				if !v6Volumes[v.Volume] || v.Chapter == "" {
					return fmt.Errorf("framework %s: item %s: v6 needs a volume (overview, management, planning, operations) and a chapter", fw.ID, it.Ref)
				}
			}
			if err := checkPlace(&fw, it, parent); err != nil {
				return err
			}
			if err := check(it.Children, it); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(fw.Items, nil); err != nil {
		return nil, err
	}
	return &fw, nil
}

// checkPlace refuses an item whose kind does not belong where it stands:
// a guideline holds chapters, sections, topics and B/C/D items, a
// checklist holds sheets, groups and questions, and requirements sit
// under a heading.
func checkPlace(fw *Framework, it, parent *Item) error {
	if (fw.Kind == KindGuideline) != guidelineKinds[it.Kind] {
		return fmt.Errorf("framework %s: item %s: a %s has no %s items", fw.ID, it.Ref, fw.Kind, it.Kind)
	}
	top := it.Kind == ItemChapter || it.Kind == ItemSheet
	if top != (parent == nil) {
		if top {
			return fmt.Errorf("framework %s: %s %s must be at the top", fw.ID, it.Kind, it.Ref)
		}
		return fmt.Errorf("framework %s: item %s must sit under a chapter or a sheet", fw.ID, it.Ref)
	}
	if parent != nil && parent.Assessable() {
		return fmt.Errorf("framework %s: item %s sits under %s, which is not a heading", fw.ID, it.Ref, parent.Ref)
	}
	return nil
}

// ParseControls reads the control library and checks each control's
// declaration (its references are checked by Load).
func ParseControls(b []byte) ([]*Control, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var doc struct {
		Controls []*Control `yaml:"controls"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a control library: %w", err)
	}
	for _, c := range doc.Controls {
		if c == nil || c.ID == "" {
			return nil, errors.New("a control without an id")
		}
		if c.Title.JA == "" || c.Title.EN == "" || c.Description.JA == "" || c.Description.EN == "" {
			return nil, fmt.Errorf("control %s needs a title and a description in ja and en", c.ID)
		}
		if len(c.Requirements) == 0 {
			return nil, fmt.Errorf("control %s answers no requirement", c.ID)
		}
		if len(c.Checks) == 0 && len(c.Evidence) == 0 {
			return nil, fmt.Errorf("control %s has neither checks nor evidence", c.ID)
		}
		reqs := map[string]bool{}
		for _, r := range c.Requirements {
			if reqs[r] {
				return nil, fmt.Errorf("control %s lists requirement %s twice", c.ID, r)
			}
			reqs[r] = true
		}
		checks := map[string]bool{}
		for _, id := range c.Checks {
			if !checkPat.MatchString(id) || checks[id] {
				return nil, fmt.Errorf("control %s: check %q must be a unique <part>.<name>", c.ID, id)
			}
			checks[id] = true
		}
		seen := map[string]bool{}
		for _, e := range c.Evidence {
			if e.ID == "" || e.Title.JA == "" || e.Title.EN == "" || e.ValidFor < 0 || seen[e.ID] {
				return nil, fmt.Errorf("control %s: evidence %q needs a unique id, a title in ja and en and valid_days ≥ 0", c.ID, e.ID)
			}
			seen[e.ID] = true
		}
	}
	return doc.Controls, nil
}
