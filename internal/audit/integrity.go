package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The log's integrity as people see it: a dashboard card with the last
// verification (a red figure when it found tampering, an orange one when
// it is overdue), the page /audit/integrity with the verifications, the
// latest signed checkpoint and the verifier keys, and the API
// GET /api/v1/audit/verifications that the compliance centre and outside
// tools read as evidence.

// DefaultVerifyInterval is how often anzen serve verifies the log unless
// configured otherwise (audit.verify_interval).
const DefaultVerifyInterval = 24 * time.Hour

// WithVerifyInterval sets how often the log is verified in the background,
// so that the card can say when a verification is overdue.
func WithVerifyInterval(d time.Duration) Option { return func(l *Log) { l.read.verifyEvery = d } }

// VerifyInterval returns how often the log is verified in the background.
func (l *Log) VerifyInterval() time.Duration {
	if l.read.verifyEvery > 0 {
		return l.read.verifyEvery
	}
	return DefaultVerifyInterval
}

// VerificationOverdue reports whether a verification that finished at
// finished is too old: a background run was missed (twice the interval,
// and at least an hour, so that a long run does not flap).
func (l *Log) VerificationOverdue(finished time.Time) bool {
	return l.clock.Now().Sub(finished) > max(2*l.VerifyInterval(), l.VerifyInterval()+time.Hour)
}

// VerificationsResponse is GET /api/v1/audit/verifications's answer.
type VerificationsResponse struct {
	Verifications []Verification `json:"verifications"`
	// LastOK is the newest verification that found the log whole, also
	// when newer ones did not; null when none did.
	LastOK *Verification `json:"last_ok"`
	// Overdue says the newest verification is older than twice the
	// background interval (or there is none).
	Overdue bool `json:"overdue"`
}

// verificationsLimit is the most verifications one answer or page lists.
const verificationsLimit = 100

// verificationsView reads what the page and the API show.
func (h *handlers) verificationsView(ctx context.Context, limit int) (*VerificationsResponse, error) {
	vs, err := h.log.Verifications(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := &VerificationsResponse{Verifications: vs, Overdue: len(vs) == 0 || h.log.VerificationOverdue(vs[0].Finished)}
	if out.Verifications == nil {
		out.Verifications = []Verification{}
	}
	good, err := h.log.LastGoodVerification(ctx)
	switch {
	case err == nil:
		out.LastOK = good
	case !errors.Is(err, db.ErrNotFound):
		return nil, err
	}
	return out, nil
}

// apiVerifications serves GET /api/v1/audit/verifications?limit=N: the
// newest verifications of the whole log, newest first (20 unless limit
// says otherwise, at most 100). Every reader of the log may see them: they
// say whether the log is whole, nothing of any event.
func (h *handlers) apiVerifications(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > verificationsLimit {
			h.paramProblem(w, r, &paramError{"limit", fmt.Errorf("%q is not a whole number from 1 to %d", v, verificationsLimit)})
			return
		}
		limit = n
	}
	out, err := h.verificationsView(r.Context(), limit)
	if err != nil {
		h.srv.Log().Error("read the audit log's verifications", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	web.JSON(w, http.StatusOK, out)
}

// integrityView is what templates/integrity.html sees as .Data.
type integrityView struct {
	*VerificationsResponse
	Latest     *verificationRow
	Rows       []verificationRow
	Interval   string
	Checkpoint *Checkpoint
	Keys       []string
}

// verificationRow is one verification as the page shows it.
type verificationRow struct {
	Verification
	KindLabel string
	Duration  string
	Last      int64 // the last position checked
	Via       string
}

func (h *handlers) verificationRow(r *http.Request, v Verification) verificationRow {
	row := verificationRow{Verification: v, Duration: v.Result.Duration.Round(time.Millisecond).String(),
		Last: max(v.Result.Size-1, 0), Via: h.srv.T(r, "audit.integrity.via."+v.Via, nil)}
	if v.Result.Kind != "" {
		row.KindLabel = h.srv.T(r, "audit.integrity.kind."+v.Result.Kind, nil)
	}
	return row
}

// integrityPage serves GET /audit/integrity.
func (h *handlers) integrityPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vr, err := h.verificationsView(ctx, 30)
	if err != nil {
		h.pageFailed(w, r, "read the audit log's verifications", err)
		return
	}
	v := &integrityView{VerificationsResponse: vr, Interval: h.span(h.srv.Lang(r), h.log.VerifyInterval())}
	for _, ver := range vr.Verifications {
		v.Rows = append(v.Rows, h.verificationRow(r, ver))
	}
	if len(v.Rows) > 0 {
		v.Latest = &v.Rows[0]
	}
	if v.Checkpoint, err = h.log.LatestCheckpoint(ctx); err != nil && !errors.Is(err, db.ErrNotFound) {
		h.pageFailed(w, r, "read the latest audit checkpoint", err)
		return
	}
	if v.Keys, err = h.log.VerifierKeys(ctx); err != nil && !errors.Is(err, ErrNoSigner) {
		h.pageFailed(w, r, "read the audit log's verifier keys", err)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "audit/integrity", v)
}

// integrityCard fills the dashboard card.
func (h *handlers) integrityCard(r *http.Request) ([]web.Stat, error) {
	const link = "/audit/integrity"
	v, err := h.log.LatestVerification(r.Context())
	if errors.Is(err, db.ErrNotFound) {
		return []web.Stat{{LabelID: "audit.integrity.card.result", Value: h.srv.T(r, "audit.integrity.never", nil),
			Level: "warn", Link: link}}, nil
	}
	if err != nil {
		return nil, err
	}
	res := v.Result
	result := web.Stat{LabelID: "audit.integrity.card.result", Value: h.srv.T(r, "audit.integrity.ok", nil), Level: "ok", Link: link}
	if !res.OK {
		result.Value = h.srv.T(r, "audit.integrity.bad", map[string]any{"Seq": res.FirstBad})
		result.Level = "bad"
	}
	when := web.Stat{LabelID: "audit.integrity.card.when", Value: v.Finished.In(h.loc).Format("2006-01-02 15:04"), Link: link}
	if h.log.VerificationOverdue(v.Finished) {
		when.Level = "warn"
	}
	return []web.Stat{result, when,
		{LabelID: "audit.integrity.card.size", Value: groupDigits(int(res.Size)), Link: link}}, nil
}

// registerIntegrity adds the page, the API route and the card.
func (h *handlers) registerIntegrity(read web.Access) {
	h.srv.Handle(http.MethodGet, "/api/v1/audit/verifications", read, h.apiVerifications)
	h.srv.Handle(http.MethodGet, "/audit/integrity", read, h.integrityPage)
	h.srv.AddCard(web.Card{ID: "audit-integrity", TitleID: "audit.integrity.card.title", Access: read, Order: 19,
		Stats: h.integrityCard})
}
