package incident

import (
	"io"
	"net/http"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The playbooks' pages (/incident/playbooks: the list per kind, one
// playbook's form, reset, import and export as YAML) and API
// (/api/v1/incident/playbooks, openapi_prepare.json).

func (h *handlers) registerPlaybooks() {
	read, prep := web.Perm(PermRead), web.Perm(PermPrepare)
	h.srv.Handle(http.MethodGet, "/incident/playbooks", read, h.playbooksPage)
	h.srv.Handle(http.MethodGet, "/incident/playbooks.yaml", read, h.playbooksExport)
	h.srv.Handle(http.MethodPost, "/incident/playbooks/import", prep, h.playbooksImportPost)
	h.srv.Handle(http.MethodGet, "/incident/playbooks/{kind}", read, h.playbookPage)
	h.srv.Handle(http.MethodPost, "/incident/playbooks/{kind}", prep, h.playbookPost)
	h.srv.Handle(http.MethodPost, "/incident/playbooks/{kind}/reset", prep, h.playbookResetPost)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/playbooks", read, h.apiPlaybooks)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/playbooks/export", read, h.playbooksExport)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/playbooks/import", prep, h.apiPlaybooksImport)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/playbooks/{kind}", read, h.apiPlaybook)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/playbooks/{kind}", prep, h.apiPlaybookPut)
	h.srv.Handle(http.MethodDelete, "/api/v1/incident/playbooks/{kind}", prep, h.apiPlaybookReset)
}

// PlaybookJSON is a playbook in the JSON API.
type PlaybookJSON struct {
	Kind      string             `json:"kind"`
	Edited    bool               `json:"edited"`
	Updated   *string            `json:"updated,omitempty"`
	UpdatedBy string             `json:"updated_by,omitempty"`
	Tasks     []PlaybookTaskJSON `json:"tasks"`
}

// PlaybookTaskJSON is a task template in the JSON API and in YAML files.
type PlaybookTaskJSON = taskDoc

// PlaybookPutJSON is the body of PUT /api/v1/incident/playbooks/{kind}.
type PlaybookPutJSON struct {
	Tasks []PlaybookTaskJSON `json:"tasks"`
}

func playbookJSON(p Playbook) PlaybookJSON {
	j := PlaybookJSON{Kind: string(p.Kind), Edited: p.Edited, UpdatedBy: p.UpdatedBy, Tasks: []PlaybookTaskJSON{}}
	if !p.Updated.IsZero() {
		s := prepRFC3339(p.Updated)
		j.Updated = &s
	}
	for _, t := range p.Tasks {
		j.Tasks = append(j.Tasks, t.doc())
	}
	return j
}

func (h *handlers) apiPlaybooks(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	list, err := Playbooks(r.Context(), h.cfg.DB, f)
	if h.prepProblem(w, r, err) {
		return
	}
	out := struct {
		Facility  int64          `json:"facility"`
		Playbooks []PlaybookJSON `json:"playbooks"`
	}{Facility: f, Playbooks: []PlaybookJSON{}}
	for _, p := range list {
		out.Playbooks = append(out.Playbooks, playbookJSON(p))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiPlaybook(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	p, err := PlaybookOf(r.Context(), h.cfg.DB, f, Kind(r.PathValue("kind")))
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, playbookJSON(p))
}

func (h *handlers) apiPlaybookPut(w http.ResponseWriter, r *http.Request) {
	var body PlaybookPutJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	kind := Kind(r.PathValue("kind"))
	if _, err := ParseKind(string(kind)); err != nil {
		h.prepProblem(w, r, db.ErrNotFound)
		return
	}
	tasks, err := parseTasks(body.Tasks)
	if h.prepProblem(w, r, err) {
		return
	}
	now := h.cfg.Clock.Now()
	if h.prepProblem(w, r, SavePlaybook(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, kind, tasks, now)) {
		return
	}
	p, err := PlaybookOf(r.Context(), h.cfg.DB, f, kind)
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, playbookJSON(p))
}

func (h *handlers) apiPlaybookReset(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	kind := Kind(r.PathValue("kind"))
	if _, err := ResetPlaybook(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, kind, h.cfg.Clock.Now()); h.prepProblem(w, r, err) {
		return
	}
	p, err := PlaybookOf(r.Context(), h.cfg.DB, f, kind)
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, playbookJSON(p))
}

// playbooksExport serves every playbook of the facility as one YAML file.
func (h *handlers) playbooksExport(w http.ResponseWriter, r *http.Request) {
	f, err := prepFacility(r, PermRead, false)
	if err != nil {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.apiFacility(w, r, PermRead)
		} else {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		}
		return
	}
	list, err := Playbooks(r.Context(), h.cfg.DB, f)
	var b []byte
	if err == nil {
		b, err = MarshalPlaybooks(list)
	}
	if h.prepProblem(w, r, err) {
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="anzen-playbooks.yaml"`)
	_, _ = w.Write(b)
}

func (h *handlers) apiPlaybooksImport(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxPlaybookFile+1))
	if err != nil {
		h.srv.DecodeProblem(w, r, &web.DecodeError{Kind: "invalid-body", Err: err})
		return
	}
	kinds, err := ImportPlaybooks(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, data, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	out := struct {
		Imported []Kind `json:"imported"`
	}{kinds}
	web.JSON(w, http.StatusOK, out)
}

// playbooksView is what templates/playbooks.html sees.
type playbooksView struct {
	Facility  int64
	Query     string
	Playbooks []Playbook
	CanEdit   bool
	Error     string
}

func (h *handlers) playbooksPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	h.renderPlaybooks(w, r, http.StatusOK, f, "")
}

func (h *handlers) renderPlaybooks(w http.ResponseWriter, r *http.Request, status int, f int64, msg string) {
	list, err := Playbooks(r.Context(), h.cfg.DB, f)
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Render(w, r, status, "incident/playbooks", &playbooksView{Facility: f, Query: prepFacilityQuery(f), Playbooks: list,
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, f), Error: msg})
}

func (h *handlers) playbooksImportPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	data := []byte(r.PostFormValue("yaml"))
	if file, _, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(io.LimitReader(file, MaxPlaybookFile+1))
		file.Close()
		if err != nil {
			h.srv.ErrorPage(w, r, http.StatusBadRequest, "incident.prep.error.yaml")
			return
		}
	}
	_, err := ImportPlaybooks(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, data, h.cfg.Clock.Now())
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderPlaybooks(w, r, http.StatusUnprocessableEntity, f, msg)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.playbook.imported")
	http.Redirect(w, r, "/incident/playbooks"+prepFacilityQuery(f), http.StatusSeeOther)
}

// playbookView is what templates/playbook.html sees.
type playbookView struct {
	Facility int64
	Query    string
	Kind     Kind
	Edited   bool
	Playbook Playbook
	Rows     []PlaybookTaskJSON // the form's rows: the tasks and some empty ones
	Phases   []State
	Roles    []string
	CanEdit  bool
	Error    string
}

// playbookEmptyRows is how many empty rows the form offers for new tasks.
const playbookEmptyRows = 3

func (h *handlers) playbookPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	p, err := PlaybookOf(r.Context(), h.cfg.DB, f, Kind(r.PathValue("kind")))
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	var rows []PlaybookTaskJSON
	for _, t := range p.Tasks {
		rows = append(rows, t.doc())
	}
	h.renderPlaybook(w, r, http.StatusOK, f, p, rows, "")
}

func (h *handlers) renderPlaybook(w http.ResponseWriter, r *http.Request, status int, f int64, p Playbook, rows []PlaybookTaskJSON, msg string) {
	rows = append(rows, make([]PlaybookTaskJSON, playbookEmptyRows)...)
	h.srv.Render(w, r, status, "incident/playbook", &playbookView{Facility: f, Query: prepFacilityQuery(f), Kind: p.Kind,
		Edited: p.Edited, Playbook: p, Rows: rows, Phases: Phases, Roles: PlaybookRoles,
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, f), Error: msg})
}

// playbookPost saves the form: one row per task; a row whose titles are
// both empty is left out.
func (h *handlers) playbookPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	kind := Kind(r.PathValue("kind"))
	p, err := PlaybookOf(r.Context(), h.cfg.DB, f, kind)
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	field := func(name string, i int) string {
		if v := r.PostForm[name]; i < len(v) {
			return v[i]
		}
		return ""
	}
	var rows []PlaybookTaskJSON
	for i := range r.PostForm["title_ja"] {
		row := PlaybookTaskJSON{Phase: field("phase", i), Due: field("due", i), Role: field("role", i), TitleJA: field("title_ja", i),
			TitleEN: field("title_en", i), DescJA: field("desc_ja", i), DescEN: field("desc_en", i)}
		if strings.TrimSpace(row.TitleJA) == "" && strings.TrimSpace(row.TitleEN) == "" {
			continue
		}
		rows = append(rows, row)
	}
	tasks, err := parseTasks(rows)
	if err == nil {
		err = SavePlaybook(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, kind, tasks, h.cfg.Clock.Now())
	}
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderPlaybook(w, r, http.StatusUnprocessableEntity, f, p, rows, msg)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.playbook.saved")
	http.Redirect(w, r, "/incident/playbooks/"+string(kind)+prepFacilityQuery(f), http.StatusSeeOther)
}

func (h *handlers) playbookResetPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	kind := Kind(r.PathValue("kind"))
	if _, err := ResetPlaybook(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, kind, h.cfg.Clock.Now()); err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.playbook.reset_done")
	http.Redirect(w, r, "/incident/playbooks/"+string(kind)+prepFacilityQuery(f), http.StatusSeeOther)
}
