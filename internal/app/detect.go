package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// The detection engine runs the built-in rule pack and the hospital's
// rules (detect.rules) over the audit log as it grows (internal/detect),
// enriching events with the hospital's reference tables (/detect/tables);
// its alerts are on /alerts, in the API and on the dashboard.

// detectPoll is how often the engine looks for events other instances
// appended; this instance's own appends wake it at once.
const detectPoll = 2 * time.Second

// setupDetect loads the built-in rules and the hospital's (detect.rules)
// and makes the engine. A hospital's file that cannot be run is left out
// and named in the log: a mistake in one rule must not stop anzen, nor
// the other rules; `anzen detect check` finds it before.
func (a *App) setupDetect() error {
	files, err := detect.LoadRuleFiles(append(detect.BuiltinPacks(), a.Cfg.Detect.Rules...))
	if err != nil {
		return fmt.Errorf("detection rules (detect.rules): %w", err)
	}
	for _, f := range files {
		if !f.Loaded() {
			a.Log.Error("a detection rule file cannot be run and is left out", "file", f.Path, "reason", f.Err.Error())
		}
	}
	loaded, rejected := files.Counts()
	a.Log.Info("detection rules loaded", "files", loaded, "rejected", rejected, "rules", len(files.Rules()),
		"correlations", len(files.Correlations()))
	notify, err := a.detectNotify()
	if err != nil {
		return err
	}
	a.Tables = detect.NewTables(a.DB, a.Cfg.Location())
	a.Detect, err = detect.NewEngine(a.DB, a.Audit, files, a.Clock, a.Log.With("part", "detect"), detect.WithNotify(notify),
		detect.WithTables(a.Tables))
	if err != nil {
		return fmt.Errorf("detection rules: %w", err)
	}
	return a.setupBaselines(notify)
}

// setupBaselines makes the behaviour baselines, a second reader of the
// audit log beside the engine (detect.baseline.*). Their alerts are
// notified like the rules' (the engine sends both). The patients'
// departments come from the hospital's reference tables (patient
// attributes), as the engine last read them; without them the
// outside-department metric is not computed.
func (a *App) setupBaselines(notify detect.Notify) error {
	c := a.Cfg.Detect
	if !c.BaselineEnabled {
		return nil
	}
	var err error
	a.Baselines, err = detect.NewBaselines(a.DB, a.Audit, detect.BaselineConfig{WarmupDays: c.BaselineWarmupDays,
		HistoryDays: c.BaselineHistoryDays, Sensitivity: c.BaselineSensitivity}, a.Clock, a.Log.With("part", "detect-baseline"),
		detect.WithBaselineNotify(notify), detect.WithPatientDepartments(a.Tables))
	if err != nil {
		return fmt.Errorf("detect.baseline: %w", err)
	}
	return nil
}

// detectNotify is where alerts are sent (detect.notify.*).
func (a *App) detectNotify() (detect.Notify, error) {
	c := a.Cfg.Detect
	level, err := sigma.ParseLevel(c.NotifyMinLevel)
	if err != nil {
		return detect.Notify{}, fmt.Errorf("detect.notify.min_level: %w", err)
	}
	n := detect.Notify{MinLevel: level, Mail: c.NotifyMail, Webhooks: c.NotifyWebhooks, Syslog: c.NotifySyslog,
		Catalog: a.Catalog, PublicURL: a.Cfg.BaseURL()}
	if a.Mail.Enabled() {
		n.Mailer = a.Mail
	}
	if c.NotifySyslogCAFile != "" {
		pem, err := os.ReadFile(c.NotifySyslogCAFile)
		if err != nil {
			return n, fmt.Errorf("detect.notify.syslog_ca_file: %w", err)
		}
		if n.SyslogRoots = x509.NewCertPool(); !n.SyslogRoots.AppendCertsFromPEM(pem) {
			return n, fmt.Errorf("detect.notify.syslog_ca_file: %s holds no PEM certificate", c.NotifySyslogCAFile)
		}
	}
	if n.Routes, err = detectRoutes(c); err != nil {
		return n, err
	}
	// Whoever is on call by the incident part's roster, else detect.notify.oncall (incident_org.go).
	n.OnCall = a.incidentOnCall(c.NotifyOnCall)
	if c.NotifyWebhookSecretFile != "" {
		secret, err := readSecretFile(c.NotifyWebhookSecretFile)
		if err != nil {
			return n, fmt.Errorf("detect.notify.webhook_secret_file: %w", err)
		}
		if n.WebhookSecret = []byte(secret); len(n.WebhookSecret) < 16 {
			return n, fmt.Errorf("detect.notify.webhook_secret_file: the secret in %s is shorter than 16 characters", c.NotifyWebhookSecretFile)
		}
	}
	return n, nil
}

// notifyPoll is how often due alert notifications are sent.
const notifyPoll = 5 * time.Second

// runDetect analyses the audit log and sends notifications until ctx
// ends.
func (a *App) runDetect(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.Detect.RunNotify(ctx, notifyPoll) })
	if a.Baselines != nil {
		wg.Go(func() { a.Baselines.Run(ctx, detectPoll) })
	}
	a.Detect.Run(ctx, detectPoll)
	wg.Wait()
}

// detectRoutes are the routes of detect.notify.routes.
func detectRoutes(c config.DetectConfig) ([]detect.Route, error) {
	routes, err := c.NotifyRoutes()
	if err != nil {
		return nil, err
	}
	out := make([]detect.Route, 0, len(routes))
	for _, r := range routes {
		level, err := sigma.ParseLevel(r.MinLevel)
		if err != nil {
			return nil, fmt.Errorf("detect.notify.routes: %w", err)
		}
		out = append(out, detect.Route{MinLevel: level, Tags: r.Tags, Mail: r.Mail, Webhooks: r.Webhooks})
	}
	return out, nil
}
