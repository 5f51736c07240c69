package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The audit log's live evidence for the compliance centre (guideline 6.5
// C-7 and C-8, chapter 7): that the log was verified whole recently, that
// signed checkpoints keep up with it, that the systems which send access
// logs are still sending and their clocks agree with anzen's, and that
// events are kept long enough. Each check reads only what the log already
// keeps (verifications.go, checkpoint.go, sources.go, retention.go);
// internal/app hands Checks to the compliance part.

// Ids of the audit log's checks.
const (
	CheckVerified    = "audit.verified"
	CheckCheckpoints = "audit.checkpoints"
	CheckSilent      = "audit.sources_silent"
	CheckClockSkew   = "audit.clock_skew"
	CheckRetention   = "audit.retention"
)

// VerificationStale is how old the last verification may be before the
// check fails rather than warns: a week without proof that the log is
// whole is no evidence for an inspector (anzen policy).
const VerificationStale = 7 * 24 * time.Hour

// PolicyRetentionYears is how long anzen's policy keeps access logs (after
// the five years of clinical records; the guideline gives no figure).
const PolicyRetentionYears = 5

// silentFail is how long a source may send nothing before the check fails
// rather than warns, at least: a system that has sent no access log for a
// day is not a quiet night.
const silentFail = 24 * time.Hour

// checkpointLag is the least time a checkpoint may lag the newest events
// before the check warns, whatever the checkpoint interval.
const checkpointLag = 10 * time.Minute

// Links of the checks to the pages where what they found is seen.
var (
	linkIntegrity = check.Link{LabelID: "audit.check.link.integrity", Href: "/audit/integrity"}
	linkSources   = check.Link{LabelID: "audit.check.link.sources", Href: "/audit/sources"}
)

// Checks returns the log's checks for the compliance centre. The
// verification, checkpoint and retention checks are of the whole log and
// ignore the facility; the source checks look at the systems of the
// facility asked (every system when it is 0).
func (l *Log) Checks() []check.Check {
	gl := func(refs ...string) []string {
		out := make([]string, len(refs))
		for i, r := range refs {
			out[i] = "mhlw-gl-5.1:" + r
		}
		return out
	}
	return []check.Check{
		{ID: CheckVerified, TitleID: "audit.check.verified.title", Items: gl("6.5-C-7", "7.1-C-1"),
			Every: min(l.VerifyInterval(), check.Daily), Run: l.checkVerified},
		{ID: CheckCheckpoints, TitleID: "audit.check.checkpoints.title", Items: gl("6.5-C-7"), Every: time.Hour, Run: l.checkCheckpoints},
		{ID: CheckSilent, TitleID: "audit.check.sources_silent.title",
			Items: append(gl("6.5-C-7"), "mhlw-checklist-r6:hospital-2-6-server"), Every: time.Hour, Run: l.checkSilent},
		{ID: CheckClockSkew, TitleID: "audit.check.clock_skew.title", Items: gl("6.5-C-8"), Every: time.Hour, Run: l.checkClockSkew},
		{ID: CheckRetention, TitleID: "audit.check.retention.title", Items: gl("6.5-C-7"), Run: l.checkRetention},
	}
}

// checkVerified: the newest verification found the log whole and is
// recent. Never verified or found tampered: fail; older than the
// background schedule allows: warning; older than VerificationStale:
// fail.
func (l *Log) checkVerified(ctx context.Context, _ int64) (check.Result, error) {
	v, err := l.LatestVerification(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return check.Failed("audit.check.verified.never").WithLinks(linkIntegrity), nil
	}
	if err != nil {
		return check.Result{}, err
	}
	now := l.clock.Now()
	age := now.Sub(v.Finished)
	kv := []any{"date", checkDate(v.Finished), "days", days(age), "size", v.Result.Size,
		"interval_hours", int(l.VerifyInterval() / time.Hour)}
	switch {
	case !v.Result.OK:
		return check.Failed("audit.check.verified.bad", append(kv, "position", v.Result.FirstBad, "kind", v.Result.Kind)...).
			WithLinks(linkIntegrity), nil
	case age > max(VerificationStale, 2*l.VerifyInterval()):
		return check.Failed("audit.check.verified.stale", kv...).WithLinks(linkIntegrity), nil
	case l.VerificationOverdue(v.Finished):
		return check.Warned("audit.check.verified.old", kv...).WithLinks(linkIntegrity), nil
	}
	return check.Passed("audit.check.verified.ok", kv...).WithLinks(linkIntegrity), nil
}

// checkCheckpoints: a signed checkpoint exists and covers the log but for
// the events of the last few checkpoint intervals. No key or no checkpoint
// of a log that holds events: fail; events left uncovered longer than
// twice the interval (and checkpointLag): warning; longer than a day:
// fail. An empty log has nothing to sign.
func (l *Log) checkCheckpoints(ctx context.Context, _ int64) (check.Result, error) {
	h, err := readHead(ctx, l.db)
	if err != nil {
		return check.Result{}, err
	}
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return check.Result{}, err
	}
	if cp == nil {
		switch {
		case h.size == 0:
			return check.NA("audit.check.checkpoints.empty"), nil
		case l.signer == nil:
			return check.Failed("audit.check.checkpoints.no_key", "events", h.size).WithLinks(linkIntegrity), nil
		}
		return check.Failed("audit.check.checkpoints.none", "events", h.size).WithLinks(linkIntegrity), nil
	}
	every := l.read.checkpointInterval
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	behind := max(h.size-cp.Size, 0)
	// How long the oldest event the checkpoint does not cover has waited:
	// since it was received, or since the checkpoint if that is later.
	waiting := cp.SignedAt
	if behind > 0 {
		var received int64
		err := l.db.QueryRowContext(ctx, `SELECT received FROM audit_log WHERE seq = ?`, cp.Size).Scan(&received)
		switch {
		case err == nil:
			waiting = later(waiting, db.Time(received))
		case !errors.Is(err, sql.ErrNoRows):
			return check.Result{}, fmt.Errorf("read the first event after the checkpoint: %w", err)
		}
	}
	age := l.clock.Now().Sub(waiting)
	kv := []any{"size", cp.Size, "behind", behind, "minutes", int(age / time.Minute), "date", checkDate(cp.SignedAt),
		"interval_minutes", max(int(every/time.Minute), 1)}
	switch {
	case behind > 0 && age > max(check.Daily, 2*every):
		return check.Failed("audit.check.checkpoints.stale", kv...).WithLinks(linkIntegrity), nil
	case behind > 0 && age > max(checkpointLag, 2*every):
		return check.Warned("audit.check.checkpoints.behind", kv...).WithLinks(linkIntegrity), nil
	}
	return check.Passed("audit.check.checkpoints.ok", kv...).WithLinks(linkIntegrity), nil
}

// sourcesOf returns the systems that send events to facility's log (every
// facility's when it is 0), without anzen itself.
func (l *Log) sourcesOf(ctx context.Context, facility int64) ([]SourceStatus, error) {
	all, err := l.Sources(ctx, facility <= 0, []int64{facility})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(s SourceStatus) bool { return s.Source == SourceAnzen }), nil
}

// checkSilent: every system that sends access logs has sent one within
// the configured silence. Silent longer than that: warning; longer than a
// day (or twice the silence): fail, naming them. No system yet: not
// applicable.
func (l *Log) checkSilent(ctx context.Context, facility int64) (check.Result, error) {
	srcs, err := l.sourcesOf(ctx, facility)
	if err != nil {
		return check.Result{}, err
	}
	if len(srcs) == 0 {
		return check.NA("audit.check.sources_silent.none").WithLinks(linkSources), nil
	}
	now, silence := l.clock.Now(), l.SourceSilence()
	var warn, bad []string
	for _, s := range srcs {
		if !s.Silent(now, silence) {
			continue
		}
		name := fmt.Sprintf("%s (%s)", s.Source, checkDate(s.LastReceived))
		if now.Sub(s.LastReceived) > max(silentFail, 2*silence) {
			bad = append(bad, name)
		} else {
			warn = append(warn, name)
		}
	}
	silent := append(bad, warn...)
	kv := []any{"sources", len(srcs), "count", len(silent), "names", strings.Join(silent, ", "),
		"silence_minutes", int(silence / time.Minute)}
	switch {
	case len(bad) > 0:
		return check.Failed("audit.check.sources_silent.bad", kv...).WithLinks(linkSources), nil
	case len(warn) > 0:
		return check.Warned("audit.check.sources_silent.some", kv...).WithLinks(linkSources), nil
	}
	return check.Passed("audit.check.sources_silent.ok", kv...).WithLinks(linkSources), nil
}

// checkClockSkew: no system's clock was off by more than the tolerance at
// its last event (fail, naming them); a system off by more than half the
// tolerance warns before its events are flagged. No system yet: not
// applicable.
func (l *Log) checkClockSkew(ctx context.Context, facility int64) (check.Result, error) {
	srcs, err := l.sourcesOf(ctx, facility)
	if err != nil {
		return check.Result{}, err
	}
	if len(srcs) == 0 {
		return check.NA("audit.check.clock_skew.none").WithLinks(linkSources), nil
	}
	tol := l.ClockTolerance()
	var bad, near []string
	for _, s := range srcs {
		name := fmt.Sprintf("%s (%s)", s.Source, signedSeconds(s.LastSkew))
		switch {
		case s.SkewTooLarge(tol):
			bad = append(bad, name)
		case s.SkewTooLarge(tol / 2):
			near = append(near, name)
		}
	}
	kv := []any{"sources", len(srcs), "tolerance_seconds", int(tol / time.Second)}
	switch {
	case len(bad) > 0:
		return check.Failed("audit.check.clock_skew.bad", append(kv, "count", len(bad), "names", strings.Join(bad, ", "))...).
			WithLinks(linkSources), nil
	case len(near) > 0:
		return check.Warned("audit.check.clock_skew.near", append(kv, "count", len(near), "names", strings.Join(near, ", "))...).
			WithLinks(linkSources), nil
	}
	return check.Passed("audit.check.clock_skew.ok", append(kv, "count", 0)...).WithLinks(linkSources), nil
}

// RetentionYears is how many years events stay in the database before
// they are archived; 0 keeps them for ever.
func (l *Log) RetentionYears() int { return l.keep.retentionYears }

// checkRetention: the log keeps events at least PolicyRetentionYears
// (anzen's policy, not a figure of the guideline); fewer: warning. A log
// that never archives keeps them for ever.
func (l *Log) checkRetention(context.Context, int64) (check.Result, error) {
	years := l.RetentionYears()
	switch {
	case years <= 0:
		return check.Passed("audit.check.retention.forever", "policy", PolicyRetentionYears), nil
	case years < PolicyRetentionYears:
		return check.Warned("audit.check.retention.short", "years", years, "policy", PolicyRetentionYears), nil
	}
	return check.Passed("audit.check.retention.ok", "years", years, "policy", PolicyRetentionYears), nil
}

// jst is Japan's time, in which details give dates (Japan keeps no
// summer time).
var jst = time.FixedZone("JST", 9*60*60)

// checkDate is t as a detail shows it: the date and minute in Japan.
func checkDate(t time.Time) string { return t.In(jst).Format("2006-01-02 15:04") }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// days is d in whole days.
func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// signedSeconds writes a clock's offset: +300s ahead, -42s behind.
func signedSeconds(d time.Duration) string {
	return fmt.Sprintf("%+ds", int(d.Round(time.Second)/time.Second))
}
