package compliance

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The JSON API, /api/v1/compliance (openapi.json): the facility's state
// and trend, the catalogs, the controls with their settings, and running
// the checks now. Evidence is in api_evidence.go, the checklist's answers
// and the snapshots in api_checklist.go. Every route works on one
// facility: the "facility" parameter, else the caller's own.

const apiBase = "/api/v1/compliance"

// FrameworkJSON is a catalog in the list of catalogs, without its items.
type FrameworkJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Edition   string `json:"edition"`
	Version   int    `json:"version"`
	Name      Text   `json:"name"`
	Publisher Text   `json:"publisher"`
	Published string `json:"published"`
	Source    string `json:"source"`
}

// FrameworksJSON is the answer of GET /api/v1/compliance/catalogs.
type FrameworksJSON struct {
	Catalogs []FrameworkJSON `json:"catalogs"`
}

// ControlsJSON is the answer of GET /api/v1/compliance/controls.
type ControlsJSON struct {
	Controls []*ControlState `json:"controls"`
}

// TrendJSON is the answer of GET /api/v1/compliance/trend.
type TrendJSON struct {
	Days []DayScore `json:"days"`
}

// RunsJSON is the answer of POST /api/v1/compliance/checks/run.
type RunsJSON struct {
	Runs []CheckRun `json:"runs"`
}

// ControlSettingJSON is the body of PUT /api/v1/compliance/controls/{id}.
type ControlSettingJSON struct {
	Owner string `json:"owner"`
	Impl  string `json:"implementation"`
	Note  string `json:"note"`
}

func (h *handlers) registerAPI() {
	read, attest := web.Perm(PermRead), web.Perm(PermAttest)
	h.srv.Handle(http.MethodGet, apiBase+"/state", read, h.apiState)
	h.srv.Handle(http.MethodGet, apiBase+"/trend", read, h.apiTrend)
	h.srv.Handle(http.MethodGet, apiBase+"/catalogs", read, h.apiCatalogs)
	h.srv.Handle(http.MethodGet, apiBase+"/catalogs/{id}", read, h.apiCatalog)
	h.srv.Handle(http.MethodGet, apiBase+"/controls", read, h.apiControls)
	h.srv.Handle(http.MethodGet, apiBase+"/controls/{id}", read, h.apiControl)
	h.srv.Handle(http.MethodPut, apiBase+"/controls/{id}", attest, h.apiSetControl)
	h.srv.Handle(http.MethodPost, apiBase+"/checks/run", attest, h.apiRunChecks)
	h.registerEvidenceAPI()  // api_evidence.go
	h.registerChecklistAPI() // api_checklist.go
}

// apiProblem answers err, if any, as a problem and reports whether it did.
func (h *handlers) apiProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	var ce *Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &ce) && ce.Conflict:
		h.srv.Problem(w, r, http.StatusConflict, "compliance-conflict", ce.MsgID, nil)
	case errors.As(err, &ce):
		field := ce.Field
		var ae *AnswerError
		if errors.As(err, &ae) {
			field = "answers[" + strconv.Itoa(ae.Index) + "]." + ce.Field
		}
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, ce.MsgID, nil)}
		p.Errors = []web.FieldError{{Field: field, Message: p.Detail}}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("compliance API", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
	return true
}

func (h *handlers) notFound(w http.ResponseWriter, r *http.Request) {
	h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
}

func (h *handlers) badParameter(w http.ResponseWriter, r *http.Request, msgID string) {
	h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", msgID, nil)
}

// pathID reads the path value name as a positive id.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

func (h *handlers) apiState(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	st, err := h.s.State(r.Context(), f)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, st)
}

func (h *handlers) apiTrend(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	days := 90
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 730 {
			h.badParameter(w, r, "compliance.error.days")
			return
		}
		days = n
	}
	out, err := h.s.Trend(r.Context(), f, days)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, TrendJSON{Days: out})
}

func frameworkJSON(fw *Framework) FrameworkJSON {
	return FrameworkJSON{ID: fw.ID, Kind: fw.Kind, Edition: fw.Edition, Version: fw.Version, Name: fw.Name,
		Publisher: fw.Publisher, Published: fw.Published, Source: fw.Source}
}

func (h *handlers) apiCatalogs(w http.ResponseWriter, r *http.Request) {
	out := FrameworksJSON{Catalogs: []FrameworkJSON{}}
	for _, fw := range h.s.lib.Frameworks {
		out.Catalogs = append(out.Catalogs, frameworkJSON(fw))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiCatalog(w http.ResponseWriter, r *http.Request) {
	fw := h.s.lib.Framework(r.PathValue("id"))
	if fw == nil {
		h.notFound(w, r)
		return
	}
	web.JSON(w, http.StatusOK, fw)
}

func (h *handlers) apiControls(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	st, err := h.s.State(r.Context(), f)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, ControlsJSON{Controls: st.Controls})
}

func (h *handlers) apiControl(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	cs, err := h.controlState(r, f, r.PathValue("id"))
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, cs)
}

// controlState is one control of the facility's state.
func (h *handlers) controlState(r *http.Request, f int64, id string) (*ControlState, error) {
	if h.s.lib.Control(id) == nil {
		return nil, db.ErrNotFound
	}
	st, err := h.s.State(r.Context(), f)
	if err != nil {
		return nil, err
	}
	for _, c := range st.Controls {
		if c.Control.ID == id {
			return c, nil
		}
	}
	return nil, db.ErrNotFound
}

func (h *handlers) apiSetControl(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	var in ControlSettingJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id := r.PathValue("id")
	if h.s.lib.Control(id) == nil {
		h.notFound(w, r)
		return
	}
	if _, err := h.s.SetControl(r.Context(), actorOf(r), f, id, ControlSetting{Owner: in.Owner, Impl: in.Impl,
		Note: in.Note}); h.apiProblem(w, r, err) {
		return
	}
	cs, err := h.controlState(r, f, id)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, cs)
}

func (h *handlers) apiRunChecks(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	runs, err := h.s.RunChecks(r.Context(), actorOf(r), f)
	if h.apiProblem(w, r, err) {
		return
	}
	if runs == nil {
		runs = []CheckRun{}
	}
	web.JSON(w, http.StatusOK, RunsJSON{Runs: runs})
}
