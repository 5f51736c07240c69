package compliance

import (
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The snapshots' pages: the list with the form to take the fiscal year's
// snapshot and the form to compare two, a snapshot's summary, and a
// comparison.

type snapshotsView struct {
	Facility   int64
	Snapshots  []Snapshot
	FiscalYear int
}

type snapshotView struct {
	Facility int64
	Snapshot Snapshot
}

type compareView struct {
	Facility int64
	Cmp      Comparison
}

func (h *handlers) registerSnapshotPages() {
	read := web.Perm(PermRead)
	h.srv.Handle(http.MethodGet, "/compliance/snapshots", read, h.snapshotsPage)
	h.srv.Handle(http.MethodPost, "/compliance/snapshots", web.Perm(PermApprove), h.snapshotPost)
	h.srv.Handle(http.MethodGet, "/compliance/snapshots/{id}", read, h.snapshotPage)
	h.srv.Handle(http.MethodGet, "/compliance/snapshots/compare", read, h.comparePage)
}

func (h *handlers) snapshotsPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	list, err := h.s.Snapshots(r.Context(), f)
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/snapshots", snapshotsView{Facility: f, Snapshots: list,
		FiscalYear: FiscalYear(h.s.Today(h.s.cfg.Clock.Now()))})
}

func (h *handlers) snapshotPost(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermApprove)
	if !ok {
		return
	}
	fy, err := strconv.Atoi(r.PostFormValue("fiscal_year"))
	if err != nil {
		fy = 0 // refused as not a fiscal year
	}
	sn, err := h.s.TakeSnapshot(r.Context(), actorOf(r), f, fy, r.PostFormValue("note"))
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "compliance.snapshot.taken")
	http.Redirect(w, r, withFacility("/compliance/snapshots/"+strconv.FormatInt(sn.ID, 10), f), http.StatusSeeOther)
}

func (h *handlers) snapshotPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	sn, err := h.s.Snapshot(r.Context(), f, id)
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/snapshot", snapshotView{Facility: f, Snapshot: sn})
}

func (h *handlers) comparePage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("from") == "" && q.Get("to") == "" {
		// Nothing chosen yet: the two are chosen on the list.
		http.Redirect(w, r, withFacility("/compliance/snapshots", f)+"#snapshot-compare", http.StatusSeeOther)
		return
	}
	from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
	if err1 != nil || err2 != nil || from <= 0 || to <= 0 {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "compliance.error.snapshot_param")
		return
	}
	cmp, err := h.s.CompareSnapshots(r.Context(), f, from, to)
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/compare", compareView{Facility: f, Cmp: cmp})
}
