package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Witnesses: the latest signed checkpoint goes, now and then, to people
// and systems outside anzen (an inspector's mailbox, a partner hospital's
// server). Someone who controls anzen's whole database could rewrite the
// log and sign new checkpoints over it, but not change the copies those
// witnesses keep: the next checkpoint they receive is then not consistent
// with the one they hold.
//
// Each target is a webhook URL or a mail address. A delivery is one
// checkpoint to one target, recorded in audit_witness_deliveries with its
// attempts and last error; a failed attempt is tried again after 1, 2, 4
// ... minutes (at most an hour apart) until maxWitnessAttempts, then the
// delivery is given up, recorded in the log, and the dashboard warns.
// A target gets a new checkpoint when the log has grown and its interval
// has passed since its last delivery.

// Delivery states.
const (
	WitnessPending = "pending"
	WitnessSent    = "sent"
	WitnessFailed  = "failed" // given up after maxWitnessAttempts
)

// ActionWitnessFailed is recorded when a delivery to a witness is given up.
const ActionWitnessFailed = "audit.witness.failed"

const (
	maxWitnessAttempts = 8
	witnessBackoffMax  = time.Hour
	// witnessTick is how often the witness job looks for work.
	witnessTick = time.Minute
	// Webhook headers.
	HeaderOrigin    = "Anzen-Log-Origin"
	HeaderSize      = "Anzen-Checkpoint-Size"
	HeaderSignature = "Anzen-Signature"
)

// Mailer sends mail (platform/mail.Mailer).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// WitnessConfig says where checkpoints go and how.
type WitnessConfig struct {
	Webhooks []string
	// WebhookSecret, when set, keys the HMAC-SHA256 sent with each
	// webhook request (header Anzen-Signature).
	WebhookSecret   []byte
	WebhookInterval time.Duration
	Mail            []string
	MailInterval    time.Duration
	Mailer          Mailer
	// Catalog holds the mail's text (locales/keep.*.toml).
	Catalog *i18n.Catalog
	// PublicURL is anzen's address, named in the mail.
	PublicURL string
	// HTTP sends the webhook requests; nil: a client with a 30-second
	// timeout that follows no redirect.
	HTTP *http.Client
}

// SetWitnesses sets where the log's checkpoints are sent. Call it before
// RunWitnesses.
func (l *Log) SetWitnesses(cfg WitnessConfig) {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	l.keep.witness = &cfg
}

// witnessTarget is one configured witness.
type witnessTarget struct {
	name     string // as recorded: "webhook:" + URL without query, or "mail:" + address
	url      string // the webhook's full URL
	address  string // the mail address
	interval time.Duration
}

// WitnessTargets lists the recorded names of the configured witnesses.
func (l *Log) WitnessTargets() []string {
	var out []string
	for _, t := range l.witnessTargets() {
		out = append(out, t.name)
	}
	return out
}

func (l *Log) witnessTargets() []witnessTarget {
	w := l.keep.witness
	if w == nil {
		return nil
	}
	var out []witnessTarget
	for _, u := range w.Webhooks {
		out = append(out, witnessTarget{name: "webhook:" + redactURL(u), url: u, interval: w.WebhookInterval})
	}
	if w.Mailer != nil {
		for _, a := range w.Mail {
			out = append(out, witnessTarget{name: "mail:" + a, address: a, interval: w.MailInterval})
		}
	}
	return out
}

// redactURL drops the user, password and query of a URL, which may carry
// secrets.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	u.User, u.Fragment = nil, ""
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// WitnessDelivery is one checkpoint sent (or being sent) to one witness.
type WitnessDelivery struct {
	ID        int64     `json:"id"`
	Size      int64     `json:"size"` // the checkpoint's tree size
	Target    string    `json:"target"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated"`
}

const deliveryCols = `id, size, target, status, attempts, last_error, updated`

func scanDeliveries(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]WitnessDelivery, error) {
	var out []WitnessDelivery
	for rows.Next() {
		var d WitnessDelivery
		var at int64
		if err := rows.Scan(&d.ID, &d.Size, &d.Target, &d.Status, &d.Attempts, &d.LastError, &at); err != nil {
			return nil, fmt.Errorf("read witness deliveries: %w", err)
		}
		d.Updated = db.Time(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// WitnessDeliveries returns the newest deliveries, newest first, at most
// limit.
func (l *Log) WitnessDeliveries(ctx context.Context, limit int) ([]WitnessDelivery, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM audit_witness_deliveries ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read witness deliveries: %w", err)
	}
	defer rows.Close()
	return scanDeliveries(rows)
}

// lastDelivery returns the newest delivery to target, or nil.
func (l *Log) lastDelivery(ctx context.Context, target string) (*WitnessDelivery, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM audit_witness_deliveries WHERE target = ? ORDER BY id DESC LIMIT 1`, target)
	if err != nil {
		return nil, fmt.Errorf("read witness deliveries: %w", err)
	}
	defer rows.Close()
	ds, err := scanDeliveries(rows)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return &ds[0], nil
}

// witnessBackoff is how long after attempt n (from 1) the next one is.
func witnessBackoff(n int) time.Duration {
	if n >= 7 {
		return witnessBackoffMax
	}
	return min(time.Minute<<(n-1), witnessBackoffMax)
}

// RunWitnesses sends checkpoints to the witnesses until ctx ends.
func (l *Log) RunWitnesses(ctx context.Context) {
	if len(l.witnessTargets()) == 0 {
		return
	}
	t := time.NewTicker(witnessTick)
	defer t.Stop()
	for {
		if err := l.SendWitnesses(ctx, false); err != nil && ctx.Err() == nil {
			l.log.Error("send checkpoints to witnesses", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendWitnesses does what is due: a new delivery of the latest checkpoint
// to each witness whose interval has passed since its last one (to every
// witness at once when now is true), and another attempt of each delivery
// whose backoff has passed. Failures are recorded in the deliveries, not
// returned; the error says only that the database did not answer.
func (l *Log) SendWitnesses(ctx context.Context, now bool) error {
	cp, err := l.LatestCheckpoint(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	at := l.clock.Now()
	for _, t := range l.witnessTargets() {
		last, err := l.lastDelivery(ctx, t.name)
		if err != nil {
			return err
		}
		switch {
		case last != nil && last.Status == WitnessPending:
			if !at.Before(last.Updated.Add(witnessBackoff(last.Attempts))) {
				if err := l.attemptDelivery(ctx, t, last); err != nil {
					return err
				}
			}
		case last == nil || last.Size < cp.Size && (now || !at.Before(last.Updated.Add(t.interval))):
			d, err := l.newDelivery(ctx, t.name, cp.Size, at)
			if err != nil {
				return err
			}
			if err := l.attemptDelivery(ctx, t, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Log) newDelivery(ctx context.Context, target string, size int64, at time.Time) (*WitnessDelivery, error) {
	var id int64
	err := l.db.QueryRowContext(ctx, `INSERT INTO audit_witness_deliveries (size, target, status, attempts, last_error, updated)
		VALUES (?, ?, ?, 0, '', ?) RETURNING id`, size, target, WitnessPending, at.UnixMilli()).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("record a witness delivery: %w", err)
	}
	return &WitnessDelivery{ID: id, Size: size, Target: target, Status: WitnessPending, Updated: at}, nil
}

// attemptDelivery makes one attempt of d and records how it went. Another
// process that attempts the same delivery at the same moment loses the
// claim and leaves it.
func (l *Log) attemptDelivery(ctx context.Context, t witnessTarget, d *WitnessDelivery) error {
	at := l.clock.Now()
	r, err := l.db.ExecContext(ctx, `UPDATE audit_witness_deliveries SET attempts = attempts + 1, updated = ?
		WHERE id = ? AND attempts = ? AND status = ?`, at.UnixMilli(), d.ID, d.Attempts, WitnessPending)
	if err != nil {
		return fmt.Errorf("claim a witness delivery: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return err
	}
	d.Attempts++
	cps, err := l.checkpoints(ctx, `WHERE size = ?`, d.Size)
	if err != nil {
		return err
	}
	var sendErr error
	if len(cps) == 0 {
		sendErr = fmt.Errorf("the checkpoint at %d events is no longer stored", d.Size)
	} else {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		if t.url != "" {
			sendErr = l.postWitness(sctx, t.url, cps[0])
		} else {
			sendErr = l.mailWitness(sctx, t.address, cps[0])
		}
		cancel()
	}
	status, msg := WitnessSent, ""
	if sendErr != nil {
		status, msg = WitnessPending, Clean(sendErr.Error())
		if d.Attempts >= maxWitnessAttempts {
			status = WitnessFailed
		}
		l.log.Warn("checkpoint not delivered to a witness", "target", t.name, "size", d.Size, "attempt", d.Attempts,
			"err", msg)
	}
	return l.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE audit_witness_deliveries SET status = ?, last_error = ?, updated = ? WHERE id = ?`,
			status, msg, l.clock.Now().UnixMilli(), d.ID); err != nil {
			return fmt.Errorf("record a witness delivery: %w", err)
		}
		if status != WitnessFailed {
			return nil
		}
		return l.Record(ctx, tx, selfaudit.Event{ActorLogin: "system", Action: ActionWitnessFailed, Target: t.name,
			Outcome: selfaudit.Failure, Detail: map[string]string{"size": strconv.FormatInt(d.Size, 10),
				"attempts": strconv.Itoa(d.Attempts), "error": msg}})
	})
}

// postWitness POSTs the signed note to a webhook.
func (l *Log) postWitness(ctx context.Context, target string, cp *Checkpoint) error {
	w := l.keep.witness
	body := []byte(cp.Note)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %v", redactURL(err.Error()))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set(HeaderOrigin, cp.Origin)
	req.Header.Set(HeaderSize, strconv.FormatInt(cp.Size, 10))
	req.Header.Set("User-Agent", "anzen-audit-witness/1")
	if len(w.WebhookSecret) > 0 {
		req.Header.Set(HeaderSignature, WitnessSignature(w.WebhookSecret, l.clock.Now(), body))
	}
	resp, err := w.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the error without the URL, whose query may be a secret
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

// WitnessSignature is the value of the Anzen-Signature header of a webhook
// request sent at t with body: "t=<Unix seconds>,v1=<hex HMAC-SHA256 of
// "<Unix seconds>." followed by the body, keyed with secret>". A receiver
// recomputes it, compares in constant time, and refuses a t far from its
// own clock.
func WitnessSignature(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// CheckWitnessSignature checks a header made by WitnessSignature, and
// that its time is within skew of now; receivers written in Go may use it.
func CheckWitnessSignature(secret []byte, header string, body []byte, now time.Time, skew time.Duration) error {
	var ts, sig string
	for _, p := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return fmt.Errorf("the signature's time is %s away from now", d.Round(time.Second))
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("malformed signature header")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), got) {
		return errors.New("the signature does not match")
	}
	return nil
}
