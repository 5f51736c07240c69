package ingest

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The paths of the ingestion endpoints.
const (
	EventsPath = "/api/v1/audit/events"
	FHIRPath   = "/api/v1/fhir/AuditEvent"
)

// ActionRefused is the action of anzen's own security event recorded when
// a whole ingestion request is refused (wrong content type, a body that is
// not JSON, a body over the limit): the events of an accepted request are
// in the log themselves, and the records refused one by one are answered
// to the sender and counted in anzen's own log, so neither is recorded
// again.
const ActionRefused = "audit.ingest.refused"

// Config is what the ingestion endpoints need from the rest of anzen.
type Config struct {
	// Sink stores the events: the audit log.
	Sink Sink
	// Recorder records anzen's own security events (ActionRefused).
	Recorder selfaudit.Recorder
	// Clock gives the time a request arrived, the received time of its
	// events.
	Clock clock.Clock
	// Facilities lists the ids of the facilities that exist, for records
	// that name one.
	Facilities func(ctx context.Context) ([]int64, error)
}

// handlers serves the ingestion endpoints.
type handlers struct {
	srv *web.Server
	cfg Config
}

// Register adds POST /api/v1/audit/events (the JSON wire form, as NDJSON
// or a JSON array) and POST /api/v1/fhir/AuditEvent (FHIR R4 AuditEvent
// resources and Bundles of them) to srv. Both take API tokens of scope
// ingest only.
func Register(srv *web.Server, cfg Config) error {
	if cfg.Sink == nil || cfg.Recorder == nil || cfg.Facilities == nil {
		return errors.New("ingest: Register needs a sink, a recorder and the facilities")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	h := &handlers{srv: srv, cfg: cfg}
	srv.Handle(http.MethodPost, EventsPath, web.Perm(PermIngest), h.postEvents)
	srv.Handle(http.MethodPost, FHIRPath, web.Perm(PermIngest), h.postFHIR)
	return nil
}

// intake is what one request has taken so far: the events waiting to be
// stored, the count stored, the records refused.
type intake struct {
	h       *handlers
	r       *http.Request
	p       *authz.Principal
	arrived time.Time
	// known holds the facilities that exist, read at the first record
	// that names one.
	known []int64

	pending      []audit.Event
	pendingBytes int
	accepted     int
	// through is the last record whose fate is settled: stored, or
	// refused.
	through  int
	rejected []rejected
}

// rejected is one record refused, with its number.
type rejected struct {
	n   int
	err *RecordError
}

// Limits of one append of a request. A request's records are stored in
// chunks of at most this many events or bytes, so that a large body is
// never held whole; each chunk is one transaction.
const (
	chunkEvents = 4096
	chunkBytes  = 4 << 20
)

func (h *handlers) newIntake(r *http.Request) *intake {
	return &intake{h: h, r: r, p: web.PrincipalOf(r), arrived: h.cfg.Clock.Now()}
}

// facility decides the facility of a record that names named (nil for
// none): a token of one facility writes its own, and refuses a record
// naming another; a token of every facility writes the one named (which
// must exist), or none (0).
func (in *intake) facility(named *int64) (int64, *RecordError) {
	all, ids := in.p.Facilities(PermIngest)
	if !all {
		if len(ids) == 0 {
			return 0, forbidden(0)
		}
		if named != nil && !slices.Contains(ids, *named) {
			return 0, forbidden(*named)
		}
		return ids[0], nil
	}
	if named == nil || *named == 0 {
		return 0, nil
	}
	if in.known == nil {
		ids, err := in.h.cfg.Facilities(in.r.Context())
		if err != nil {
			in.h.srv.Log().Error("ingest: list facilities", "err", err)
			return 0, reject(RejectFacilityUnknown, "facility", "the facilities could not be read",
				map[string]any{"Facility": *named})
		}
		in.known = append(ids, -1) // never nil again
	}
	if *named < 0 || !slices.Contains(in.known, *named) {
		return 0, reject(RejectFacilityUnknown, "facility", fmt.Sprintf("there is no facility %d", *named),
			map[string]any{"Facility": *named})
	}
	return *named, nil
}

func forbidden(f int64) *RecordError {
	return reject(RejectFacilityForbidden, "facility",
		fmt.Sprintf("this token may not write events of facility %d", f), map[string]any{"Facility": f})
}

// prepare gives e its facility and received time and lets the log check
// it; it returns why not when the event cannot be stored.
func (in *intake) prepare(e *audit.Event, named *int64) *RecordError {
	f, rerr := in.facility(named)
	if rerr != nil {
		return rerr
	}
	e.Facility, e.Received = f, in.arrived
	if err := in.h.cfg.Sink.Prepare(e); err != nil {
		if re := AsRecordError(err); re != nil {
			return re
		}
		return reject(RejectInvalidEvent, "", err.Error(), map[string]any{"Detail": err.Error()})
	}
	return nil
}

// add queues a prepared event of record n, storing the queue when it is
// full.
func (in *intake) add(e audit.Event, n, size int) error {
	in.pending = append(in.pending, e)
	in.pendingBytes += size
	if len(in.pending) >= chunkEvents || in.pendingBytes >= chunkBytes {
		return in.flush(n)
	}
	return nil
}

// refuse notes that record n was refused.
func (in *intake) refuse(n int, err *RecordError) {
	in.rejected = append(in.rejected, rejected{n, err})
}

// flush stores the queued events; records up to n are then settled.
func (in *intake) flush(n int) error {
	if len(in.pending) > 0 {
		if _, err := in.h.cfg.Sink.Append(in.r.Context(), in.pending); err != nil {
			return err
		}
		in.accepted += len(in.pending)
		clear(in.pending)
		in.pending, in.pendingBytes = in.pending[:0], 0
	}
	in.through = n
	return nil
}

// Rejection is one record refused, in a reply.
type Rejection struct {
	// Line is the record's number: its line in NDJSON (empty lines
	// count), its place in a JSON array, from 1.
	Line int `json:"line"`
	// Code is the stable kind of problem (RecordError.Code).
	Code string `json:"code"`
	// Error says what is wrong, in the request's language.
	Error string `json:"error"`
}

// rejections translates the refusals up to record n for the request.
func (in *intake) rejections(n int) []Rejection {
	out := make([]Rejection, 0, len(in.rejected))
	for _, rj := range in.rejected {
		if rj.n <= n {
			out = append(out, Rejection{Line: rj.n, Code: rj.err.Code, Error: in.h.message(in.r, rj.err)})
		}
	}
	return out
}

// message is what e says, in the language of r.
func (h *handlers) message(r *http.Request, e *RecordError) string {
	return h.srv.T(r, e.MessageID(), e.Args)
}

// logRefusals tells anzen's own log that records of a request were
// refused, with the first reason.
func (in *intake) logRefusals() {
	if len(in.rejected) == 0 {
		return
	}
	first := in.rejected[0]
	in.h.srv.Log().Info("ingest: records refused", "path", in.r.URL.Path, "token", in.p.TokenID,
		"accepted", in.accepted, "refused", len(in.rejected), "first", first.n, "reason", first.err.English)
}

// recordRefusal records in the audit log that the whole request was
// refused, and why (kind, a problem type).
func (h *handlers) recordRefusal(r *http.Request, target, kind string) {
	p := web.PrincipalOf(r)
	e := selfaudit.Event{Action: ActionRefused, Target: target, Outcome: selfaudit.Failure,
		ClientAddr: web.ClientAddr(r), Detail: map[string]string{"reason": kind,
			"content_type": clip(r.Header.Get("Content-Type"), 100)}}
	if p != nil {
		e.ActorLogin = p.Login
		if all, ids := p.Facilities(PermIngest); !all && len(ids) > 0 {
			e.Facility = ids[0]
		}
		if p.TokenID != 0 {
			e.Detail["token"] = strconv.FormatInt(p.TokenID, 10)
		}
	}
	if err := h.cfg.Recorder.Record(r.Context(), nil, e); err != nil {
		h.srv.Log().Error("ingest: record a refused request", "err", err)
	}
}

// mediaType returns the media type of the request without parameters,
// and false when it names a character set other than UTF-8.
func mediaType(r *http.Request) (string, bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return mt, false
	}
	return mt, true
}
