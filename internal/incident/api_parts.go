package incident

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The API of an incident's tasks, observables, evidence and links, under
// /api/v1/incident/incidents/{id}/ (openapi.json).

// TaskJSON is a task in the JSON API.
type TaskJSON struct {
	ID          int64      `json:"id"`
	Incident    int64      `json:"incident"`
	Phase       State      `json:"phase"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Owner       string     `json:"owner"`
	Due         *time.Time `json:"due,omitempty"`
	State       string     `json:"state"`
	Overdue     bool       `json:"overdue"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
	DoneBy      string     `json:"done_by,omitempty"`
	Source      string     `json:"source"`
	Created     time.Time  `json:"created"`
}

func taskJSON(t Task, now time.Time) TaskJSON {
	return TaskJSON{ID: t.ID, Incident: t.Incident, Phase: t.Phase, Title: t.Title, Description: t.Description,
		Owner: t.Owner, Due: timePtr(t.Due), State: t.State, Overdue: t.Overdue(now), DoneAt: timePtr(t.DoneAt),
		DoneBy: t.DoneBy, Source: t.Source, Created: t.Created}
}

// TasksJSON is the answer of GET .../{id}/tasks.
type TasksJSON struct {
	Tasks []TaskJSON `json:"tasks"`
}

// ObservableJSON is an observable in the JSON API.
type ObservableJSON struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	Note      string    `json:"note"`
	IOC       bool      `json:"ioc"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

func observableJSON(o Observable) ObservableJSON {
	return ObservableJSON{ID: o.ID, Kind: o.Kind, Value: o.Value, Note: o.Note, IOC: o.IOC, Created: o.Created, CreatedBy: o.CreatedBy}
}

// ObservablesJSON is the answer of GET .../{id}/observables, and what
// POST adds.
type ObservablesJSON struct {
	Observables []ObservableJSON `json:"observables"`
}

// NewObservablesJSON is the body of POST .../{id}/observables.
type NewObservablesJSON struct {
	Observables []NewObservable `json:"observables"`
}

// CustodyJSON is an entry of a chain of custody.
type CustodyJSON struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Note   string    `json:"note,omitempty"`
}

// EvidenceJSON is an evidence file in the JSON API.
type EvidenceJSON struct {
	ID          int64         `json:"id"`
	Name        string        `json:"name"`
	MediaType   string        `json:"media_type"`
	Size        int64         `json:"size"`
	SHA256      string        `json:"sha256"`
	Description string        `json:"description"`
	CollectedAt time.Time     `json:"collected_at"`
	CollectedBy string        `json:"collected_by"`
	Holder      string        `json:"holder"`
	Created     time.Time     `json:"created"`
	Custody     []CustodyJSON `json:"custody"`
}

func evidenceJSON(e Evidence, chain []Custody) EvidenceJSON {
	j := EvidenceJSON{ID: e.ID, Name: e.Name, MediaType: e.MediaType, Size: e.Size, SHA256: e.SHA256,
		Description: e.Description, CollectedAt: e.CollectedAt, CollectedBy: e.CollectedBy, Holder: e.Holder,
		Created: e.Created, Custody: []CustodyJSON{}}
	for _, c := range chain {
		j.Custody = append(j.Custody, CustodyJSON{At: c.At, Actor: c.Actor, Action: c.Action, From: c.From, To: c.To, Note: c.Note})
	}
	return j
}

// EvidenceListJSON is the answer of GET .../{id}/evidence.
type EvidenceListJSON struct {
	Evidence []EvidenceJSON `json:"evidence"`
}

// VerifyJSON is the answer of POST .../evidence/{ev}/verify.
type VerifyJSON struct {
	Evidence int64 `json:"evidence"`
	OK       bool  `json:"ok"`
}

// LinkJSON is a link in the JSON API.
type LinkJSON struct {
	ID     int64     `json:"id"`
	Kind   string    `json:"kind"`
	Target int64     `json:"target"`
	Note   string    `json:"note"`
	URL    string    `json:"url"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

func linkJSON(l Link) LinkJSON {
	return LinkJSON{ID: l.ID, Kind: l.Kind, Target: l.Target, Note: l.Note, URL: l.URL(), At: l.At, By: l.By}
}

// LinksJSON is the answer of GET .../{id}/links.
type LinksJSON struct {
	Links []LinkJSON `json:"links"`
}

func (h *handlers) registerPartsAPI(base string) {
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	h.srv.Handle(http.MethodGet, base+"/{id}/tasks", read, h.apiTasks)
	h.srv.Handle(http.MethodPost, base+"/{id}/tasks", manage, h.apiAddTask)
	h.srv.Handle(http.MethodPatch, base+"/{id}/tasks/{task}", manage, h.apiUpdateTask)
	h.srv.Handle(http.MethodGet, base+"/{id}/observables", read, h.apiObservables)
	h.srv.Handle(http.MethodPost, base+"/{id}/observables", manage, h.apiAddObservables)
	h.srv.Handle(http.MethodDelete, base+"/{id}/observables/{obs}", manage, h.apiDeleteObservable)
	h.srv.Handle(http.MethodGet, base+"/{id}/evidence", read, h.apiEvidence)
	h.srv.Handle(http.MethodPost, base+"/{id}/evidence", manage, h.apiAddEvidence)
	h.srv.Handle(http.MethodGet, base+"/{id}/evidence/{ev}/content", read, h.apiEvidenceContent)
	h.srv.Handle(http.MethodPost, base+"/{id}/evidence/{ev}/custody", manage, h.apiTransfer)
	h.srv.Handle(http.MethodPost, base+"/{id}/evidence/{ev}/verify", manage, h.apiVerify)
	h.srv.Handle(http.MethodGet, base+"/{id}/links", read, h.apiLinks)
	h.srv.Handle(http.MethodPost, base+"/{id}/links", manage, h.apiAddLink)
}

// readable checks that the incident of the path is in the caller's
// reading scope, answering 404 when not.
func (h *handlers) readable(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return 0, false
	}
	if _, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermRead), id); h.apiProblem(w, r, err) {
		return 0, false
	}
	return id, true
}

func (h *handlers) apiTasks(w http.ResponseWriter, r *http.Request) {
	id, ok := h.readable(w, r)
	if !ok {
		return
	}
	list, err := Tasks(r.Context(), h.cfg.DB, id)
	if h.apiProblem(w, r, err) {
		return
	}
	now := h.cfg.Clock.Now()
	out := TasksJSON{Tasks: []TaskJSON{}}
	for _, t := range list {
		out.Tasks = append(out.Tasks, taskJSON(t, now))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiAddTask(w http.ResponseWriter, r *http.Request) {
	var n NewTask
	if err := web.DecodeJSON(r, &n); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	now := h.cfg.Clock.Now()
	t, err := AddTask(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), n, now)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, taskJSON(t, now))
}

func (h *handlers) apiUpdateTask(w http.ResponseWriter, r *http.Request) {
	var p TaskPatch
	if err := web.DecodeJSON(r, &p); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok1 := pathID(r, "id")
	task, ok2 := pathID(r, "task")
	if !ok1 || !ok2 {
		h.notFound(w, r)
		return
	}
	now := h.cfg.Clock.Now()
	t, err := UpdateTask(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, task, actorOf(h.srv, r), p, now)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, taskJSON(t, now))
}

func (h *handlers) apiObservables(w http.ResponseWriter, r *http.Request) {
	id, ok := h.readable(w, r)
	if !ok {
		return
	}
	list, err := Observables(r.Context(), h.cfg.DB, id)
	if h.apiProblem(w, r, err) {
		return
	}
	out := ObservablesJSON{Observables: []ObservableJSON{}}
	for _, o := range list {
		out.Observables = append(out.Observables, observableJSON(o))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiAddObservables(w http.ResponseWriter, r *http.Request) {
	var body NewObservablesJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	added, err := AddObservables(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r),
		body.Observables, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	out := ObservablesJSON{Observables: []ObservableJSON{}}
	for _, o := range added {
		out.Observables = append(out.Observables, observableJSON(o))
	}
	web.JSON(w, http.StatusCreated, out)
}

func (h *handlers) apiEvidence(w http.ResponseWriter, r *http.Request) {
	id, ok := h.readable(w, r)
	if !ok {
		return
	}
	list, err := EvidenceList(r.Context(), h.cfg.DB, id)
	if h.apiProblem(w, r, err) {
		return
	}
	out := EvidenceListJSON{Evidence: []EvidenceJSON{}}
	for _, e := range list {
		chain, err := CustodyLog(r.Context(), h.cfg.DB, e.ID)
		if h.apiProblem(w, r, err) {
			return
		}
		out.Evidence = append(out.Evidence, evidenceJSON(e, chain))
	}
	web.JSON(w, http.StatusOK, out)
}

// apiAddEvidence stores the raw body as evidence named by ?name=.
func (h *handlers) apiAddEvidence(w http.ResponseWriter, r *http.Request) {
	content, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.srv.Problem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "error.body_too_large", nil)
			return
		}
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-body", "error.invalid_json", nil)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	q := r.URL.Query()
	n := NewEvidence{Name: q.Get("name"), Description: q.Get("description"), Holder: q.Get("holder")}
	if s := q.Get("collected_at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			h.apiProblem(w, r, invalid("collected_at", "incident.error.collected_at"))
			return
		}
		n.CollectedAt = t
	}
	e, err := AddEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), n, content, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	chain, _ := CustodyLog(r.Context(), h.cfg.DB, e.ID)
	web.JSON(w, http.StatusCreated, evidenceJSON(e, chain))
}

func (h *handlers) apiEvidenceContent(w http.ResponseWriter, r *http.Request) {
	id, ok1 := pathID(r, "id")
	ev, ok2 := pathID(r, "ev")
	if !ok1 || !ok2 {
		h.notFound(w, r)
		return
	}
	e, content, err := DownloadEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermRead), id, ev, actorOf(h.srv, r), h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	writeEvidence(w, e, content)
}

// writeEvidence sends an evidence file as a download, never to be shown
// inline (it may be a malicious file).
func writeEvidence(w http.ResponseWriter, e Evidence, content []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-`+strconv.FormatInt(e.ID, 10)+`"; filename*=UTF-8''`+
		urlPathEscape(e.Name))
	w.Header().Set("X-Content-SHA256", e.SHA256)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	_, _ = w.Write(content)
}

func (h *handlers) apiTransfer(w http.ResponseWriter, r *http.Request) {
	var t Transfer
	if err := web.DecodeJSON(r, &t); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok1 := pathID(r, "id")
	ev, ok2 := pathID(r, "ev")
	if !ok1 || !ok2 {
		h.notFound(w, r)
		return
	}
	e, err := TransferEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, ev, actorOf(h.srv, r), t, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	chain, _ := CustodyLog(r.Context(), h.cfg.DB, e.ID)
	web.JSON(w, http.StatusOK, evidenceJSON(e, chain))
}

func (h *handlers) apiVerify(w http.ResponseWriter, r *http.Request) {
	id, ok1 := pathID(r, "id")
	ev, ok2 := pathID(r, "ev")
	if !ok1 || !ok2 {
		h.notFound(w, r)
		return
	}
	ok, err := VerifyEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, ev, actorOf(h.srv, r), h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, VerifyJSON{Evidence: ev, OK: ok})
}

func (h *handlers) apiLinks(w http.ResponseWriter, r *http.Request) {
	id, ok := h.readable(w, r)
	if !ok {
		return
	}
	list, err := Links(r.Context(), h.cfg.DB, id)
	if h.apiProblem(w, r, err) {
		return
	}
	out := LinksJSON{Links: []LinkJSON{}}
	for _, l := range list {
		out.Links = append(out.Links, linkJSON(l))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiAddLink(w http.ResponseWriter, r *http.Request) {
	var n NewLink
	if err := web.DecodeJSON(r, &n); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	l, err := AddLink(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), n, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, linkJSON(l))
}

// apiDeleteObservable serves DELETE .../{id}/observables/{obs}.
func (h *handlers) apiDeleteObservable(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	obs, ok2 := pathID(r, "obs")
	if !ok || !ok2 {
		h.notFound(w, r)
		return
	}
	err := DeleteObservable(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, obs, actorOf(h.srv, r), h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
