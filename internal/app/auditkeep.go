package app

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

// The audit log's keeping: retention (events past audit.retention_years
// archived daily into signed segment files in audit.archive_dir) and
// witnesses (the latest checkpoint sent to audit.witness.* through
// webhooks and mail).

// Retention runs this long after start, then once a day.
const (
	retentionFirst = 10 * time.Minute
	retentionEvery = 24 * time.Hour
)

// setupWitnesses makes the mailer and gives the log its witnesses.
func (a *App) setupWitnesses(getenv func(string) string) error {
	m, err := mail.New(a.Cfg.Mail, getenv)
	if err != nil {
		return err
	}
	a.Mail = m
	w := a.Cfg.Audit.Witness
	cfg := audit.WitnessConfig{Webhooks: w.Webhooks, WebhookInterval: w.WebhookInterval, Mail: w.Mail,
		MailInterval: w.MailInterval, Catalog: a.Catalog, PublicURL: a.Cfg.BaseURL()}
	if m.Enabled() {
		cfg.Mailer = m
	}
	if w.WebhookSecretFile != "" {
		secret, err := readSecretFile(w.WebhookSecretFile)
		if err != nil {
			return fmt.Errorf("audit.witness.webhook_secret_file: %w", err)
		}
		if cfg.WebhookSecret = []byte(secret); len(cfg.WebhookSecret) < 16 {
			return fmt.Errorf("audit.witness.webhook_secret_file: the secret in %s is shorter than 16 characters", w.WebhookSecretFile)
		}
	}
	a.Audit.SetWitnesses(cfg)
	return nil
}

// runRetention archives the events past retention a while after start and
// then daily, until ctx ends.
func (a *App) runRetention(ctx context.Context) {
	t := time.NewTimer(retentionFirst)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.ArchiveAudit(ctx, audit.ArchiveOptions{Via: "job"})
		t.Reset(retentionEvery)
	}
}

// ArchiveAudit runs retention once and logs what it did.
func (a *App) ArchiveAudit(ctx context.Context, opt audit.ArchiveOptions) (*audit.ArchiveResult, error) {
	res, err := a.Audit.Archive(ctx, opt)
	switch {
	case err != nil && ctx.Err() == nil:
		a.Log.Error("archive audit events past retention", "err", err)
	case err == nil && res.Waiting != "":
		a.Log.Warn("audit events past retention wait to be archived", "reason", res.Waiting)
	case err == nil && len(res.Segments) > 0:
		a.Log.Info("archived audit events past retention", "events", res.Events, "dir", res.Dir)
	}
	return res, err
}
