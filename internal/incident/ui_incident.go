package incident

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// One incident's page (/incidents/{id}): its state as a stepper with the
// moves it may take, its facts, its tasks by phase, its timeline, its
// observables with the other incidents that share them, its evidence
// with the chain of custody, and its links; and the forms that change
// each. Other rooms of the part add a section through onDetail (the
// reporting duties fill the slot "incident-duties").

// DetailHook returns what a room shows in its section of an incident's
// page; the template of the section reads it as .Data.Extra.<name>.
type DetailHook func(r *http.Request, i Incident) (any, error)

// onDetail adds a room's section data to the incident's page.
func (h *handlers) onDetail(name string, fn DetailHook) {
	if h.hooks == nil {
		h.hooks = map[string]DetailHook{}
	}
	h.hooks[name] = fn
}

func (h *handlers) registerIncidentForms() {
	manage, read := web.Perm(PermManage), web.Perm(PermRead)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/state", manage, h.statePost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/notes", manage, h.notePost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/tasks", manage, h.taskPost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/tasks/{task}", manage, h.taskUpdatePost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/observables", manage, h.observablesPost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/observables/{obs}/delete", manage, h.observableDeletePost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/evidence", manage, h.evidencePost)
	h.srv.Handle(http.MethodGet, "/incidents/{id}/evidence/{ev}", read, h.evidenceDownload)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/evidence/{ev}/custody", manage, h.transferPost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/evidence/{ev}/verify", manage, h.verifyPost)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/links", manage, h.linkPost)
}

type stepView struct {
	State         State
	Done, Current bool
}

type phaseView struct {
	Phase State
	Tasks []taskView
}

type taskView struct {
	Task
	Overdue bool
}

type evidenceView struct {
	Evidence
	Custody []Custody
}

// detailView is what templates/incident.html sees.
type detailView struct {
	Incident
	Ref           string
	Steps         []stepView
	Forward, Back []State
	Resolutions   []string
	Phases        []phaseView
	Timeline      []entryView
	Observables   []Observable
	Shared        []Shared
	Evidence      []evidenceView
	Links         []Link
	Kinds         []string // of observables
	CanManage     bool
	Error         string
	ErrField      string
	Now           time.Time
	// Extra holds the other rooms' sections, by name (onDetail).
	Extra map[string]any
}

func (h *handlers) incidentPage(w http.ResponseWriter, r *http.Request) {
	h.renderIncident(w, r, http.StatusOK, "", "")
}

// renderIncident renders the page of the incident of the path, with an
// error of a form when msg is set.
func (h *handlers) renderIncident(w http.ResponseWriter, r *http.Request, status int, msg, field string) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	ctx, s := r.Context(), scopeOf(r, PermRead)
	i, err := Get(ctx, h.cfg.DB, s, id)
	if h.formError(w, r, err, nil) {
		return
	}
	now := h.cfg.Clock.Now()
	v := &detailView{Incident: i, Ref: i.Ref(), Resolutions: Resolutions, Kinds: ObservableKinds, Now: now,
		CanManage: web.PrincipalOf(r).CanIn(PermManage, i.Facility), Error: msg, ErrField: field, Extra: map[string]any{}}
	at := stateIndex(i.State)
	for n, st := range States {
		v.Steps = append(v.Steps, stepView{State: st, Done: n < at, Current: n == at})
	}
	v.Forward, v.Back = NextStates(i.State)
	tasks, err := Tasks(ctx, h.cfg.DB, id)
	if err == nil {
		for _, t := range tasks {
			if len(v.Phases) == 0 || v.Phases[len(v.Phases)-1].Phase != t.Phase {
				v.Phases = append(v.Phases, phaseView{Phase: t.Phase})
			}
			p := &v.Phases[len(v.Phases)-1]
			p.Tasks = append(p.Tasks, taskView{Task: t, Overdue: t.Overdue(now)})
		}
		var list []Entry
		list, err = Timeline(ctx, h.cfg.DB, id)
		for _, e := range list {
			v.Timeline = append(v.Timeline, entryView{Entry: e, LabelID: actionLabelID(e.Action)})
		}
	}
	if err == nil {
		v.Observables, err = Observables(ctx, h.cfg.DB, id)
	}
	if err == nil {
		v.Shared, err = SharedObservables(ctx, h.cfg.DB, s, id)
	}
	if err == nil {
		var list []Evidence
		list, err = EvidenceList(ctx, h.cfg.DB, id)
		for _, e := range list {
			chain, cerr := CustodyLog(ctx, h.cfg.DB, e.ID)
			if cerr != nil {
				err = cerr
			}
			v.Evidence = append(v.Evidence, evidenceView{Evidence: e, Custody: chain})
		}
	}
	if err == nil {
		v.Links, err = Links(ctx, h.cfg.DB, id)
	}
	for name, fn := range h.hooks {
		if err != nil {
			break
		}
		v.Extra[name], err = fn(r, i)
	}
	if err != nil {
		h.srv.Log().Error("read an incident", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	h.srv.Render(w, r, status, "incident/incident", v)
}

// done answers a form that changed the incident: back to its page, or
// the page with the error.
func (h *handlers) done(w http.ResponseWriter, r *http.Request, err error, flash, anchor string) {
	if h.formError(w, r, err, func(msg, field string) {
		h.renderIncident(w, r, http.StatusUnprocessableEntity, msg, field)
	}) {
		return
	}
	h.srv.Flash(w, flash)
	http.Redirect(w, r, "/incidents/"+r.PathValue("id")+"#"+anchor, http.StatusSeeOther)
}

// ids reads the path's incident (and other) ids; false after answering
// 404.
func (h *handlers) ids(w http.ResponseWriter, r *http.Request, names ...string) ([]int64, bool) {
	out := make([]int64, 0, len(names))
	for _, n := range names {
		id, ok := pathID(r, n)
		if !ok {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

func (h *handlers) statePost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	t := Transition{To: State(r.PostFormValue("to")), Comment: r.PostFormValue("comment"), Resolution: r.PostFormValue("resolution")}
	_, err := ChangeState(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r), t, h.cfg.Clock.Now())
	h.done(w, r, err, "incident.state_changed", "incident-state")
}

func (h *handlers) notePost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	n := Note{Text: r.PostFormValue("text")}
	at, err := h.parseLocal(r.PostFormValue("at"))
	if err != nil {
		err = invalid("at", "incident.error.note_at")
	} else {
		n.At = at
		_, err = AddNote(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r), n, h.cfg.Clock.Now())
	}
	h.done(w, r, err, "incident.note_added", "incident-timeline")
}

func (h *handlers) taskPost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	n := NewTask{Title: r.PostFormValue("title"), Description: r.PostFormValue("description"),
		Phase: State(r.PostFormValue("phase")), Owner: r.PostFormValue("owner")}
	due, err := h.parseLocal(r.PostFormValue("due"))
	if err != nil {
		err = invalid("due", "incident.error.due")
	} else {
		n.Due = due
		_, err = AddTask(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r), n, h.cfg.Clock.Now())
	}
	h.done(w, r, err, "incident.task_added", "incident-tasks")
}

// taskUpdatePost serves the task's row: its state buttons, or its owner
// and due time.
func (h *handlers) taskUpdatePost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id", "task")
	if !ok {
		return
	}
	var p TaskPatch
	var err error
	if st := r.PostFormValue("state"); st != "" {
		p.State = &st
	} else {
		owner := r.PostFormValue("owner")
		p.Owner = &owner
		var due time.Time
		if due, err = h.parseLocal(r.PostFormValue("due")); err != nil {
			err = invalid("due", "incident.error.due")
		}
		p.Due = &due
	}
	if err == nil {
		_, err = UpdateTask(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], ids[1], actorOf(h.srv, r), p, h.cfg.Clock.Now())
	}
	h.done(w, r, err, "incident.task_updated", "incident-tasks")
}

// observablesPost adds one observable, or many pasted one a line (the
// kind guessed when "guess" is chosen).
func (h *handlers) observablesPost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	kind, ioc, note := r.PostFormValue("kind"), r.PostFormValue("ioc") != "", r.PostFormValue("note")
	if kind == "guess" {
		kind = ""
	}
	var list []NewObservable
	for _, line := range strings.Split(r.PostFormValue("values"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			list = append(list, NewObservable{Kind: kind, Value: line, Note: note, IOC: ioc})
		}
	}
	_, err := AddObservables(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r), list, h.cfg.Clock.Now())
	h.done(w, r, err, "incident.observables_added", "incident-observables")
}

// observableDeletePost removes an observable entered by mistake; the
// timeline and the audit log keep what it was.
func (h *handlers) observableDeletePost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id", "obs")
	if !ok {
		return
	}
	err := DeleteObservable(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], ids[1], actorOf(h.srv, r), h.cfg.Clock.Now())
	h.done(w, r, err, "incident.observable_deleted", "incident-observables")
}

func (h *handlers) evidencePost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	f, fh, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
			return
		}
		h.done(w, r, invalid("content", "incident.error.evidence_empty"), "", "")
		return
	}
	defer f.Close()
	content, err := io.ReadAll(f)
	if err != nil {
		h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
		return
	}
	n := NewEvidence{Name: fh.Filename, Description: r.PostFormValue("description"), Holder: r.PostFormValue("holder")}
	if n.CollectedAt, err = h.parseLocal(r.PostFormValue("collected_at")); err != nil {
		err = invalid("collected_at", "incident.error.collected_at")
	} else {
		_, err = AddEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r), n, content, h.cfg.Clock.Now())
	}
	h.done(w, r, err, "incident.evidence_added", "incident-evidence")
}

func (h *handlers) evidenceDownload(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id", "ev")
	if !ok {
		return
	}
	e, content, err := DownloadEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermRead), ids[0], ids[1], actorOf(h.srv, r), h.cfg.Clock.Now())
	if h.formError(w, r, err, nil) {
		return
	}
	writeEvidence(w, e, content)
}

func (h *handlers) transferPost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id", "ev")
	if !ok {
		return
	}
	t := Transfer{To: r.PostFormValue("to"), Note: r.PostFormValue("note")}
	_, err := TransferEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], ids[1], actorOf(h.srv, r), t, h.cfg.Clock.Now())
	h.done(w, r, err, "incident.evidence_transferred", "incident-evidence")
}

func (h *handlers) verifyPost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id", "ev")
	if !ok {
		return
	}
	good, err := VerifyEvidence(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], ids[1], actorOf(h.srv, r), h.cfg.Clock.Now())
	flash := "incident.evidence_verified"
	if !good {
		flash = "incident.evidence_mismatch"
	}
	h.done(w, r, err, flash, "incident-evidence")
}

func (h *handlers) linkPost(w http.ResponseWriter, r *http.Request) {
	ids, ok := h.ids(w, r, "id")
	if !ok {
		return
	}
	target, perr := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("target")), 10, 64)
	var err error
	if perr != nil {
		err = invalid("target", "incident.error.link_target")
	} else {
		_, err = AddLink(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), ids[0], actorOf(h.srv, r),
			NewLink{Kind: r.PostFormValue("kind"), Target: target, Note: r.PostFormValue("note")}, h.cfg.Clock.Now())
	}
	h.done(w, r, err, "incident.link_added", "incident-links")
}

// entryView is a timeline entry as the page shows it: LabelID names what
// changed in the reader's language.
type entryView struct {
	Entry
	LabelID string
}

// actionLabelID is the message id of a timeline action: a field of the
// incident (severity, people, ...) by the form's label, anything else
// (state, task.done, evidence.add, ...) by its own.
func actionLabelID(action string) string {
	if slices.Contains(incidentFields, action) {
		return "incident.field." + action
	}
	return "incident.timeline.action." + strings.ReplaceAll(action, ".", "_")
}

// incidentFields are the incident's fields an update names on the
// timeline.
var incidentFields = []string{"title", "summary", "kind", "severity", "commander", "aware_at", "occurred_at",
	"affected_systems", "affected_data", "people", "leak", "medical_data", "malicious", "crime", "cyberattack",
	"care_impact", "encrypted"}
