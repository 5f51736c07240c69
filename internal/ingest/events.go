package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// Reply is the answer to POST /api/v1/audit/events: how many events were
// stored, and each record refused. It is sent only after the accepted
// events are durably stored.
type Reply struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

// incompleteProblem is the problem answered when a request failed after
// some of its records were stored: lines up to ThroughLine are settled
// (stored, or listed in Rejected); the sender sends the lines after it
// again.
type incompleteProblem struct {
	web.Problem
	Accepted    int         `json:"accepted"`
	Rejected    []Rejection `json:"rejected"`
	ThroughLine int         `json:"through_line"`
}

// batchFormats are the media types of POST /api/v1/audit/events.
var batchFormats = map[string]BatchFormat{
	"application/x-ndjson":    NDJSON,
	"application/ndjson":      NDJSON,
	"application/jsonl":       NDJSON,
	"application/x-jsonlines": NDJSON,
	"application/json":        JSONArray,
}

// eventsTarget names the endpoint in anzen's own security events.
const eventsTarget = "audit:events"

// postEvents serves POST /api/v1/audit/events: events in the JSON wire
// form, as NDJSON (one per line) or a JSON array. Each record is taken or
// refused by itself; the reply (Reply) comes after the events taken are
// stored. The body is read as it arrives and stored in chunks.
func (h *handlers) postEvents(w http.ResponseWriter, r *http.Request) {
	mt, utf8 := mediaType(r)
	format, ok := batchFormats[mt]
	if !ok || !utf8 {
		h.recordRefusal(r, eventsTarget, "unsupported-media-type")
		h.srv.Problem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type",
			"ingest.error.content_type", map[string]any{"Type": clip(r.Header.Get("Content-Type"), 100)})
		return
	}
	in := h.newIntake(r)
	recs := NewRecords(r.Body, format)
	defer recs.Close()
	last := 0
	for {
		rec, n, err := recs.Next()
		if err == io.EOF {
			break
		}
		last = n
		if re := AsRecordError(err); re != nil {
			in.refuse(n, re)
			continue
		}
		if err != nil {
			h.bodyFailed(w, r, in, err)
			return
		}
		e, named, err := DecodeWire(rec)
		if err != nil {
			in.refuse(n, AsRecordError(err))
			continue
		}
		if re := in.prepare(&e, named); re != nil {
			in.refuse(n, re)
			continue
		}
		if err := in.add(e, n, len(rec)); err != nil {
			h.storeFailed(w, r, in, err)
			return
		}
	}
	if err := in.flush(last); err != nil {
		h.storeFailed(w, r, in, err)
		return
	}
	in.logRefusals()
	web.JSON(w, http.StatusOK, Reply{Accepted: in.accepted, Rejected: in.rejections(last)})
}

// bodyFailed answers a body that could not be read on: over the limit,
// not JSON at all, or cut off.
func (h *handlers) bodyFailed(w http.ResponseWriter, r *http.Request, in *intake, err error) {
	status, kind, msgID := http.StatusBadRequest, "invalid-body", "ingest.error.body"
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, kind, msgID = http.StatusRequestEntityTooLarge, "body-too-large", "error.body_too_large"
	case errors.Is(err, ErrNotJSON):
		kind, msgID = "invalid-json", "ingest.error.not_json"
	}
	if in.through == 0 {
		h.recordRefusal(r, eventsTarget, kind)
	}
	in.logRefusals()
	h.srv.Log().Info("ingest: body not read to the end", "token", in.p.TokenID, "err", err)
	h.answer(w, r, in, status, kind, msgID)
}

// storeFailed answers a request whose events could not be stored.
func (h *handlers) storeFailed(w http.ResponseWriter, r *http.Request, in *intake, err error) {
	if r.Context().Err() != nil {
		return // the sender has gone; it was not told the events were stored
	}
	h.srv.Log().Error("ingest: store events", "err", err, "token", in.p.TokenID, "stored", in.accepted)
	h.answer(w, r, in, http.StatusInternalServerError, "internal", "error.internal")
}

// answer writes a problem of kind; when some records were already
// settled, it says how far (incompleteProblem).
func (h *handlers) answer(w http.ResponseWriter, r *http.Request, in *intake, status int, kind, msgID string) {
	if in.through == 0 {
		h.srv.Problem(w, r, status, kind, msgID, nil)
		return
	}
	p := incompleteProblem{Problem: web.Problem{Type: web.ProblemTypePrefix + kind, Title: http.StatusText(status),
		Status: status, Detail: h.srv.T(r, msgID, nil) + " " + h.srv.T(r, "ingest.error.incomplete",
			map[string]any{"Accepted": in.accepted, "Line": in.through})},
		Accepted: in.accepted, Rejected: in.rejections(in.through), ThroughLine: in.through}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}
