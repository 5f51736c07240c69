package detect

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The rules as people manage them: the list with the files that cannot be
// run (/alerts/rules), one rule with its YAML and settings
// (/alerts/rules/{key}), importing a YAML file (/alerts/rules/import) and
// trying a rule over the audit log (/alerts/rules/try). The API is in
// rules_api.go.

type ruleHandlers struct {
	*handlers
	search LogSearch
}

// RegisterRules adds the rule pages and API routes to srv (after
// Register, whose templates they use); changes are recorded through rec
// and tries read the log through search.
func RegisterRules(srv *web.Server, d *db.DB, en *Engine, rec selfaudit.Recorder, search LogSearch) {
	h := &ruleHandlers{handlers: &handlers{srv: srv, db: d, en: en, rec: rec}, search: search}
	read, manage := web.Perm(PermRulesRead), web.Perm(PermRulesManage)
	srv.Handle(http.MethodGet, "/alerts/rules", read, h.listPage)
	srv.Handle(http.MethodGet, "/alerts/rules/try", read, h.tryPage)
	srv.Handle(http.MethodPost, "/alerts/rules/try", read, h.tryPost)
	srv.Handle(http.MethodGet, "/alerts/rules/import", manage, h.importPage)
	srv.Handle(http.MethodPost, "/alerts/rules/import", manage, h.importPost)
	srv.Handle(http.MethodGet, "/alerts/rules/{key}", read, h.rulePage)
	srv.Handle(http.MethodPost, "/alerts/rules/{key}", manage, h.settingsPost)
	srv.Handle(http.MethodPost, "/alerts/rules/{key}/delete", manage, h.deletePost)
	srv.Handle(http.MethodGet, "/api/v1/detect/rules", read, h.apiRules)
	srv.Handle(http.MethodPost, "/api/v1/detect/rules", manage, h.apiImport)
	srv.Handle(http.MethodGet, "/api/v1/detect/rules.yaml", read, h.apiExportAll)
	srv.Handle(http.MethodPost, "/api/v1/detect/rules/try", read, h.apiTry)
	srv.Handle(http.MethodGet, "/api/v1/detect/rules/{key}", read, h.apiRule)
	srv.Handle(http.MethodPatch, "/api/v1/detect/rules/{key}", manage, h.apiPatchRule)
	srv.Handle(http.MethodDelete, "/api/v1/detect/rules/{key}", manage, h.apiDeleteRule)
	srv.Handle(http.MethodGet, "/api/v1/detect/rules/{key}/yaml", read, h.apiExportRule)
	srv.AddNav(web.NavItem{Path: "/alerts/rules", LabelID: "detect.rules.nav", Access: read, Order: 16})
}

// ruleView is a rule as the pages show it.
type ruleView struct {
	RuleEntry
	Path, ExportPath         string // the page's path and the YAML's, escaped
	LevelLabel, OwnLevelText string
	AddedBy                  string
	AddedAt                  string
}

func (h *ruleHandlers) ruleView(r *http.Request, e *RuleEntry, stored []StoredRules) ruleView {
	v := ruleView{RuleEntry: *e, Path: "/alerts/rules/" + url.PathEscape(e.Key),
		ExportPath: "/api/v1/detect/rules/" + url.PathEscape(e.Key) + "/yaml",
		LevelLabel: h.srv.T(r, "detect.level."+e.Level.String(), nil), OwnLevelText: h.srv.T(r, "detect.level."+e.OwnLevel.String(), nil)}
	if s := storedOf(stored, e.StoredID); s != nil {
		v.AddedBy, v.AddedAt = s.AddedBy, s.AddedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	return v
}

// rulesListView is what templates/rules.html sees as .Data.
type rulesListView struct {
	Rows      []ruleView
	Rejected  []RejectedJSON
	CanManage bool
}

func (h *ruleHandlers) listPage(w http.ResponseWriter, r *http.Request) {
	cat, stored, err := h.catalog(r)
	if err != nil {
		h.srv.Log().Error("read the rules", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	v := &rulesListView{CanManage: manager(r)}
	for i := range cat.Entries {
		v.Rows = append(v.Rows, h.ruleView(r, &cat.Entries[i], stored))
	}
	for _, f := range cat.Rejected {
		v.Rejected = append(v.Rejected, RejectedJSON{Path: f.Path, Reason: f.Err.Error()})
	}
	h.srv.Render(w, r, http.StatusOK, "detect/rules", v)
}

// ruleDetailView is what templates/rule.html sees as .Data.
type ruleDetailView struct {
	ruleView
	YAML      string
	TagsText  string
	Levels    []stateOption
	CanManage bool
	Error     string
}

func (h *ruleHandlers) rulePage(w http.ResponseWriter, r *http.Request) {
	h.renderRule(w, r, http.StatusOK, "")
}

func (h *ruleHandlers) renderRule(w http.ResponseWriter, r *http.Request, status int, msg string) {
	cat, stored, err := h.catalog(r)
	if err != nil {
		h.srv.Log().Error("read the rules", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	e := cat.Entry(r.PathValue("key"))
	if e == nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	v := &ruleDetailView{ruleView: h.ruleView(r, e, stored), YAML: string(e.Doc), TagsText: strings.Join(e.Tags, " "),
		CanManage: manager(r), Error: msg}
	v.Levels = append(v.Levels, stateOption{Value: "", Label: h.srv.T(r, "detect.rules.level_own", map[string]any{"Level": v.OwnLevelText})})
	for l := sigma.LevelInformational; l <= sigma.LevelCritical; l++ {
		v.Levels = append(v.Levels, stateOption{Value: l.String(), Label: h.srv.T(r, "detect.level."+l.String(), nil)})
	}
	h.srv.Render(w, r, status, "detect/rule", v)
}

// settingsPost serves the settings form of a rule's page.
func (h *ruleHandlers) settingsPost(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.ErrorPage(w, r, http.StatusForbidden, "detect.rules.error.every_facility")
		return
	}
	key := r.PathValue("key")
	enabled := r.PostFormValue("enabled") == "1"
	level := r.PostFormValue("level")
	p := RulePatch{Enabled: &enabled, Level: &level}
	tags := strings.Fields(r.PostFormValue("tags"))
	cat, _, err := h.catalog(r)
	if err != nil {
		h.srv.Log().Error("read the rules", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if e := cat.Entry(key); e != nil && slices.Equal(tags, e.OwnTags) {
		p.OwnTags = true
	} else {
		p.Tags = &tags
	}
	_, err = SetRule(r.Context(), h.db, h.rec, h.en.BaseRules(), key, p, reviewer(r), h.en.clock.Now())
	h.afterChange(w, r, err, "/alerts/rules/"+url.PathEscape(key), "detect.rules.saved")
}

// afterChange answers a page's change: the next page, or the rule's page
// again with the message.
func (h *ruleHandlers) afterChange(w http.ResponseWriter, r *http.Request, err error, next, flash string) {
	var re *RuleError
	switch {
	case errors.As(err, &re):
		status := re.Status
		if status == 0 {
			status = http.StatusUnprocessableEntity
		}
		h.renderRule(w, r, status, h.ruleMessage(r, re))
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case err != nil:
		h.srv.Log().Error("change a rule", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	default:
		h.srv.Flash(w, flash)
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

func (h *ruleHandlers) deletePost(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.ErrorPage(w, r, http.StatusForbidden, "detect.rules.error.every_facility")
		return
	}
	_, err := DeleteStoredRules(r.Context(), h.db, h.rec, h.en.BaseRules(), r.PathValue("key"), reviewer(r), h.en.clock.Now())
	h.afterChange(w, r, err, "/alerts/rules", "detect.rules.deleted")
}

// importView is what templates/rules_import.html sees as .Data.
type importView struct {
	YAML  string
	Error string
}

func (h *ruleHandlers) importPage(w http.ResponseWriter, r *http.Request) {
	h.srv.Render(w, r, http.StatusOK, "detect/rules_import", &importView{})
}

// readYAMLForm reads the YAML of a form: the uploaded file (field file),
// else the pasted text (field yaml). tooLarge reports a file past the
// largest rule file.
func readYAMLForm(w http.ResponseWriter, r *http.Request) (text string, tooLarge bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRuleFile+64<<10)
	err := r.ParseMultipartForm(maxRuleFile + 64<<10)
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "", true
	}
	if file, _, err := r.FormFile("file"); err == nil {
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, maxRuleFile+1))
		if err == nil && len(b) > 0 {
			return string(b), len(b) > maxRuleFile
		}
	}
	return r.PostFormValue("yaml"), false
}

func (h *ruleHandlers) importPost(w http.ResponseWriter, r *http.Request) {
	if !manager(r) {
		h.srv.ErrorPage(w, r, http.StatusForbidden, "detect.rules.error.every_facility")
		return
	}
	text, tooLarge := readYAMLForm(w, r)
	if tooLarge {
		h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
		return
	}
	s, err := ImportRules(r.Context(), h.db, h.rec, h.en.BaseRules(), text, reviewer(r), h.en.clock.Now())
	var re *RuleError
	switch {
	case errors.As(err, &re):
		status := re.Status
		if status == 0 {
			status = http.StatusUnprocessableEntity
		}
		h.srv.Render(w, r, status, "detect/rules_import", &importView{YAML: text, Error: h.ruleMessage(r, re)})
	case err != nil:
		h.srv.Log().Error("import rules", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	default:
		h.srv.Flash(w, "detect.rules.imported")
		http.Redirect(w, r, "/alerts/rules/"+url.PathEscape(s.Keys[0]), http.StatusSeeOther)
	}
}

// tryView is what templates/rules_try.html sees as .Data.
type tryView struct {
	Rule, YAML string
	Hours      int
	MaxHours   int
	MaxEvents  int
	Ran        bool
	Result     TryResult
	Hits       []tryHitView
	TookMilli  int64
	Error      string
}

type tryHitView struct {
	TryHit
	LevelName, LevelLabel string
}

func (h *ruleHandlers) tryPage(w http.ResponseWriter, r *http.Request) {
	v := &tryView{Rule: r.URL.Query().Get("rule"), Hours: TryDefaultHours, MaxHours: TryMaxHours, MaxEvents: TryMaxEvents}
	h.srv.Render(w, r, http.StatusOK, "detect/rules_try", v)
}

func (h *ruleHandlers) tryPost(w http.ResponseWriter, r *http.Request) {
	text, tooLarge := readYAMLForm(w, r)
	if tooLarge {
		h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
		return
	}
	v := &tryView{Rule: r.PostFormValue("rule"), YAML: text, MaxHours: TryMaxHours, MaxEvents: TryMaxEvents}
	hours, err := strconv.Atoi(r.PostFormValue("hours"))
	if err != nil {
		hours = -1
	}
	v.Hours = hours
	res, err := h.try(r, TryJSON{Rule: v.Rule, YAML: text, Hours: hours})
	var re *RuleError
	switch {
	case errors.As(err, &re):
		v.Error = h.ruleMessage(r, re)
		h.srv.Render(w, r, http.StatusUnprocessableEntity, "detect/rules_try", v)
		return
	case err != nil:
		h.srv.Log().Error("try rules", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	v.Ran, v.Result, v.TookMilli = true, res, res.Took.Milliseconds()
	for _, hit := range res.Hits {
		v.Hits = append(v.Hits, tryHitView{TryHit: hit, LevelName: hit.Level.String(),
			LevelLabel: h.srv.T(r, "detect.level."+hit.Level.String(), nil)})
	}
	h.srv.Render(w, r, http.StatusOK, "detect/rules_try", v)
}
