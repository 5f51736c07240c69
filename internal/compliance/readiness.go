package compliance

import (
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// Readiness: the rule that says, from a control's checks and evidence,
// whether it is ready (Drata's rule: ready only when every check passes
// and every piece of evidence is approved and in date), and how a
// requirement and a chapter add up. Pure functions over the data, so the
// state, the snapshots and the tests share them.

// rank orders readiness from best to worst; a requirement takes its
// worst control's.
var rank = map[string]int{Excluded: 0, Ready: 1, NotAssessed: 2, Attention: 3, NotReady: 4}

// Worse returns the worse of two readiness values.
func Worse(a, b string) string {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Why a control is not ready: message ids of the part's catalog.
const (
	ReasonCheckFailed      = "compliance.reason.check_failed"
	ReasonCheckError       = "compliance.reason.check_error"
	ReasonCheckWarning     = "compliance.reason.check_warning"
	ReasonCheckNotRun      = "compliance.reason.check_not_run"
	ReasonEvidenceMissing  = "compliance.reason.evidence_missing"
	ReasonEvidenceExpired  = "compliance.reason.evidence_expired"
	ReasonEvidenceNear     = "compliance.reason.evidence_near_expiry"
	ReasonEvidencePending  = "compliance.reason.evidence_pending"
	ReasonEvidenceRejected = "compliance.reason.evidence_rejected"
)

// ExpiryLevel says whether evidence expiring on expires is in date on
// today, near its expiry (NearExpiryDays or fewer days left) or expired
// (on its expiry date or after). Evidence without expiry is in date.
func ExpiryLevel(expires *time.Time, today time.Time) string {
	switch {
	case expires == nil:
		return InDate
	case !today.Before(*expires):
		return Expired
	case expires.Sub(today) <= NearExpiryDays*24*time.Hour:
		return NearExpiry
	}
	return InDate
}

// inEffect reports whether an approved attestation counts on today: it
// has taken effect and not expired.
func inEffect(a *Attestation, today time.Time) bool {
	return a.State == AttestApproved && !a.EffectiveOn.After(today) && ExpiryLevel(a.ExpiresOn, today) != Expired
}

// ControlReadiness is the readiness of control c on today, given the
// facility's implementation state (impl), the latest run of each check
// (by check id) and the control's attestations. It returns the readiness,
// the evidence specs with no approved, in-date attestation, and the
// reasons (message ids) for anything short of ready.
func ControlReadiness(c *Control, impl string, runs map[string]*CheckRun, atts []Attestation, today time.Time) (string, []EvidenceSpec, []string) {
	if impl == ImplNotApplicable {
		return Excluded, nil, nil
	}
	level := Ready
	var reasons []string
	add := func(l, reason string) {
		level = Worse(level, l)
		for _, r := range reasons {
			if r == reason {
				return
			}
		}
		reasons = append(reasons, reason)
	}
	ran := false
	for _, id := range c.Checks {
		r := runs[id]
		if r == nil {
			add(Attention, ReasonCheckNotRun)
			continue
		}
		ran = true
		switch {
		case r.Error != "":
			add(NotReady, ReasonCheckError)
		case r.Status == check.Fail:
			add(NotReady, ReasonCheckFailed)
		case r.Status == check.Warning:
			add(Attention, ReasonCheckWarning)
		case r.Status == check.Pass || r.Status == check.NotApplicable:
		default:
			add(NotReady, ReasonCheckError)
		}
	}
	if !ran && len(atts) == 0 {
		return NotAssessed, append([]EvidenceSpec(nil), c.Evidence...), nil
	}
	pending := false
	for i := range atts {
		if atts[i].State == AttestPending {
			pending = true
		}
	}
	if pending {
		add(Attention, ReasonEvidencePending)
	}
	var missing []EvidenceSpec
	for _, spec := range c.Evidence {
		best, rejected, expired := (*Attestation)(nil), false, false
		for i := range atts {
			a := &atts[i]
			if a.EvidenceID != spec.ID {
				continue
			}
			switch {
			case inEffect(a, today):
				if best == nil || later(a.ExpiresOn, best.ExpiresOn) {
					best = a
				}
			case a.State == AttestRejected:
				rejected = true
			case a.State == AttestApproved && ExpiryLevel(a.ExpiresOn, today) == Expired:
				expired = true
			}
		}
		if best != nil {
			if ExpiryLevel(best.ExpiresOn, today) == NearExpiry {
				add(Attention, ReasonEvidenceNear)
			}
			continue
		}
		missing = append(missing, spec)
		if pendingFor(atts, spec.ID) {
			continue // awaiting approval: attention, said above
		}
		switch {
		case expired:
			add(NotReady, ReasonEvidenceExpired)
		case rejected:
			add(NotReady, ReasonEvidenceRejected)
		default:
			add(NotReady, ReasonEvidenceMissing)
		}
	}
	return level, missing, reasons
}

func pendingFor(atts []Attestation, spec string) bool {
	for i := range atts {
		if atts[i].EvidenceID == spec && atts[i].State == AttestPending {
			return true
		}
	}
	return false
}

// later reports whether expiry a is later than b (nil: never expires).
func later(a, b *time.Time) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	return a.After(*b)
}

// RequirementReadiness is the worst readiness of the controls that
// answer a requirement, ignoring excluded ones (Excluded if all are);
// NotAssessed when no control answers it.
func RequirementReadiness(controls []string) string {
	if len(controls) == 0 {
		return NotAssessed
	}
	out := Excluded
	for _, r := range controls {
		out = Worse(out, r)
	}
	return out
}

// coverageOf counts readiness values under a heading.
func coverageOf(ref string, title Text, readiness []string) Coverage {
	c := Coverage{Ref: ref, Title: title, Counts: map[string]int{Ready: 0, Attention: 0, NotReady: 0, NotAssessed: 0, Excluded: 0}}
	for _, r := range readiness {
		c.Counts[r]++
		c.Total++
	}
	if n := c.Total - c.Counts[Excluded]; n > 0 {
		c.Percent = c.Counts[Ready] * 100 / n
	}
	return c
}
