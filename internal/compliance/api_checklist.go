package compliance

import (
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The API of the checklist's answers and of the snapshots
// (openapi_checklist.json).

// AnswerInputJSON is one answer as the API takes it: dates as YYYY-MM-DD.
type AnswerInputJSON struct {
	Framework string `json:"framework"`
	Ref       string `json:"ref"`
	Value     string `json:"value"`
	CheckedOn string `json:"checked_on"`
	TargetOn  string `json:"target_on,omitempty"`
	Note      string `json:"note,omitempty"`
}

// AnswersInJSON is the body of PUT /api/v1/compliance/answers.
type AnswersInJSON struct {
	Answers []AnswerInputJSON `json:"answers"`
}

// AnswersJSON is the answer of GET and PUT /api/v1/compliance/answers.
type AnswersJSON struct {
	Answers []Answer `json:"answers"`
}

// NewSnapshotJSON is the body of POST /api/v1/compliance/snapshots.
type NewSnapshotJSON struct {
	FiscalYear int    `json:"fiscal_year"`
	Note       string `json:"note,omitempty"`
}

// SnapshotsJSON is the answer of GET /api/v1/compliance/snapshots.
type SnapshotsJSON struct {
	Snapshots []Snapshot `json:"snapshots"`
}

func (h *handlers) registerChecklistAPI() {
	read, attest, approve := web.Perm(PermRead), web.Perm(PermAttest), web.Perm(PermApprove)
	h.srv.Handle(http.MethodGet, apiBase+"/answers", read, h.apiAnswers)
	h.srv.Handle(http.MethodPut, apiBase+"/answers", attest, h.apiSetAnswers)
	h.srv.Handle(http.MethodGet, apiBase+"/snapshots", read, h.apiSnapshots)
	h.srv.Handle(http.MethodPost, apiBase+"/snapshots", approve, h.apiTakeSnapshot)
	h.srv.Handle(http.MethodGet, apiBase+"/snapshots/{id}", read, h.apiSnapshot)
	h.srv.Handle(http.MethodGet, apiBase+"/compare", read, h.apiCompare)
}

func (h *handlers) apiAnswers(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	fw := r.URL.Query().Get("framework")
	if fw != "" {
		if x := h.s.lib.Framework(fw); x == nil || x.Kind != KindChecklist {
			h.badParameter(w, r, "compliance.error.checklist")
			return
		}
	}
	list, err := h.s.Answers(r.Context(), f, fw)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, AnswersJSON{Answers: list})
}

// answerInputs turns the API's answers into the service's; a date that is
// not YYYY-MM-DD is an *AnswerError.
func answerInputs(in []AnswerInputJSON) ([]AnswerInput, error) {
	out := make([]AnswerInput, 0, len(in))
	for i, a := range in {
		checked, ok := parseDate(a.CheckedOn)
		if !ok {
			return nil, &AnswerError{Index: i, Ref: a.Ref, Err: &Error{Field: "checked_on", MsgID: "compliance.error.date"}}
		}
		target, ok := parseDate(a.TargetOn)
		if !ok {
			return nil, &AnswerError{Index: i, Ref: a.Ref, Err: &Error{Field: "target_on", MsgID: "compliance.error.date"}}
		}
		x := AnswerInput{Framework: a.Framework, Ref: a.Ref, Value: a.Value, CheckedOn: checked, Note: a.Note}
		if !target.IsZero() {
			x.TargetOn = &target
		}
		out = append(out, x)
	}
	return out, nil
}

func (h *handlers) apiSetAnswers(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	var in AnswersInJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	answers, err := answerInputs(in.Answers)
	if h.apiProblem(w, r, err) {
		return
	}
	out, err := h.s.SetAnswers(r.Context(), actorOf(r), f, answers)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, AnswersJSON{Answers: out})
}

func (h *handlers) apiSnapshots(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	list, err := h.s.Snapshots(r.Context(), f)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, SnapshotsJSON{Snapshots: list})
}

func (h *handlers) apiTakeSnapshot(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermApprove)
	if !ok {
		return
	}
	var in NewSnapshotJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	sn, err := h.s.TakeSnapshot(r.Context(), actorOf(r), f, in.FiscalYear, in.Note)
	if h.apiProblem(w, r, err) {
		return
	}
	sn.State = nil
	w.Header().Set("Location", apiBase+"/snapshots/"+strconv.FormatInt(sn.ID, 10))
	web.JSON(w, http.StatusCreated, sn)
}

func (h *handlers) apiSnapshot(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	sn, err := h.s.Snapshot(r.Context(), f, id)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, sn)
}

func (h *handlers) apiCompare(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
	if err1 != nil || err2 != nil || from <= 0 || to <= 0 {
		h.badParameter(w, r, "compliance.error.snapshot_param")
		return
	}
	cmp, err := h.s.CompareSnapshots(r.Context(), f, from, to)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, cmp)
}
