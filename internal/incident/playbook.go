package incident

import (
	"bytes"
	"context"
	_ "embed" // the built-in playbooks
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Playbooks: the tasks a new incident of each kind starts with, in
// Japanese and English, each with its phase, a suggested CSIRT role and a
// due time counted from awareness. The built-in playbooks are data in the
// program (playbooks/builtin.yaml); a facility that edits one gets its own
// copy (copy on write, incident_playbooks) and may reset it to the
// built-in one. Playbooks travel as YAML (export, import), the same form
// as the built-in file.

// TaskTemplate is one task a playbook seeds in a new incident.
type TaskTemplate struct {
	Phase            State
	TitleJA, TitleEN string
	DescJA, DescEN   string
	DueAfter         time.Duration // from the incident's AwareAt; 0: no due time
	Role             string        // suggested CSIRT role, "" for none
}

// PlaybookRoles are the CSIRT roles a playbook's task may suggest.
var PlaybookRoles = []string{"commander", "handler", "poc", "legal", "pr", "it_liaison"}

// Phases are the states a playbook's task may belong to: every state but New.
var Phases = []State{Triage, Containment, Eradication, Recovery, Closed}

// Actions of the audit log for playbooks.
const (
	ActionPlaybookUpdate = "incident.playbook.update"
	ActionPlaybookReset  = "incident.playbook.reset"
	ActionPlaybookImport = "incident.playbook.import"
)

// Limits of a playbook, in characters or tasks.
const (
	prepMaxTitle     = 200
	prepMaxText      = 4000
	maxPlaybookTasks = 100
	maxDueAfter      = 365 * 24 * time.Hour
	// MaxPlaybookFile is the largest YAML file of playbooks read.
	MaxPlaybookFile = 1 << 20
)

// Playbook is the playbook of one kind in one facility.
type Playbook struct {
	Kind      Kind
	Tasks     []TaskTemplate
	Edited    bool // the facility's own copy; false: the built-in one
	Updated   time.Time
	UpdatedBy string
}

// PrepError is an input the preparation rooms (playbooks, BCP, backups,
// drills) refuse: Field names what is wrong, MsgID its message and Data
// the message's values.
type PrepError struct {
	Field, MsgID string
	Data         map[string]any
}

func (e *PrepError) Error() string { return "incident: " + e.Field + ": " + e.MsgID }

func prepErr(field, msgID string, kv ...any) *PrepError {
	e := &PrepError{Field: field, MsgID: msgID, Data: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Data[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return e
}

// taskDoc is a task template as YAML and JSON write it.
type taskDoc struct {
	Phase   string `yaml:"phase" json:"phase"`
	Due     string `yaml:"due,omitempty" json:"due,omitempty"`
	Role    string `yaml:"role,omitempty" json:"role,omitempty"`
	TitleJA string `yaml:"title_ja" json:"title_ja"`
	TitleEN string `yaml:"title_en" json:"title_en"`
	DescJA  string `yaml:"desc_ja,omitempty" json:"desc_ja,omitempty"`
	DescEN  string `yaml:"desc_en,omitempty" json:"desc_en,omitempty"`
}

type playbookDoc struct {
	Kind  string    `yaml:"kind"`
	Tasks []taskDoc `yaml:"tasks"`
}

type playbookFile struct {
	Playbooks []playbookDoc `yaml:"playbooks"`
}

// FormatDue writes a due time as the files do: whole days as "3d",
// otherwise a Go duration ("90m", "1h30m"); "" for none.
func FormatDue(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParseDue reads a due time: "" (none), a Go duration or whole days ("3d").
func ParseDue(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 365 {
			return 0, errors.New("bad days")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if d < 0 || d > maxDueAfter {
		return 0, errors.New("out of range")
	}
	return d, nil
}

func (t TaskTemplate) doc() taskDoc {
	return taskDoc{Phase: string(t.Phase), Due: FormatDue(t.DueAfter), Role: t.Role, TitleJA: t.TitleJA,
		TitleEN: t.TitleEN, DescJA: t.DescJA, DescEN: t.DescEN}
}

// prepCheckText reports whether s is valid UTF-8 of at most max characters
// without control characters other than line breaks and tabs.
func prepCheckText(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f })
}

// task checks a task document; n is its number (from 1), for messages.
func (d taskDoc) task(n int) (TaskTemplate, error) {
	t := TaskTemplate{Phase: State(strings.TrimSpace(d.Phase)), Role: strings.TrimSpace(d.Role),
		TitleJA: strings.TrimSpace(d.TitleJA), TitleEN: strings.TrimSpace(d.TitleEN),
		DescJA: strings.TrimSpace(d.DescJA), DescEN: strings.TrimSpace(d.DescEN)}
	if !slices.Contains(Phases, t.Phase) {
		return t, prepErr("phase", "incident.prep.error.phase", "N", n)
	}
	if t.Role != "" && !slices.Contains(PlaybookRoles, t.Role) {
		return t, prepErr("role", "incident.prep.error.role", "N", n)
	}
	if t.TitleJA == "" || t.TitleEN == "" || !prepCheckText(t.TitleJA, prepMaxTitle) || !prepCheckText(t.TitleEN, prepMaxTitle) {
		return t, prepErr("title", "incident.prep.error.task_title", "N", n, "Max", prepMaxTitle)
	}
	if !prepCheckText(t.DescJA, prepMaxText) || !prepCheckText(t.DescEN, prepMaxText) {
		return t, prepErr("description", "incident.prep.error.task_desc", "N", n, "Max", prepMaxText)
	}
	var err error
	if t.DueAfter, err = ParseDue(d.Due); err != nil || !utf8.ValidString(d.Due) {
		return t, prepErr("due", "incident.prep.error.due", "N", n)
	}
	return t, nil
}

// parseTasks checks the task documents of one playbook.
func parseTasks(docs []taskDoc) ([]TaskTemplate, error) {
	if len(docs) == 0 || len(docs) > maxPlaybookTasks {
		return nil, prepErr("tasks", "incident.prep.error.tasks", "Max", maxPlaybookTasks)
	}
	out := make([]TaskTemplate, 0, len(docs))
	for i, d := range docs {
		t, err := d.task(i + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ParsePlaybooks reads a YAML file of playbooks (the form of
// playbooks/builtin.yaml): each kind at most once, each task checked.
func ParsePlaybooks(data []byte) ([]Playbook, error) {
	if len(data) > MaxPlaybookFile {
		return nil, prepErr("file", "incident.prep.error.yaml_size", "Max", MaxPlaybookFile>>10)
	}
	if !utf8.Valid(data) {
		return nil, prepErr("file", "incident.prep.error.yaml")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f playbookFile
	if err := dec.Decode(&f); err != nil {
		return nil, prepErr("file", "incident.prep.error.yaml_detail", "Detail", playbookYAMLMessage(err))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, prepErr("file", "incident.prep.error.yaml_detail", "Detail", "more than one document")
	}
	if len(f.Playbooks) == 0 {
		return nil, prepErr("file", "incident.prep.error.yaml_empty")
	}
	var out []Playbook
	seen := map[Kind]bool{}
	for _, p := range f.Playbooks {
		k, err := ParseKind(strings.TrimSpace(p.Kind))
		if err != nil || seen[k] {
			return nil, prepErr("kind", "incident.prep.error.kind", "Kind", prepTruncate(p.Kind, 40))
		}
		seen[k] = true
		tasks, err := parseTasks(p.Tasks)
		if err != nil {
			var pe *PrepError
			if errors.As(err, &pe) {
				pe.Data["Kind"] = string(k)
			}
			return nil, err
		}
		out = append(out, Playbook{Kind: k, Tasks: tasks})
	}
	return out, nil
}

// playbookYAMLMessage is the YAML parser's message, short and in one line.
func playbookYAMLMessage(err error) string {
	return prepTruncate(strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; "), 300)
}

func prepTruncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// MarshalPlaybooks writes playbooks as a YAML file ParsePlaybooks reads.
func MarshalPlaybooks(list []Playbook) ([]byte, error) {
	var f playbookFile
	for _, p := range list {
		d := playbookDoc{Kind: string(p.Kind)}
		for _, t := range p.Tasks {
			d.Tasks = append(d.Tasks, t.doc())
		}
		f.Playbooks = append(f.Playbooks, d)
	}
	var b bytes.Buffer
	b.WriteString("# anzen playbooks (incident task templates) / anzen プレイブック\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

//go:embed playbooks/builtin.yaml
var builtinYAML []byte

// builtin holds the built-in playbook of every kind.
var builtin = func() map[Kind][]TaskTemplate {
	list, err := ParsePlaybooks(builtinYAML)
	if err != nil {
		panic(fmt.Sprintf("playbooks/builtin.yaml: %v", err))
	}
	m := map[Kind][]TaskTemplate{}
	for _, p := range list {
		m[p.Kind] = p.Tasks
	}
	return m
}()

// BuiltinPlaybook returns a copy of the built-in playbook of kind.
func BuiltinPlaybook(kind Kind) []TaskTemplate {
	return slices.Clone(builtin[kind])
}

// PlaybookTasks returns the task templates of the playbook for kind in facility: the hospital's edited
// playbook if there is one, else the built-in one.
func PlaybookTasks(ctx context.Context, q db.Querier, facility int64, kind Kind) ([]TaskTemplate, error) {
	p, err := PlaybookOf(ctx, q, facility, kind)
	return p.Tasks, err
}

// PlaybookOf returns the playbook of kind in facility, edited or built-in.
func PlaybookOf(ctx context.Context, q db.Querier, facility int64, kind Kind) (Playbook, error) {
	if _, err := ParseKind(string(kind)); err != nil {
		return Playbook{}, db.ErrNotFound
	}
	var tasks string
	var updated int64
	p := Playbook{Kind: kind}
	err := q.QueryRowContext(ctx, `SELECT tasks, updated, updated_by FROM incident_playbooks WHERE facility = ? AND kind = ?`,
		facility, string(kind)).Scan(&tasks, &updated, &p.UpdatedBy)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		p.Tasks = BuiltinPlaybook(kind)
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read the playbook %s of facility %d: %w", kind, facility, err)
	}
	var docs []taskDoc
	if err := json.Unmarshal([]byte(tasks), &docs); err != nil {
		return p, fmt.Errorf("playbook %s of facility %d: %w", kind, facility, err)
	}
	if p.Tasks, err = parseTasks(docs); err != nil {
		return p, fmt.Errorf("playbook %s of facility %d: %w", kind, facility, err)
	}
	p.Edited, p.Updated = true, db.Time(updated)
	return p, nil
}

// Playbooks returns the playbook of every kind in facility, in the order
// of Kinds.
func Playbooks(ctx context.Context, q db.Querier, facility int64) ([]Playbook, error) {
	out := make([]Playbook, 0, len(Kinds))
	for _, k := range Kinds {
		p, err := PlaybookOf(ctx, q, facility, k)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// writePlaybook stores facility's copy of the playbook of kind in tx.
func writePlaybook(ctx context.Context, tx *db.Tx, facility int64, kind Kind, tasks []TaskTemplate, by string, now time.Time) error {
	docs := make([]taskDoc, 0, len(tasks))
	for _, t := range tasks {
		docs = append(docs, t.doc())
	}
	b, _ := json.Marshal(docs)
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_playbooks (facility, kind, tasks, updated, updated_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (facility, kind) DO UPDATE SET tasks = excluded.tasks, updated = excluded.updated, updated_by = excluded.updated_by`,
		facility, string(kind), string(b), now.UnixMilli(), by)
	if err != nil {
		return fmt.Errorf("write the playbook %s of facility %d: %w", kind, facility, err)
	}
	return nil
}

func playbookEvent(facility int64, by Actor, action string, kind Kind, now time.Time, detail map[string]string) selfaudit.Event {
	return selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login, Action: action,
		Target: "playbook:" + string(kind), Outcome: selfaudit.Success, ClientAddr: by.Client, Detail: detail}
}

// SavePlaybook makes tasks facility's playbook of kind (its own copy
// from now on) and records it in the audit log, in one transaction.
func SavePlaybook(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, kind Kind, tasks []TaskTemplate, now time.Time) error {
	if _, err := ParseKind(string(kind)); err != nil {
		return db.ErrNotFound
	}
	docs := make([]taskDoc, 0, len(tasks))
	for _, t := range tasks {
		docs = append(docs, t.doc())
	}
	checked, err := parseTasks(docs)
	if err != nil {
		return err
	}
	return d.InTx(ctx, func(tx *db.Tx) error {
		if err := writePlaybook(ctx, tx, facility, kind, checked, by.Login, now); err != nil {
			return err
		}
		return rec.Record(ctx, tx, playbookEvent(facility, by, ActionPlaybookUpdate, kind, now,
			map[string]string{"kind": string(kind), "tasks": strconv.Itoa(len(checked))}))
	})
}

// ResetPlaybook drops facility's copy of the playbook of kind, so that the
// built-in one holds again; it reports whether there was a copy.
func ResetPlaybook(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, kind Kind, now time.Time) (bool, error) {
	if _, err := ParseKind(string(kind)); err != nil {
		return false, db.ErrNotFound
	}
	var dropped bool
	err := d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM incident_playbooks WHERE facility = ? AND kind = ?`, facility, string(kind))
		if err != nil {
			return fmt.Errorf("reset the playbook %s of facility %d: %w", kind, facility, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		dropped = true
		return rec.Record(ctx, tx, playbookEvent(facility, by, ActionPlaybookReset, kind, now, map[string]string{"kind": string(kind)}))
	})
	return dropped, err
}

// ImportPlaybooks reads a YAML file of playbooks and makes each one
// facility's playbook of its kind, all or none, each recorded in the
// audit log. It returns the kinds imported.
func ImportPlaybooks(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, data []byte, now time.Time) ([]Kind, error) {
	list, err := ParsePlaybooks(data)
	if err != nil {
		return nil, err
	}
	var kinds []Kind
	err = d.InTx(ctx, func(tx *db.Tx) error {
		for _, p := range list {
			if err := writePlaybook(ctx, tx, facility, p.Kind, p.Tasks, by.Login, now); err != nil {
				return err
			}
			if err := rec.Record(ctx, tx, playbookEvent(facility, by, ActionPlaybookImport, p.Kind, now,
				map[string]string{"kind": string(p.Kind), "tasks": strconv.Itoa(len(p.Tasks))})); err != nil {
				return err
			}
			kinds = append(kinds, p.Kind)
		}
		return nil
	})
	return kinds, err
}
