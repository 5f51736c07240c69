package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The rule catalog: every rule the engine knows, whatever its source (the
// built-in packs and the files of detect.rules, loaded at start; the
// hospital's rules stored in the database), with the settings that apply
// to each (enabled, level, tags; rules_store.go), and the set that runs:
// the enabled rules with their settings applied, and the correlation rules
// whose rules all run.

// SourceStored is the source of a rule kept in the database.
const SourceStored = "stored"

// RuleEntry is one rule or correlation rule of the catalog.
type RuleEntry struct {
	Key   string // the rule's id, else its name, else its title (sigma.Rule.Key)
	Title string
	// Source is the built-in pack's file (builtin:medical/x.yml), the path
	// of the detect.rules file, or SourceStored.
	Source      string
	StoredID    int64  // the stored document's id, for SourceStored
	Correlation string // the correlation type; "" for a detection rule
	Description string
	Level       sigma.Level // what runs: the rule's own, or the setting's
	OwnLevel    sigma.Level
	Tags        []string // what runs: the rule's own, or the setting's
	OwnTags     []string
	Enabled     bool
	Setting     *RuleSetting // nil when the rule has none
	Doc         []byte       // the rule's YAML document as written
	// LeftOut names the rule a correlation rule refers to that does not
	// run (disabled or left out itself), which leaves it out too.
	LeftOut string

	rule *sigma.Rule        // with the settings applied
	corr *sigma.Correlation // with the settings applied
}

// Running reports whether the rule is in the set the engine runs.
func (e *RuleEntry) Running() bool { return e.Enabled && e.LeftOut == "" }

// RuleCatalog is the rule catalog at one generation.
type RuleCatalog struct {
	Gen     int64
	Entries []RuleEntry
	// Rejected are the files that cannot be run, with the reason: those of
	// detect.rules, and stored documents that no longer fit with the rest
	// (a rule id that a file added since also uses).
	Rejected []RuleFile
	// alone holds, for every rule, whether its matches are alerts of their
	// own; from all the correlation rules, running or not, so that
	// disabling a correlation rule does not turn its rules' matches into
	// alerts.
	alone map[*sigma.Rule]bool
}

// Entry returns the entry of key; nil when there is none.
func (c *RuleCatalog) Entry(key string) *RuleEntry {
	for i := range c.Entries {
		if c.Entries[i].Key == key {
			return &c.Entries[i]
		}
	}
	return nil
}

// running returns the rules and correlation rules that run.
func (c *RuleCatalog) running() (rules []*sigma.Rule, corrs []*sigma.Correlation) {
	for i := range c.Entries {
		e := &c.Entries[i]
		switch {
		case !e.Running():
		case e.rule != nil:
			rules = append(rules, e.rule)
		default:
			corrs = append(corrs, e.corr)
		}
	}
	return rules, corrs
}

// sum identifies the running set: the documents and the settings.
func (c *RuleCatalog) sum() string {
	h := sha256.New()
	for i := range c.Entries {
		e := &c.Entries[i]
		if !e.Running() {
			continue
		}
		h.Write(e.Doc)
		fmt.Fprintf(h, "\x00%d\x00%q\x00", e.Level, e.Tags)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ruleGeneration reads the generation of the stored rules and settings.
func ruleGeneration(ctx context.Context, q db.Querier) (int64, error) {
	var gen int64
	if err := q.QueryRowContext(ctx, `SELECT gen FROM detect_rules_generation WHERE id = 1`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("read the rules' generation: %w", err)
	}
	return gen, nil
}

// ReadRuleCatalog builds the catalog of base (the files loaded at start)
// and of what the database holds.
func ReadRuleCatalog(ctx context.Context, q db.Querier, base RuleFiles) (*RuleCatalog, error) {
	gen, err := ruleGeneration(ctx, q)
	if err != nil {
		return nil, err
	}
	stored, err := ListStoredRules(ctx, q)
	if err != nil {
		return nil, err
	}
	settings, err := RuleSettings(ctx, q)
	if err != nil {
		return nil, err
	}
	c := buildCatalog(base, stored, settings)
	c.Gen = gen
	return c, nil
}

// storedPath names a stored document where a file's path is expected.
func storedPath(id int64) string { return SourceStored + ":" + strconv.FormatInt(id, 10) }

// buildCatalog joins the files, the stored documents and the settings.
func buildCatalog(base RuleFiles, stored []StoredRules, settings map[string]RuleSetting) *RuleCatalog {
	c := &RuleCatalog{}
	var files RuleFiles
	seen := map[string]bool{}
	for _, f := range base {
		if !f.Loaded() {
			c.Rejected = append(c.Rejected, f)
			continue
		}
		files = append(files, f)
		for _, k := range fileKeys(f) {
			seen[k] = true
		}
	}
	ids := map[string]int64{}
	for _, s := range stored {
		path := storedPath(s.ID)
		ids[path] = s.ID
		f := ParseRuleText(path, []byte(s.YAML))
		if f.Loaded() {
			for _, k := range fileKeys(f) {
				if seen[k] {
					f.Err = fmt.Errorf("another loaded rule has the id %s", k)
				}
			}
		}
		if !f.Loaded() {
			c.Rejected = append(c.Rejected, f)
			continue
		}
		for _, k := range fileKeys(f) {
			seen[k] = true
		}
		files = append(files, f)
	}
	files.link()
	for _, f := range files {
		if !f.Loaded() {
			c.Rejected = append(c.Rejected, f)
			continue
		}
		source := f.Path
		if ids[f.Path] != 0 {
			source = SourceStored
		}
		for _, r := range f.Rules {
			e := RuleEntry{Key: r.Key(), Title: r.Title, Source: source, StoredID: ids[f.Path], Description: r.Description,
				OwnLevel: r.Level, OwnTags: r.Tags, Doc: r.Doc, Enabled: true}
			cp := *r
			applySetting(&e, settings, &cp.Level, &cp.Tags)
			e.rule = &cp
			c.Entries = append(c.Entries, e)
		}
		for _, k := range f.Correlations {
			e := RuleEntry{Key: k.Key(), Title: k.Title, Source: source, StoredID: ids[f.Path], Description: k.Description,
				Correlation: k.Type.String(), OwnLevel: k.Level, OwnTags: k.Tags, Doc: k.Doc, Enabled: true}
			cp := *k
			applySetting(&e, settings, &cp.Level, &cp.Tags)
			e.corr = &cp
			c.Entries = append(c.Entries, e)
		}
	}
	c.leaveOut()
	c.alone = map[*sigma.Rule]bool{}
	var rules []*sigma.Rule
	var corrs []*sigma.Correlation
	for i := range c.Entries {
		if e := &c.Entries[i]; e.rule != nil {
			rules = append(rules, e.rule)
		} else {
			corrs = append(corrs, e.corr)
		}
	}
	// The files were linked together just above: this cannot fail.
	if all, err := sigma.NewCorrelator(rules, corrs); err == nil {
		for _, r := range rules {
			c.alone[r] = all.Generates(r)
		}
	}
	return c
}

// applySetting applies key's setting to the entry and to the copy of its
// rule (level and tags).
func applySetting(e *RuleEntry, settings map[string]RuleSetting, level *sigma.Level, tags *[]string) {
	e.Level, e.Tags = e.OwnLevel, e.OwnTags
	s, ok := settings[e.Key]
	if !ok {
		return
	}
	e.Setting, e.Enabled = &s, s.Enabled
	if s.Level != "" {
		if l, err := sigma.ParseLevel(s.Level); err == nil {
			e.Level = l
		}
	}
	if s.Tags != nil {
		e.Tags = s.Tags
	}
	*level, *tags = e.Level, e.Tags
}

// leaveOut marks the correlation rules that refer to a rule that does not
// run, until none more is marked.
func (c *RuleCatalog) leaveOut() {
	for {
		runs := map[string]bool{}
		for i := range c.Entries {
			e := &c.Entries[i]
			if e.Running() {
				id, name := e.refNames()
				runs[id], runs[name] = true, true
			}
		}
		changed := false
		for i := range c.Entries {
			e := &c.Entries[i]
			if e.corr == nil || !e.Running() {
				continue
			}
			for _, ref := range e.corr.Rules {
				if !runs[ref] {
					e.LeftOut, changed = ref, true
					break
				}
			}
		}
		if !changed {
			return
		}
	}
}

// refNames returns the id and name by which correlation rules refer to
// the entry's rule ("" when it has none).
func (e *RuleEntry) refNames() (id, name string) {
	if e.rule != nil {
		return nonEmpty(e.rule.ID), nonEmpty(e.rule.Name)
	}
	return nonEmpty(e.corr.ID), nonEmpty(e.corr.Name)
}

// nonEmpty keeps "" out of the names looked up (as "\x00", which no
// reference is).
func nonEmpty(s string) string {
	if s == "" {
		return "\x00"
	}
	return s
}

// fileKeys returns the keys of a file's rules and correlation rules.
func fileKeys(f RuleFile) []string {
	var out []string
	for _, r := range f.Rules {
		out = append(out, r.Key())
	}
	for _, c := range f.Correlations {
		out = append(out, c.Key())
	}
	return out
}

// StoredRules is one YAML file of the hospital's rules kept in the
// database: who added it and when.
type StoredRules struct {
	ID      int64
	YAML    string
	Keys    []string // the keys of its rules
	AddedBy string
	AddedAt time.Time
}

// ListStoredRules returns the stored rule documents, oldest first.
func ListStoredRules(ctx context.Context, q db.Querier) ([]StoredRules, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, yaml, rule_keys, added_by, added_at FROM detect_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the stored rules: %w", err)
	}
	defer rows.Close()
	var out []StoredRules
	for rows.Next() {
		var s StoredRules
		var keys string
		var at int64
		if err := rows.Scan(&s.ID, &s.YAML, &keys, &s.AddedBy, &at); err != nil {
			return nil, fmt.Errorf("read the stored rules: %w", err)
		}
		if err := json.Unmarshal([]byte(keys), &s.Keys); err != nil {
			return nil, fmt.Errorf("stored rules %d: keys: %w", s.ID, err)
		}
		s.AddedAt = time.UnixMilli(at).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

// storedOf returns the stored document of id; nil when there is none.
func storedOf(stored []StoredRules, id int64) *StoredRules {
	i := slices.IndexFunc(stored, func(s StoredRules) bool { return s.ID == id })
	if i < 0 {
		return nil
	}
	return &stored[i]
}

// ExportYAML joins rule documents into one multi-document YAML file.
func ExportYAML(docs [][]byte) []byte {
	var b []byte
	for i, d := range docs {
		if i > 0 {
			b = append(b, "---\n"...)
		}
		b = append(b, d...)
		if len(d) > 0 && d[len(d)-1] != '\n' {
			b = append(b, '\n')
		}
	}
	return b
}
