package app

import (
	"context"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// The audit log's verification in the background: every
// audit.verify_interval (a day by default) anzen recomputes the whole log,
// its tree and its signed checkpoints, compares the search index, checks
// the archive's segment files when events have been archived, and records
// what it found (the dashboard's integrity card, the verifications API,
// the compliance evidence). `anzen audit verify` does the same at once.

// verifyFirst is the shortest wait before a background verification after
// start, so that a restart does not add a full verification to the load of
// starting; a log never verified, or last verified longer ago than the
// interval, is verified this long after start.
const verifyFirst = 5 * time.Minute

// runVerify verifies the log when due, until ctx ends.
func (a *App) runVerify(ctx context.Context) {
	t := time.NewTimer(a.NextVerify(ctx))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := a.VerifyAudit(ctx, audit.VerifyOptions{}, audit.VerificationOrigin{Via: "job"}); err != nil && ctx.Err() == nil {
			a.Log.Error("verify the audit log", "err", err)
		}
		t.Reset(a.NextVerify(ctx))
	}
}

// NextVerify returns how long to wait before the next background
// verification: until audit.verify_interval after the last one finished,
// and at least verifyFirst.
func (a *App) NextVerify(ctx context.Context) time.Duration {
	v, err := a.Audit.LatestVerification(ctx)
	if err != nil {
		return verifyFirst
	}
	return max(v.Finished.Add(a.Cfg.Audit.VerifyInterval).Sub(a.Clock.Now()), verifyFirst)
}

// VerifyAudit verifies the log, records the result and logs a failure. The
// archive's segment files are checked too when events have been archived
// and opt names no other directory.
func (a *App) VerifyAudit(ctx context.Context, opt audit.VerifyOptions, o audit.VerificationOrigin) (*audit.VerifyResult, error) {
	if opt.ArchiveDir == "" {
		n, err := a.Audit.ArchivedEvents(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			opt.ArchiveDir = a.Cfg.AuditArchiveDir()
		}
	}
	res, err := a.Audit.Verify(ctx, opt)
	if err != nil {
		return nil, err
	}
	if _, err := a.Audit.RecordVerification(ctx, res, o); err != nil {
		return res, err
	}
	if res.OK {
		a.Log.Info("the audit log verified", "size", res.Size, "from", res.From, "checkpoints", res.Checkpoints,
			"duration", res.Duration.Round(time.Millisecond))
	} else {
		a.Log.Error("THE AUDIT LOG FAILED VERIFICATION", "first_bad", res.FirstBad, "kind", res.Kind, "problem", res.Problem)
	}
	return res, nil
}
