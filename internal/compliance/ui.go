package compliance

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The pages every person of the CISO's office opens: the guideline as a
// tree with a readiness chip on each item (filtered to the revised items
// or to what is not ready), and the controls. A control's own page is in
// ui_controls.go.

func (h *handlers) registerPages() {
	read, attest, approve := web.Perm(PermRead), web.Perm(PermAttest), web.Perm(PermApprove)
	h.srv.Handle(http.MethodGet, "/compliance/catalog", read, h.catalogPage)
	h.srv.Handle(http.MethodGet, "/compliance/controls", read, h.controlsPage)
	h.srv.Handle(http.MethodGet, "/compliance/controls/{id}", read, h.controlPage)
	h.srv.Handle(http.MethodPost, "/compliance/controls/{id}", attest, h.controlPost)
	h.srv.Handle(http.MethodPost, "/compliance/controls/{id}/attestations", attest, h.attestPost)
	h.srv.Handle(http.MethodPost, "/compliance/attestations/{id}/approve", approve, h.approvePost)
	h.srv.Handle(http.MethodPost, "/compliance/attestations/{id}/reject", approve, h.rejectPost)
	h.srv.Handle(http.MethodGet, "/compliance/attestations/{id}/download", read, h.attestationDownload)
	h.srv.Handle(http.MethodPost, "/compliance/checks/run", attest, h.runChecksPost)
}

// translate is a message in lang: the configured translator (every
// part's catalog), else the server's.
func (h *handlers) translate(lang, id string, data any) string {
	if h.s.cfg.Translator != nil {
		return h.s.cfg.Translator.T(lang, id, data)
	}
	return h.srv.Catalog().T(lang, id, data)
}

// withFacility adds the facility to a path the page sends the browser to.
func withFacility(path string, f int64) string {
	return path + "?facility=" + strconv.FormatInt(f, 10)
}

// pageError shows err as an error page; false when there is none.
func (h *handlers) pageError(w http.ResponseWriter, r *http.Request, err error) bool {
	var ce *Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &ce) && ce.Conflict:
		h.srv.ErrorPage(w, r, http.StatusConflict, ce.MsgID)
	case errors.As(err, &ce):
		h.srv.ErrorPage(w, r, http.StatusUnprocessableEntity, ce.MsgID)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	default:
		h.srv.Log().Error("compliance page", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	}
	return true
}

// catalogRow is one line of the guideline's tree.
type catalogRow struct {
	Item      *Item
	Depth     int
	Readiness string // for an assessable item
	Controls  []*Control
}

type catalogView struct {
	Facility  int64
	Framework *Framework
	Filter    string
	Chapter   *Item // the chapter shown alone (?chapter=), or nil for all
	Rows      []catalogRow
	Overall   Coverage
	Chapters  []Coverage
}

func (h *handlers) catalogPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	filter := r.URL.Query().Get("filter")
	if filter != "" && filter != "revised" && filter != "not_ready" {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "compliance.error.filter")
		return
	}
	st, err := h.s.State(r.Context(), f)
	if h.pageError(w, r, err) {
		return
	}
	reqs := map[*Item]*RequirementState{}
	for _, rq := range st.Requirements {
		reqs[rq.Item] = rq
	}
	gl := h.s.lib.Guideline()
	v := catalogView{Facility: f, Framework: gl, Filter: filter, Overall: st.Overall, Chapters: st.Chapters}
	if ch := r.URL.Query().Get("chapter"); ch != "" {
		if v.Chapter = gl.Item(ch); v.Chapter == nil || v.Chapter.Parent() != nil {
			h.srv.ErrorPage(w, r, http.StatusBadRequest, "compliance.error.chapter")
			return
		}
	}
	gl.Walk(func(it *Item, depth int) bool {
		if depth == 0 && v.Chapter != nil && it != v.Chapter {
			return false
		}
		row := catalogRow{Item: it, Depth: depth}
		if rq := reqs[it]; rq != nil {
			row.Readiness = rq.Readiness
			for _, id := range rq.Controls {
				row.Controls = append(row.Controls, h.s.lib.Control(id))
			}
			switch {
			case filter == "revised" && !it.Revised,
				filter == "not_ready" && (rq.Readiness == Ready || rq.Readiness == Excluded):
				return true
			}
		} else if filter != "" && depth > 0 {
			return true // headings below the chapters only in the whole tree
		}
		v.Rows = append(v.Rows, row)
		return true
	})
	h.srv.Render(w, r, http.StatusOK, "compliance/catalog", v)
}

type controlsView struct {
	Facility int64
	Controls []*ControlState
}

func (h *handlers) controlsPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	st, err := h.s.State(r.Context(), f)
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/controls", controlsView{Facility: f, Controls: st.Controls})
}

func (h *handlers) runChecksPost(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	if _, err := h.s.RunChecks(r.Context(), actorOf(r), f); h.pageError(w, r, err) {
		return
	}
	next := "/compliance/controls"
	if id := r.PostFormValue("control"); id != "" && h.s.lib.Control(id) != nil {
		next += "/" + id
	}
	h.srv.Flash(w, "compliance.checks.ran")
	http.Redirect(w, r, withFacility(next, f), http.StatusSeeOther)
}
