package audit

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// CheckpointJSON is GET /api/v1/audit/checkpoint's answer to a caller that
// asks for JSON: the latest checkpoint's facts, the signed note itself, and
// the log's verifier keys (note.NewVerifier's form, newest first) as the log
// gives them. A checker compares the keys with the one it trusts before
// using them.
type CheckpointJSON struct {
	Origin       string    `json:"origin"`
	Size         int64     `json:"size"`
	Root         []byte    `json:"root"`
	SignedAt     time.Time `json:"signed_at"`
	Note         string    `json:"note"`
	VerifierKeys []string  `json:"verifier_keys"`
}

// apiCheckpoint serves GET /api/v1/audit/checkpoint: the latest signed
// checkpoint as a C2SP signed note (text/plain), the form witnesses and
// C2SP tools read, or, when Accept asks for application/json, as
// CheckpointJSON.
//
// Who may read it: every holder of PermRead in any facility (ciso, csirt,
// auditor, admin) and API tokens with scope read, which is what an outside
// witness is given. A checkpoint shows only the number of events in the
// whole log and a hash over them, nothing of any event; it is not public
// because the size alone tells how busy the hospital's systems are. Reading
// it is not recorded in the log: a witness polls it, and a record of every
// poll would grow the log it watches.
func (h *handlers) apiCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := h.log.LatestCheckpoint(r.Context())
	if errors.Is(err, db.ErrNotFound) {
		due, derr := h.log.NextCheckpointDue(r.Context())
		if derr == nil {
			h.srv.Problem(w, r, http.StatusNotFound, "no-checkpoint", "audit.error.no_checkpoint",
				map[string]any{"Due": due.In(h.loc).Format(time.RFC3339)})
			return
		}
		err = derr
	}
	if err != nil {
		h.srv.Log().Error("read the latest audit checkpoint", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	w.Header().Set("Vary", "Accept")
	if !wantsJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(cp.Note)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(cp.Note))
		return
	}
	keys, err := h.log.VerifierKeys(r.Context())
	if errors.Is(err, ErrNoSigner) {
		keys, err = []string{}, nil // a log without a key can show its keys no more
	}
	if err != nil {
		h.srv.Log().Error("read the audit log's verifier keys", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	web.JSON(w, http.StatusOK, CheckpointJSON{Origin: cp.Origin, Size: cp.Size, Root: cp.Root,
		SignedAt: cp.SignedAt, Note: cp.Note, VerifierKeys: keys})
}

// wantsJSON reports whether an Accept header prefers application/json to
// text/plain: it names application/json (with a quality above 0) at a
// quality no lower than any text/plain or */* it names.
func wantsJSON(accept string) bool {
	jsonQ, textQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "application/json":
			jsonQ = max(jsonQ, q)
		case "text/plain", "text/*", "*/*":
			textQ = max(textQ, q)
		}
	}
	return jsonQ > 0 && jsonQ >= textQ
}
