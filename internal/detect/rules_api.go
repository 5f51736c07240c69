package detect

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The rules in the JSON API (/api/v1/detect/rules): list, import, one
// rule, its settings, deletion, YAML export and trying rules over the
// audit log. The pages are in rules_ui.go.

// PermRulesRead lets a caller read the rules, export them and try them
// over the audit log of the facilities where it is held: the people who
// read the alerts.
var PermRulesRead = authz.Define(authz.Spec{
	Name:   "detect.rules.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read"},
})

// PermRulesManage lets a caller import and delete rules and change their
// settings. The rules run over every facility's events, so a caller must
// hold it for every facility.
var PermRulesManage = authz.Define(authz.Spec{
	Name:   "detect.rules.manage",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT},
	Scopes: []string{"manage"},
})

// RuleJSON is a rule in the JSON API.
type RuleJSON struct {
	Key         string    `json:"key"`
	Title       string    `json:"title"`
	Source      string    `json:"source"`
	Correlation string    `json:"correlation,omitempty"`
	Level       string    `json:"level"`
	OwnLevel    string    `json:"own_level"`
	Tags        []string  `json:"tags"`
	OwnTags     []string  `json:"own_tags"`
	Enabled     bool      `json:"enabled"`
	Running     bool      `json:"running"`
	LeftOut     string    `json:"left_out,omitempty"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	AddedBy     string    `json:"added_by,omitempty"`
	AddedAt     time.Time `json:"added_at,omitzero"`
}

// RejectedJSON is a rule file that cannot be run.
type RejectedJSON struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RulesJSON is the answer of GET /api/v1/detect/rules.
type RulesJSON struct {
	Rules    []RuleJSON     `json:"rules"`
	Rejected []RejectedJSON `json:"rejected"`
}

// ImportJSON is the body of POST /api/v1/detect/rules.
type ImportJSON struct {
	YAML string `json:"yaml"`
}

// TryJSON is the body of POST /api/v1/detect/rules/try: a rule of the
// catalog (rule) or a YAML file (yaml), over the last hours.
type TryJSON struct {
	Rule  string `json:"rule,omitempty"`
	YAML  string `json:"yaml,omitempty"`
	Hours int    `json:"hours,omitempty"`
}

// TryResultJSON is what trying found.
type TryResultJSON struct {
	Count     int          `json:"count"`
	Scanned   int          `json:"scanned"`
	Capped    bool         `json:"capped"`
	TookMilli int64        `json:"took_ms"`
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	Hits      []TryHitJSON `json:"hits"`
}

// TryHitJSON is one alert a try would have raised.
type TryHitJSON struct {
	Rule        string            `json:"rule"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Correlation string            `json:"correlation,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Events      []int64           `json:"events"`
	Time        time.Time         `json:"time"`
}

func ruleJSON(e *RuleEntry, stored []StoredRules) RuleJSON {
	j := RuleJSON{Key: e.Key, Title: e.Title, Source: e.Source, Correlation: e.Correlation, Level: e.Level.String(),
		OwnLevel: e.OwnLevel.String(), Tags: nonNil(e.Tags), OwnTags: nonNil(e.OwnTags), Enabled: e.Enabled,
		Running: e.Running(), LeftOut: e.LeftOut}
	if e.Setting != nil {
		j.UpdatedBy, j.UpdatedAt = e.Setting.UpdatedBy, e.Setting.UpdatedAt
	}
	if s := storedOf(stored, e.StoredID); s != nil {
		j.AddedBy, j.AddedAt = s.AddedBy, s.AddedAt
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func tryResultJSON(res TryResult) TryResultJSON {
	j := TryResultJSON{Count: res.Count, Scanned: res.Scanned, Capped: res.Capped, TookMilli: res.Took.Milliseconds(),
		From: res.From, To: res.To, Hits: []TryHitJSON{}}
	for _, h := range res.Hits {
		hj := TryHitJSON{Rule: h.RuleKey, Title: h.Title, Level: h.Level.String(), Correlation: h.Correlation,
			Events: h.Seqs, Time: h.Time}
		if len(h.Group) > 0 {
			hj.Group = map[string]string{}
			for _, g := range h.Group {
				hj.Group[g.Field] = g.Value
			}
		}
		j.Hits = append(j.Hits, hj)
	}
	return j
}

// ruleProblem answers a rule change's error.
func (h *ruleHandlers) ruleProblem(w http.ResponseWriter, r *http.Request, err error) {
	var re *RuleError
	switch {
	case errors.As(err, &re):
		status := re.Status
		if status == 0 {
			status = http.StatusUnprocessableEntity
		}
		typ := web.ProblemTypePrefix + "validation"
		switch status {
		case http.StatusConflict:
			typ = web.ProblemTypePrefix + "rule-conflict"
		case http.StatusNotFound:
			typ = web.ProblemTypePrefix + "not-found"
		}
		p := web.Problem{Type: typ, Title: http.StatusText(status), Status: status,
			Detail: h.ruleMessage(r, re)}
		if re.Field != "" {
			p.Errors = []web.FieldError{{Field: re.Field, Message: p.Detail}}
		}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("rules", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
}

// ruleMessage is a rule error as people read it: the translated message
// and the loader's reason, which names the construct.
func (h *ruleHandlers) ruleMessage(r *http.Request, re *RuleError) string {
	msg := h.srv.T(r, re.MsgID, map[string]any{"Max": TryMaxHours, "Key": re.Detail})
	if re.Detail != "" && !strings.Contains(msg, re.Detail) {
		msg += " (" + re.Detail + ")"
	}
	return msg
}

// manager reports whether the caller may change the rules: it holds
// PermRulesManage for every facility.
func manager(r *http.Request) bool {
	all, _ := web.PrincipalOf(r).Facilities(PermRulesManage)
	return all
}

func (h *ruleHandlers) apiRules(w http.ResponseWriter, r *http.Request) {
	cat, stored, err := h.catalog(r)
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	out := RulesJSON{Rules: []RuleJSON{}, Rejected: []RejectedJSON{}}
	for i := range cat.Entries {
		out.Rules = append(out.Rules, ruleJSON(&cat.Entries[i], stored))
	}
	for _, f := range cat.Rejected {
		out.Rejected = append(out.Rejected, RejectedJSON{Path: f.Path, Reason: f.Err.Error()})
	}
	web.JSON(w, http.StatusOK, out)
}

// apiEntry finds the rule of the path's key, or answers the problem.
func (h *ruleHandlers) apiEntry(w http.ResponseWriter, r *http.Request) (*RuleEntry, []StoredRules, bool) {
	cat, stored, err := h.catalog(r)
	if err != nil {
		h.ruleProblem(w, r, err)
		return nil, nil, false
	}
	e := cat.Entry(r.PathValue("key"))
	if e == nil {
		h.ruleProblem(w, r, db.ErrNotFound)
		return nil, nil, false
	}
	return e, stored, true
}

func (h *ruleHandlers) apiRule(w http.ResponseWriter, r *http.Request) {
	e, stored, ok := h.apiEntry(w, r)
	if !ok {
		return
	}
	web.JSON(w, http.StatusOK, ruleJSON(e, stored))
}

func (h *ruleHandlers) apiImport(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.Problem(w, r, http.StatusForbidden, "forbidden", "detect.rules.error.every_facility", nil)
		return
	}
	var in ImportJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	s, err := ImportRules(r.Context(), h.db, h.rec, h.en.BaseRules(), in.YAML, reviewer(r), h.en.clock.Now())
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	cat, stored, err := h.catalog(r)
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	out := RulesJSON{Rules: []RuleJSON{}, Rejected: []RejectedJSON{}}
	for _, k := range s.Keys {
		if e := cat.Entry(k); e != nil {
			out.Rules = append(out.Rules, ruleJSON(e, stored))
		}
	}
	web.JSON(w, http.StatusCreated, out)
}

func (h *ruleHandlers) apiPatchRule(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.Problem(w, r, http.StatusForbidden, "forbidden", "detect.rules.error.every_facility", nil)
		return
	}
	var p RulePatch
	if err := web.DecodeJSON(r, &p); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	e, err := SetRule(r.Context(), h.db, h.rec, h.en.BaseRules(), r.PathValue("key"), p, reviewer(r), h.en.clock.Now())
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	_, stored, err := h.catalog(r)
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, ruleJSON(&e, stored))
}

func (h *ruleHandlers) apiDeleteRule(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.Problem(w, r, http.StatusForbidden, "forbidden", "detect.rules.error.every_facility", nil)
		return
	}
	if _, err := DeleteStoredRules(r.Context(), h.db, h.rec, h.en.BaseRules(), r.PathValue("key"), reviewer(r), h.en.clock.Now()); err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiExportAll serves every rule that is loaded as one multi-document
// YAML file; apiExportRule one rule's document.
func (h *ruleHandlers) apiExportAll(w http.ResponseWriter, r *http.Request) {
	cat, _, err := h.catalog(r)
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	var docs [][]byte
	for i := range cat.Entries {
		docs = append(docs, cat.Entries[i].Doc)
	}
	writeYAML(w, "anzen-rules.yml", docs)
}

func (h *ruleHandlers) apiExportRule(w http.ResponseWriter, r *http.Request) {
	e, _, ok := h.apiEntry(w, r)
	if !ok {
		return
	}
	writeYAML(w, "rule.yml", [][]byte{e.Doc})
}

func writeYAML(w http.ResponseWriter, name string, docs [][]byte) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(ExportYAML(docs))
}

func (h *ruleHandlers) apiTry(w http.ResponseWriter, r *http.Request) {
	var in TryJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	res, err := h.try(r, in)
	if err != nil {
		h.ruleProblem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, tryResultJSON(res))
}

// try runs a try over the caller's facilities.
func (h *ruleHandlers) try(r *http.Request, in TryJSON) (TryResult, error) {
	if in.Hours == 0 {
		in.Hours = TryDefaultHours
	}
	if (in.Rule == "") == (in.YAML == "") {
		return TryResult{}, &RuleError{Field: "yaml", MsgID: "detect.rules.error.try_what"}
	}
	cat, _, err := h.catalog(r)
	if err != nil {
		return TryResult{}, err
	}
	rules, corrs, shown, err := TrySet(cat, in.Rule, in.YAML)
	if err != nil {
		return TryResult{}, err
	}
	all, ids := web.PrincipalOf(r).Facilities(PermRulesRead)
	now := h.en.clock.Now()
	res, err := TryRules(r.Context(), h.search, rules, corrs, shown, TryScope{Hours: in.Hours, AllFacilities: all, Facilities: ids, Tables: h.en.tables.Snapshot()}, now)
	if err != nil {
		return res, err
	}
	// A try reads the access log as a search does: it is recorded.
	by, target := reviewer(r), "rules:pasted"
	if in.Rule != "" {
		target = "rule:" + in.Rule
	}
	return res, h.rec.Record(r.Context(), h.db, selfaudit.Event{Time: now, ActorID: by.UserID, ActorLogin: by.Login,
		Action: ActionRuleTry, Target: target, Outcome: selfaudit.Success, ClientAddr: by.Client,
		Detail: map[string]string{"hours": strconv.Itoa(in.Hours), "hits": strconv.Itoa(res.Count), "scanned": strconv.Itoa(res.Scanned)}})
}

// catalog reads the rule catalog and the stored documents.
func (h *ruleHandlers) catalog(r *http.Request) (*RuleCatalog, []StoredRules, error) {
	cat, err := h.en.Catalog(r.Context(), h.db)
	if err != nil {
		return nil, nil, err
	}
	stored, err := ListStoredRules(r.Context(), h.db)
	return cat, stored, err
}
