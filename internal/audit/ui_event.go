package audit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// eventView is what templates/event.html sees as .Data.
type eventView struct {
	Row      eventRow
	Flags    []flagView
	Original string // as received, when UTF-8
	Base64   string // in base64, when not
	Size     int    // bytes of the original

	// The proof: the latest checkpoint covers the event (Covered), or the
	// next is due by Due. Without any checkpoint Checkpoint is nil.
	Checkpoint   *Checkpoint
	Covered      bool
	Due          time.Time
	ProofURL     string
	VerifierKeys []string
}

// flagView is one flag of an event, explained.
type flagView struct {
	Name, Label, Help string
}

// eventPage serves GET /audit/events/{seq}: one event in full, its
// original record, its flags explained, and how to prove it.
func (h *handlers) eventPage(w http.ResponseWriter, r *http.Request) {
	e, ok := h.eventOf(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	lang := h.srv.Lang(r)
	v := &eventView{Row: h.eventRows(lang, []Event{e})[0], Size: len(e.Original)}
	for _, name := range e.Flags.Names() {
		id := "audit.flag." + name
		if !h.srv.Catalog().Has(lang, id+".label") {
			v.Flags = append(v.Flags, flagView{Name: name, Label: name})
			continue
		}
		v.Flags = append(v.Flags, flagView{Name: name, Label: h.srv.Catalog().T(lang, id+".label", nil),
			Help: h.srv.Catalog().T(lang, id+".help", map[string]any{"Tolerance": h.span(lang, h.log.ClockTolerance())})})
	}
	if utf8.Valid(e.Original) {
		v.Original = string(e.Original)
	} else {
		v.Base64 = base64.StdEncoding.EncodeToString(e.Original)
	}
	cp, err := h.log.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		h.pageFailed(w, r, "read the latest audit checkpoint", err)
		return
	default:
		v.Checkpoint, v.Covered = cp, e.Seq < cp.Size
	}
	if v.Covered {
		v.ProofURL = "/audit/events/" + strconv.FormatInt(e.Seq, 10) + "/proof.json"
		keys, err := h.log.VerifierKeys(ctx)
		if err != nil && !errors.Is(err, ErrNoSigner) {
			h.pageFailed(w, r, "read the audit log's verifier keys", err)
			return
		}
		v.VerifierKeys = keys
	} else if v.Due, err = h.log.NextCheckpointDue(ctx); err != nil {
		h.pageFailed(w, r, "read the latest audit checkpoint", err)
		return
	}
	if err := h.recordEventRead(r, e, "event"); err != nil {
		h.pageFailed(w, r, "record reading an audit event", err)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "audit/event", v)
}

// proofDownload serves GET /audit/events/{seq}/proof.json: the event's
// inclusion proof as a file, for anzen audit check-proof.
func (h *handlers) proofDownload(w http.ResponseWriter, r *http.Request) {
	e, ok := h.eventOf(w, r, false)
	if !ok {
		return
	}
	p := h.proofOf(w, r, e, false)
	if p == nil {
		return
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err == nil {
		err = h.recordEventRead(r, e, "proof")
	}
	if err != nil {
		h.pageFailed(w, r, "prove an audit event", err)
		return
	}
	name := "anzen-audit-proof-" + strconv.FormatInt(e.Seq, 10) + ".json"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}
