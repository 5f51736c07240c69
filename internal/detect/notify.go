package detect

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

// Alerts reach people by mail and by webhook. When the engine writes an
// alert of at least the configured level, it also writes, in the same
// transaction, a notification per target (an outbox); the notifier sends
// them and retries a target that fails, with a growing wait, for a day.
// So a crash between the alert and its sending loses nothing; a target may
// get a notification twice if anzen stops between sending and recording
// it, which a webhook receiver can tell by the alert id.

// Notify is where alerts are sent.
type Notify struct {
	MinLevel sigma.Level // alerts of this level and above
	Mail     []string    // addresses; needs Mailer
	Mailer   Mailer
	Webhooks []string // URLs that receive the alert as JSON
	// Syslog are SIEMs that receive each alert as an RFC 5424 message:
	// udp://host:port, tcp://host:port (octet counting, RFC 6587) or
	// tls://host:port (RFC 5425).
	Syslog []string
	// SyslogRoots verify the certificates of tls:// SIEMs; nil: the
	// system's roots.
	SyslogRoots *x509.CertPool
	// WebhookSecret, when set, keys the HMAC-SHA256 of each webhook
	// request (header Anzen-Signature, as the audit log's witnesses).
	WebhookSecret []byte
	HTTP          *http.Client // nil: a client with a 30 s timeout
	Catalog       *i18n.Catalog
	PublicURL     string // links in mails
	// Routes by level and tag, and who is on call for critical alerts
	// (notify_routes.go).
	Routes []Route
	OnCall OnCall
}

// Mailer sends mail (platform/mail).
type Mailer interface {
	Send(ctx context.Context, msg mail.Message) error
}

// WithNotify makes the engine write notifications of its alerts.
func WithNotify(n Notify) EngineOption {
	return func(en *Engine) {
		if n.HTTP == nil {
			n.HTTP = &http.Client{Timeout: 30 * time.Second}
		}
		en.notify = &n
	}
}

const targetMail = "mail"

// targets returns the notification targets of an alert of level l.
func (n *Notify) targets(l sigma.Level) []string {
	if n == nil || l < n.MinLevel {
		return nil
	}
	var out []string
	if len(n.Mail) > 0 && n.Mailer != nil {
		out = append(out, targetMail)
	}
	for _, u := range n.Webhooks {
		out = append(out, "webhook:"+u)
	}
	for _, u := range n.Syslog {
		out = append(out, "syslog:"+u)
	}
	return out
}

// enqueue writes the notifications of the alert id in tx.
func (n *Notify) enqueue(ctx context.Context, tx *db.Tx, id int64, l sigma.Level, now time.Time) error {
	for _, t := range n.targets(l) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_notifications (alert_id, target, next_at) VALUES (?, ?, ?)
			ON CONFLICT (alert_id, target) DO NOTHING`, id, t, now.UnixMilli()); err != nil {
			return fmt.Errorf("queue the notification of alert %d: %w", id, err)
		}
	}
	return nil
}

// notifyGiveUp is how long a notification is retried.
const notifyGiveUp = 24 * time.Hour

// notifyBackoff is the wait after the n-th failed attempt: 30 s doubling
// up to 30 minutes.
func notifyBackoff(n int) time.Duration {
	d := 30 * time.Second
	for range min(n-1, 6) {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Deliver sends the notifications that are due and returns how many were
// sent; failures are recorded for a later attempt.
func (en *Engine) Deliver(ctx context.Context) (int, error) {
	n := en.notify
	if n == nil {
		return 0, nil
	}
	now := en.clock.Now()
	rows, err := en.db.QueryContext(ctx, `SELECT alert_id, target, attempts FROM detect_notifications
		WHERE sent = 0 AND next_at <= ? ORDER BY next_at LIMIT 100`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("read due notifications: %w", err)
	}
	type due struct {
		id       int64
		target   string
		attempts int
	}
	var pending []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.target, &d.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		pending = append(pending, d)
	}
	rows.Close()
	sent := 0
	for _, d := range pending {
		a, err := AlertByID(ctx, en.db, AlertQuery{AllFacilities: true}, d.id)
		if err != nil {
			return sent, err
		}
		err = n.send(ctx, en, d.target, a)
		now := en.clock.Now()
		if err == nil {
			_, err = en.db.ExecContext(ctx, `UPDATE detect_notifications SET sent = ?, attempts = ?, last_error = ''
				WHERE alert_id = ? AND target = ?`, now.UnixMilli(), d.attempts+1, d.id, d.target)
			if err != nil {
				return sent, err
			}
			sent++
			continue
		}
		next := now.Add(notifyBackoff(d.attempts + 1))
		state := int64(0)
		if next.Sub(a.Created) > notifyGiveUp {
			state = -1 // given up: shown with its last error
		}
		en.logger.Warn("an alert's notification failed", "alert", d.id, "target", redactTarget(d.target), "err", err)
		if _, err := en.db.ExecContext(ctx, `UPDATE detect_notifications SET attempts = ?, next_at = ?, sent = ?, last_error = ?
			WHERE alert_id = ? AND target = ?`, d.attempts+1, next.UnixMilli(), state, err.Error(), d.id, d.target); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// RunNotify sends notifications until ctx ends, every poll.
func (en *Engine) RunNotify(ctx context.Context, poll time.Duration) {
	if en.notify == nil {
		return
	}
	for {
		if _, err := en.Deliver(ctx); err != nil && ctx.Err() == nil {
			en.logger.Error("send alert notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

func (n *Notify) send(ctx context.Context, en *Engine, target string, a Alert) error {
	if routed, err := n.sendRouted(ctx, en, target, a); routed {
		return err
	}
	if target == targetMail {
		return n.Mailer.Send(ctx, n.message(en, a))
	}
	if addr, ok := strings.CutPrefix(target, "syslog:"); ok {
		return sendSyslog(ctx, addr, n.SyslogRoots, a)
	}
	u, ok := strings.CutPrefix(target, "webhook:")
	if !ok {
		return fmt.Errorf("unknown notification target %q", target)
	}
	body, err := json.Marshal(alertJSON(a, n.Catalog))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %v", redactTarget(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "anzen-alert/1")
	if len(n.WebhookSecret) > 0 {
		req.Header.Set(audit.HeaderSignature, audit.WitnessSignature(n.WebhookSecret, en.clock.Now(), body))
	}
	resp, err := n.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose query may hold a secret
		}
		return fmt.Errorf("webhook: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// message is the mail of an alert, in Japanese and then English.
func (n *Notify) message(en *Engine, a Alert) mail.Message {
	link := strings.TrimRight(n.PublicURL, "/") + "/alerts/" + strconv.FormatInt(a.ID, 10)
	var b strings.Builder
	for i, lang := range []string{"ja", "en"} {
		if i > 0 {
			b.WriteString("\n----\n\n")
		}
		t := func(id string, data map[string]any) string { return n.Catalog.T(lang, id, data) }
		b.WriteString(t("detect.mail.intro", map[string]any{"Level": t("detect.level."+a.Level.String(), nil),
			"Title": alertTitle(a, n.Catalog, lang)}) + "\n\n")
		if d := en.describe(a.RuleID, lang); d != "" {
			b.WriteString(d + "\n\n")
		}
		if x := a.Explanation.Render(n.Catalog, lang); x != "" {
			b.WriteString(x + "\n\n")
		}
		for _, g := range a.Group {
			fmt.Fprintf(&b, "%s: %s\n", g.Field, g.Value)
		}
		b.WriteString(t("detect.mail.facts", map[string]any{"N": a.Total, "First": a.FirstTime.Format(time.RFC3339),
			"Last": a.LastTime.Format(time.RFC3339)}) + "\n")
		b.WriteString(t("detect.mail.link", map[string]any{"URL": link}) + "\n")
	}
	return mail.Message{To: n.Mail, Text: b.String(),
		Subject: fmt.Sprintf("[anzen] %s: %s (%s)", n.Catalog.T("ja", "detect.mail.subject",
			map[string]any{"Level": n.Catalog.T("ja", "detect.level."+a.Level.String(), nil)}), alertTitle(a, n.Catalog, "ja"), a.Level)}
}

// redactTarget hides the query of a webhook URL, which may hold a secret.
func redactTarget(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}

// Delivery is the state of one notification of an alert.
type Delivery struct {
	Target    string // "mail", "webhook:<URL>" (its query hidden) or "syslog:<address>"
	Attempts  int
	Sent      time.Time // zero while not sent
	GivenUp   bool      // retried for a day without success
	NextAt    time.Time // the next attempt, while neither sent nor given up
	LastError string
}

// Deliveries returns the notifications of an alert.
func Deliveries(ctx context.Context, d db.Querier, alertID int64) ([]Delivery, error) {
	rows, err := d.QueryContext(ctx, `SELECT target, attempts, sent, next_at, last_error FROM detect_notifications
		WHERE alert_id = ? ORDER BY target`, alertID)
	if err != nil {
		return nil, fmt.Errorf("read the notifications of alert %d: %w", alertID, err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var dl Delivery
		var sent, next int64
		if err := rows.Scan(&dl.Target, &dl.Attempts, &sent, &next, &dl.LastError); err != nil {
			return nil, fmt.Errorf("read the notifications of alert %d: %w", alertID, err)
		}
		dl.Target = redactTarget(dl.Target)
		switch {
		case sent > 0:
			dl.Sent = time.UnixMilli(sent).UTC()
		case sent < 0:
			dl.GivenUp = true
		default:
			dl.NextAt = time.UnixMilli(next).UTC()
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}
