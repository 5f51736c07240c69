package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Managing the rules: importing the hospital's rules (checked by the same
// loader as the files of detect.rules, and kept whole or not at all),
// deleting them, and the settings of every rule (enabled, level, tags).
// Each change raises the rules' generation and is recorded in the audit
// log, in the change's transaction.

// The audit log's actions for changes of the rules.
const (
	ActionRuleImport   = "rule.import"
	ActionRuleDelete   = "rule.delete"
	ActionRuleSettings = "rule.settings"
	ActionRuleTry      = "rule.try" // a try reads the access log: recorded as a search is
)

// RuleSetting is how a rule runs, whatever its source: enabled or not, and
// the level and tags that replace its own.
type RuleSetting struct {
	Key       string
	Enabled   bool
	Level     string   // a level name; "" for the rule's own
	Tags      []string // nil for the rule's own
	UpdatedBy string
	UpdatedAt time.Time
}

// RuleSettings returns every rule's setting, by rule key.
func RuleSettings(ctx context.Context, q db.Querier) (map[string]RuleSetting, error) {
	rows, err := q.QueryContext(ctx, `SELECT rule_key, enabled, level, tags, updated_by, updated_at FROM detect_rule_settings`)
	if err != nil {
		return nil, fmt.Errorf("read the rules' settings: %w", err)
	}
	defer rows.Close()
	out := map[string]RuleSetting{}
	for rows.Next() {
		var s RuleSetting
		var enabled int
		var tags string
		var at int64
		if err := rows.Scan(&s.Key, &enabled, &s.Level, &tags, &s.UpdatedBy, &at); err != nil {
			return nil, fmt.Errorf("read the rules' settings: %w", err)
		}
		if tags != "" {
			if err := json.Unmarshal([]byte(tags), &s.Tags); err != nil {
				return nil, fmt.Errorf("the settings of rule %s: tags: %w", s.Key, err)
			}
			if s.Tags == nil {
				s.Tags = []string{}
			}
		}
		s.Enabled, s.UpdatedAt = enabled != 0, time.UnixMilli(at).UTC()
		out[s.Key] = s
	}
	return out, rows.Err()
}

// RuleError is a change of the rules that cannot be made. MsgID is its
// message, Field what is wrong (yaml, level, tags; "" for the rule as a
// whole), Detail the loader's reason, which names the construct.
type RuleError struct {
	Field, MsgID, Detail string
	Status               int // the HTTP status: 422 unless set
}

func (e *RuleError) Error() string { return "rules: " + e.MsgID + ": " + e.Detail }

// Changer is who changes the rules.
type Changer = Reviewer

// RulePatch is a change of a rule's setting; nil fields stay as they are.
type RulePatch struct {
	Enabled *bool     `json:"enabled,omitempty"`
	Level   *string   `json:"level,omitempty"`    // "" for the rule's own
	Tags    *[]string `json:"tags,omitempty"`     // replaces the rule's own
	OwnTags bool      `json:"own_tags,omitempty"` // back to the rule's own tags
}

// tagPattern is a Sigma tag: lower-case namespace and name.
var tagPattern = regexp.MustCompile(`^[a-z0-9_.\-]{1,64}$`)

// maxTags is how many tags a rule's setting may give.
const maxTags = 30

func (p RulePatch) validate() error {
	if p.Level != nil && *p.Level != "" {
		if _, err := sigma.ParseLevel(*p.Level); err != nil {
			return &RuleError{Field: "level", MsgID: "detect.rules.error.level"}
		}
	}
	if p.Tags != nil {
		if len(*p.Tags) > maxTags {
			return &RuleError{Field: "tags", MsgID: "detect.rules.error.tags"}
		}
		for _, t := range *p.Tags {
			if !tagPattern.MatchString(t) {
				return &RuleError{Field: "tags", MsgID: "detect.rules.error.tags", Detail: t}
			}
		}
	}
	if p.Enabled == nil && p.Level == nil && p.Tags == nil && !p.OwnTags {
		return &RuleError{MsgID: "detect.rules.error.empty_change"}
	}
	return nil
}

// bumpGeneration tells every engine that the rules changed.
func bumpGeneration(ctx context.Context, tx *db.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE detect_rules_generation SET gen = gen + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("raise the rules' generation: %w", err)
	}
	return nil
}

// ImportRules checks one YAML file of rules with the loader of rule files
// and keeps it: all its rules or, when one cannot be run, none (a
// RuleError with the loader's reason). base are the files loaded at start.
func ImportRules(ctx context.Context, d *db.DB, rec selfaudit.Recorder, base RuleFiles, text string, by Changer, now time.Time) (StoredRules, error) {
	if !utf8.ValidString(text) || strings.TrimSpace(text) == "" {
		return StoredRules{}, &RuleError{Field: "yaml", MsgID: "detect.rules.error.empty"}
	}
	f := ParseRuleText("import", []byte(text))
	if !f.Loaded() {
		return StoredRules{}, &RuleError{Field: "yaml", MsgID: "detect.rules.error.invalid", Detail: f.Err.Error()}
	}
	if len(f.Rules)+len(f.Correlations) == 0 {
		return StoredRules{}, &RuleError{Field: "yaml", MsgID: "detect.rules.error.empty"}
	}
	s := StoredRules{YAML: text, Keys: fileKeys(f), AddedBy: by.Login, AddedAt: now}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		cat, err := ReadRuleCatalog(ctx, tx, base)
		if err != nil {
			return err
		}
		for _, k := range s.Keys {
			if e := cat.Entry(k); e != nil {
				return &RuleError{Field: "yaml", MsgID: "detect.rules.error.duplicate", Detail: k, Status: 409}
			}
		}
		if name := nameInUse(cat, f); name != "" {
			return &RuleError{Field: "yaml", MsgID: "detect.rules.error.duplicate", Detail: name, Status: 409}
		}
		if err := linksWith(cat, f); err != nil {
			return &RuleError{Field: "yaml", MsgID: "detect.rules.error.invalid", Detail: err.Error()}
		}
		keys, _ := json.Marshal(s.Keys)
		if err := tx.QueryRowContext(ctx, `INSERT INTO detect_rules (yaml, rule_keys, added_by, added_at) VALUES (?, ?, ?, ?) RETURNING id`,
			text, string(keys), by.Login, now.UnixMilli()).Scan(&s.ID); err != nil {
			return fmt.Errorf("store the rules: %w", err)
		}
		if err := bumpGeneration(ctx, tx); err != nil {
			return err
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, ActorID: by.UserID, ActorLogin: by.Login, Action: ActionRuleImport,
			Target: storedPath(s.ID), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"rules": strings.Join(s.Keys, ", ")}})
	})
	return s, err
}

// nameInUse returns a name of f's rules that a rule of the catalog has
// already (correlation rules refer to rules by name); "" when none.
func nameInUse(cat *RuleCatalog, f RuleFile) string {
	names := map[string]bool{}
	for i := range cat.Entries {
		id, name := cat.Entries[i].refNames()
		names[id], names[name] = true, true
	}
	for _, r := range f.Rules {
		if r.Name != "" && names[r.Name] {
			return r.Name
		}
	}
	for _, c := range f.Correlations {
		if c.Name != "" && names[c.Name] {
			return c.Name
		}
	}
	return ""
}

// linksWith reports why f's correlation rules cannot be linked with the
// catalog's rules and f's own; nil when they can.
func linksWith(cat *RuleCatalog, f RuleFile) error {
	if len(f.Correlations) == 0 {
		return nil
	}
	var rules []*sigma.Rule
	var corrs []*sigma.Correlation
	for i := range cat.Entries {
		if e := &cat.Entries[i]; e.rule != nil {
			rules = append(rules, e.rule)
		} else {
			corrs = append(corrs, e.corr)
		}
	}
	_, err := sigma.NewCorrelator(append(rules, f.Rules...), append(corrs, f.Correlations...))
	return err
}

// DeleteStoredRules deletes the stored document that holds the rule key,
// with the settings of its rules. A rule of a file or a pack cannot be
// deleted (disable it), nor one that another rule's correlation needs.
func DeleteStoredRules(ctx context.Context, d *db.DB, rec selfaudit.Recorder, base RuleFiles, key string, by Changer, now time.Time) (StoredRules, error) {
	var s StoredRules
	err := d.InTx(ctx, func(tx *db.Tx) error {
		cat, err := ReadRuleCatalog(ctx, tx, base)
		if err != nil {
			return err
		}
		e := cat.Entry(key)
		if e == nil {
			return db.ErrNotFound
		}
		if e.Source != SourceStored {
			return &RuleError{MsgID: "detect.rules.error.not_stored", Status: 409}
		}
		stored, err := ListStoredRules(ctx, tx)
		if err != nil {
			return err
		}
		rest := stored[:0:0]
		for _, st := range stored {
			if st.ID == e.StoredID {
				s = st
			} else {
				rest = append(rest, st)
			}
		}
		if after := buildCatalog(base, rest, nil); len(after.Rejected) > len(cat.Rejected) {
			return &RuleError{MsgID: "detect.rules.error.in_use", Detail: after.Rejected[len(after.Rejected)-1].Err.Error(), Status: 409}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM detect_rules WHERE id = ?`, s.ID); err != nil {
			return fmt.Errorf("delete stored rules %d: %w", s.ID, err)
		}
		for _, k := range s.Keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detect_rule_settings WHERE rule_key = ?`, k); err != nil {
				return fmt.Errorf("delete the settings of rule %s: %w", k, err)
			}
		}
		if err := bumpGeneration(ctx, tx); err != nil {
			return err
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, ActorID: by.UserID, ActorLogin: by.Login, Action: ActionRuleDelete,
			Target: storedPath(s.ID), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"rules": strings.Join(s.Keys, ", ")}})
	})
	return s, err
}

// SetRule changes the setting of the rule key (of any source) and returns
// its entry as it now is; db.ErrNotFound when there is no such rule.
func SetRule(ctx context.Context, d *db.DB, rec selfaudit.Recorder, base RuleFiles, key string, p RulePatch, by Changer, now time.Time) (RuleEntry, error) {
	if err := p.validate(); err != nil {
		return RuleEntry{}, err
	}
	var out RuleEntry
	err := d.InTx(ctx, func(tx *db.Tx) error {
		cat, err := ReadRuleCatalog(ctx, tx, base)
		if err != nil {
			return err
		}
		e := cat.Entry(key)
		if e == nil {
			return db.ErrNotFound
		}
		s := RuleSetting{Key: key, Enabled: e.Enabled}
		if e.Setting != nil {
			s = *e.Setting
		}
		detail := map[string]string{}
		if p.Enabled != nil {
			s.Enabled = *p.Enabled
			detail["enabled"] = fmt.Sprint(s.Enabled)
		}
		if p.Level != nil {
			s.Level = *p.Level
			detail["level"] = s.Level
		}
		if p.OwnTags {
			s.Tags = nil
			detail["tags"] = "(own)"
		}
		if p.Tags != nil {
			s.Tags = append([]string{}, *p.Tags...)
			detail["tags"] = strings.Join(s.Tags, " ")
		}
		var tags []byte
		if s.Tags != nil {
			tags, _ = json.Marshal(s.Tags)
		}
		enabled := 0
		if s.Enabled {
			enabled = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_rule_settings (rule_key, enabled, level, tags, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (rule_key) DO UPDATE SET enabled = excluded.enabled, level = excluded.level,
			tags = excluded.tags, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			key, enabled, s.Level, string(tags), by.Login, now.UnixMilli()); err != nil {
			return fmt.Errorf("keep the setting of rule %s: %w", key, err)
		}
		if err := bumpGeneration(ctx, tx); err != nil {
			return err
		}
		if err := rec.Record(ctx, tx, selfaudit.Event{Time: now, ActorID: by.UserID, ActorLogin: by.Login, Action: ActionRuleSettings,
			Target: "rule:" + key, Outcome: selfaudit.Success, ClientAddr: by.Client, Detail: detail}); err != nil {
			return err
		}
		after, err := ReadRuleCatalog(ctx, tx, base)
		if err != nil {
			return err
		}
		if e := after.Entry(key); e != nil {
			out = *e
		}
		return nil
	})
	if errors.Is(err, db.ErrNotFound) {
		return RuleEntry{}, db.ErrNotFound
	}
	return out, err
}
