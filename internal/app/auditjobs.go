package app

import (
	"context"
	"sync"
	"time"
)

// outboxFlush is how often anzen's own events waiting in the outbox are
// moved onto the audit log when nothing else moves them sooner.
const outboxFlush = 250 * time.Millisecond

// runAudit runs the audit log's background work until ctx ends: the search
// index, moving anzen's own events onto the log, signing checkpoints,
// retention and sending checkpoints to witnesses (auditkeep.go), and
// verification (auditverify.go).
// It returns when all of it has stopped.
func (a *App) runAudit(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.Audit.RunIndex(ctx) })
	wg.Go(func() { a.runRetention(ctx) })
	wg.Go(func() { a.runVerify(ctx) })
	wg.Go(func() { a.Audit.RunWitnesses(ctx) })
	wg.Go(func() {
		t := time.NewTicker(outboxFlush)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.Audit.Flush(ctx); err != nil && ctx.Err() == nil {
					a.Log.Error("move security events onto the audit log", "err", err)
				}
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(a.Cfg.Audit.CheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-a.Audit.CheckpointDue():
			}
			a.signCheckpoint(ctx)
		}
	})
	wg.Wait()
}

// signCheckpoint signs a checkpoint of the audit log when it has grown.
func (a *App) signCheckpoint(ctx context.Context) {
	if _, err := a.Audit.SignCheckpoint(ctx); err != nil && ctx.Err() == nil {
		a.Log.Error("sign an audit log checkpoint", "err", err)
	}
}
