package audit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The access log over the JSON API: GET /api/v1/audit/events (search),
// GET /api/v1/audit/events/{seq} (one event) and
// GET /api/v1/audit/events/{seq}/proof (its inclusion proof). POST on the
// same path is ingestion, which internal/ingest serves.

// EventJSON is one event as the API and the proof download show it: the
// event's fields, its flags by name, and the original record as text when
// it is UTF-8 (original_encoding "utf-8"), else in base64 ("base64").
type EventJSON struct {
	Seq              int64     `json:"seq"`
	Time             time.Time `json:"time"`
	Received         time.Time `json:"received"`
	Facility         int64     `json:"facility"`
	Source           string    `json:"source"`
	Actor            Actor     `json:"actor"`
	Action           string    `json:"action"`
	Patient          Patient   `json:"patient"`
	Object           Object    `json:"object"`
	Outcome          string    `json:"outcome"`
	Purpose          string    `json:"purpose"`
	Session          string    `json:"session"`
	Flags            []string  `json:"flags"`
	Format           string    `json:"format"`
	Original         string    `json:"original"`
	OriginalEncoding string    `json:"original_encoding"`
}

// NewEventJSON returns e as the API shows it.
func NewEventJSON(e Event) EventJSON {
	j := EventJSON{Seq: e.Seq, Time: e.Time, Received: e.Received, Facility: e.Facility, Source: e.Source,
		Actor: e.Actor, Action: e.Action, Patient: e.Patient, Object: e.Object, Outcome: e.Outcome,
		Purpose: e.Purpose, Session: e.Session, Flags: e.Flags.Names(), Format: e.Format}
	if utf8.Valid(e.Original) {
		j.Original, j.OriginalEncoding = string(e.Original), "utf-8"
	} else {
		j.Original, j.OriginalEncoding = base64.StdEncoding.EncodeToString(e.Original), "base64"
	}
	return j
}

// EventsResponse is the body of GET /api/v1/audit/events. Next is the
// before value of the following (older) page, or null on the last page;
// IndexBehind is how many of the newest events the search index had not yet
// taken when it answered (0 almost always).
type EventsResponse struct {
	Events      []EventJSON `json:"events"`
	Next        *int64      `json:"next"`
	IndexBehind int64       `json:"index_behind"`
}

// eventParams are the query parameters of an event search, in the order
// links carry them.
var eventParams = []string{"from", "to", "actor", "patient", "action", "source", "outcome", "q", "limit", "before"}

// parseEventQuery reads the search parameters shared by the API, the pages
// and the CSV exports: from and to (RFC 3339; with dates true also dates,
// YYYY-MM-DD in loc, to meaning the end of that day), actor, patient,
// action, source, outcome, q (free text), limit and before. The facility
// scope is left for the caller to set.
func parseEventQuery(v url.Values, dates bool, loc *time.Location) (EventQuery, *paramError) {
	var q EventQuery
	if perr := checkTextParams(v, eventParams); perr != nil {
		return q, perr
	}
	var perr *paramError
	if q.From, q.To, perr = parseTimeRange(v, dates, loc); perr != nil {
		return q, perr
	}
	q.Actor = strings.TrimSpace(v.Get("actor"))
	q.Patient = strings.TrimSpace(v.Get("patient"))
	q.Action = strings.ToLower(strings.TrimSpace(v.Get("action"))) // stored in lower case
	q.Source = strings.TrimSpace(v.Get("source"))
	q.Text = v.Get("q") // as typed: spaces may be part of it
	switch q.Outcome = v.Get("outcome"); q.Outcome {
	case "", OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
	default:
		return q, &paramError{"outcome", fmt.Errorf("%q is none of %s, %s, %s", q.Outcome, OutcomeSuccess, OutcomeFailure, OutcomeUnknown)}
	}
	if q.Limit, q.Before, perr = parsePaging(v); perr != nil {
		return q, perr
	}
	return q, nil
}

// checkTextParams refuses a parameter of names that no stored event could
// match: longer than MaxFieldLen characters, not UTF-8, or with a NUL
// (which PostgreSQL refuses in a query parameter).
func checkTextParams(v url.Values, names []string) *paramError {
	for _, name := range names {
		if s := v.Get(name); !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxFieldLen || strings.ContainsRune(s, 0) {
			return &paramError{name, fmt.Errorf("longer than %d characters, not UTF-8 or with a NUL character", MaxFieldLen)}
		}
	}
	return nil
}

// parseTimeRange reads the parameters from and to (see parseTime): from
// must be before to when both are given.
func parseTimeRange(v url.Values, dates bool, loc *time.Location) (from, to time.Time, perr *paramError) {
	var err error
	if from, err = parseTime(v.Get("from"), dates, false, loc); err != nil {
		return from, to, &paramError{"from", err}
	}
	if to, err = parseTime(v.Get("to"), dates, true, loc); err != nil {
		return from, to, &paramError{"to", err}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, &paramError{"to", fmt.Errorf("to (%s) is not after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))}
	}
	return from, to, nil
}

// parsePaging reads the parameters limit (1 to MaxLimit; 0 when absent)
// and before (a position above 0; 0 when absent).
func parsePaging(v url.Values) (limit int, before int64, perr *paramError) {
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return 0, 0, &paramError{"limit", fmt.Errorf("%q is not a number from 1 to %d", s, MaxLimit)}
		}
		limit = n
	}
	if s := v.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, &paramError{"before", fmt.Errorf("%q is not an event id", s)}
		}
		before = n
	}
	return limit, before, nil
}

// scopeEvents sets q's facility scope to where the caller may read the log.
func scopeEvents(q *EventQuery, r *http.Request) {
	q.AllFacilities, q.Facilities = web.PrincipalOf(r).Facilities(PermRead)
}

// Targets of the records of reading the access log.
const (
	targetEvents = "audit:events" // a search, a per-patient view or an export
	targetEvent  = "audit:event/" // one event, or its proof, by number
)

// recordRead records, as an audit.search event, that the caller of r read
// the access log: via says how ("api", "page", "csv", "patient",
// "patient-csv" for searches; "event", "proof", "api-event", "api-proof"
// for one event), detail what was asked. It is called after the read and
// before any result is sent, so that no one reads the log unrecorded, and
// a search does not find its own record. The record belongs to facility.
func (h *handlers) recordRead(r *http.Request, detail map[string]string, via, target string, facility int64) error {
	p := web.PrincipalOf(r)
	e := selfaudit.Event{Action: ActionSearch, Target: target, Outcome: selfaudit.Success,
		ClientAddr: web.ClientAddr(r), Detail: detail, Facility: facility}
	e.Detail["via"] = via
	if p != nil {
		e.ActorID, e.ActorLogin = p.UserID, p.Login
		if p.TokenID != 0 {
			e.Detail["token"] = strconv.FormatInt(p.TokenID, 10)
		}
	}
	return h.log.Record(r.Context(), nil, e)
}

// recordEventSearch records a search, a per-patient view or an export of the
// access log with q. The record belongs to the one facility searched, or
// to none (system-wide) for a wider search.
func (h *handlers) recordEventSearch(r *http.Request, q EventQuery, via string) error {
	var facility int64
	if !q.AllFacilities && len(q.Facilities) == 1 {
		facility = q.Facilities[0]
	}
	return h.recordRead(r, queryDetail(q), via, targetEvents, facility)
}

// recordEventRead records that the caller read event e (via "event",
// "proof", "api-event" or "api-proof"); the record belongs to e's facility.
func (h *handlers) recordEventRead(r *http.Request, e Event, via string) error {
	seq := strconv.FormatInt(e.Seq, 10)
	return h.recordRead(r, map[string]string{"seq": seq}, via, targetEvent+seq, e.Facility)
}

// queryDetail describes q for the record of a search; empty criteria are
// left out.
func queryDetail(q EventQuery) map[string]string {
	d := filterDetail(Filter{From: q.From, To: q.To, Before: q.Before, Limit: q.Limit,
		AllFacilities: q.AllFacilities, Facilities: q.Facilities})
	for k, v := range map[string]string{"actor": q.Actor, "patient": q.Patient, "action": q.Action,
		"source": q.Source, "outcome": q.Outcome, "q": q.Text} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// paramProblem answers a request of the API whose parameter perr names
// is not valid: a 400 problem of type invalid-parameter.
func (h *handlers) paramProblem(w http.ResponseWriter, r *http.Request, perr *paramError) {
	h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "audit.error.invalid_parameter",
		map[string]any{"Param": perr.Param, "Reason": perr.Err.Error()})
}

// apiEvents serves GET /api/v1/audit/events: the events the query
// parameters select (see parseEventQuery), newest first, within the
// caller's facilities. A bad parameter is a 400 problem of type
// invalid-parameter.
func (h *handlers) apiEvents(w http.ResponseWriter, r *http.Request) {
	q, perr := parseEventQuery(r.URL.Query(), false, h.loc)
	if perr != nil {
		h.paramProblem(w, r, perr)
		return
	}
	scopeEvents(&q, r)
	page, err := h.log.SearchEvents(r.Context(), q)
	if err == nil {
		err = h.recordEventSearch(r, q, "api")
	}
	if err != nil {
		h.srv.Log().Error("search the access log", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	resp := EventsResponse{Events: make([]EventJSON, len(page.Events)), IndexBehind: page.Behind}
	for i, e := range page.Events {
		resp.Events[i] = NewEventJSON(e)
	}
	if page.Next != 0 {
		resp.Next = &page.Next
	}
	web.JSON(w, http.StatusOK, resp)
}

// eventOf reads the event the route's {seq} names, if the caller may see
// it. It answers the request itself (404 for no such event or one of
// another facility, 410 for an archived one) and returns false when it
// cannot.
func (h *handlers) eventOf(w http.ResponseWriter, r *http.Request, api bool) (Event, bool) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 0 {
		h.readProblem(w, r, api, http.StatusNotFound, "event-not-found", "audit.error.event_not_found")
		return Event{}, false
	}
	e, err := h.log.ReadEvent(r.Context(), seq)
	var q EventQuery
	scopeEvents(&q, r)
	switch {
	case errors.Is(err, db.ErrNotFound) || (err == nil && !q.InScope(e.Facility)):
		// Another facility's event is answered as no event, so that its
		// existence tells nothing.
		h.readProblem(w, r, api, http.StatusNotFound, "event-not-found", "audit.error.event_not_found")
		return Event{}, false
	case errors.Is(err, ErrArchived):
		h.readProblem(w, r, api, http.StatusGone, "archived", "audit.error.archived")
		return Event{}, false
	case err != nil:
		h.srv.Log().Error("read an audit event", "seq", seq, "err", err)
		h.readProblem(w, r, api, http.StatusInternalServerError, "internal", "error.internal")
		return Event{}, false
	}
	return e, true
}

// readProblem answers a request of the API with a problem of kind, or a
// request of a page with the error page, both saying msgID.
func (h *handlers) readProblem(w http.ResponseWriter, r *http.Request, api bool, status int, kind, msgID string) {
	if api {
		h.srv.Problem(w, r, status, kind, msgID, nil)
	} else {
		h.srv.ErrorPage(w, r, status, msgID)
	}
}

// apiEvent serves GET /api/v1/audit/events/{seq}: one event (EventJSON).
func (h *handlers) apiEvent(w http.ResponseWriter, r *http.Request) {
	e, ok := h.eventOf(w, r, true)
	if !ok {
		return
	}
	if err := h.recordEventRead(r, e, "api-event"); err != nil {
		h.srv.Log().Error("record reading an audit event", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	web.JSON(w, http.StatusOK, NewEventJSON(e))
}

// proofOf makes the inclusion proof of e against the latest checkpoint.
// It answers the request itself and returns nil when it cannot: 409 when
// e is newer than the latest checkpoint (saying when the next is due), 410
// when the events the proof needs are archived.
func (h *handlers) proofOf(w http.ResponseWriter, r *http.Request, e Event, api bool) *Proof {
	p, err := h.log.Prove(r.Context(), e.Seq)
	switch {
	case errors.Is(err, ErrNotCheckpointed):
		due, derr := h.log.NextCheckpointDue(r.Context())
		if derr != nil {
			err = derr
			break
		}
		if api {
			h.srv.Problem(w, r, http.StatusConflict, "not-checkpointed", "audit.error.not_checkpointed",
				map[string]any{"Due": due.In(h.loc).Format(time.RFC3339)})
		} else {
			h.srv.ErrorPage(w, r, http.StatusConflict, "audit.error.not_checkpointed_page")
		}
		return nil
	case errors.Is(err, ErrArchived):
		h.readProblem(w, r, api, http.StatusGone, "archived", "audit.error.archived")
		return nil
	}
	if err != nil {
		h.srv.Log().Error("prove an audit event", "seq", e.Seq, "err", err)
		h.readProblem(w, r, api, http.StatusInternalServerError, "internal", "error.internal")
		return nil
	}
	return p
}

// apiProof serves GET /api/v1/audit/events/{seq}/proof: the event's
// inclusion proof against the latest signed checkpoint, the JSON that
// anzen audit check-proof reads.
func (h *handlers) apiProof(w http.ResponseWriter, r *http.Request) {
	e, ok := h.eventOf(w, r, true)
	if !ok {
		return
	}
	p := h.proofOf(w, r, e, true)
	if p == nil {
		return
	}
	if err := h.recordEventRead(r, e, "api-proof"); err != nil {
		h.srv.Log().Error("record reading an audit event", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	web.JSON(w, http.StatusOK, p)
}
