package incident

import (
	"context"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Observables: the addresses, names, hashes and accounts an incident
// involves, each checked against its kind and written in one form (lower
// case hashes and domains, an address as netip writes it), so that the
// incident's page can show the other incidents that share one, as
// TheHive does. An observable marked IOC is an indicator of compromise to
// look for elsewhere.

// ObservableKinds lists the kinds of observable.
var ObservableKinds = []string{"ip", "domain", "url", "sha256", "sha1", "md5", "email", "account", "host", "file", "other"}

// maxObservable is the longest value, in bytes.
const maxObservable = 2048

var (
	hexRE    = regexp.MustCompile(`^[0-9a-f]+$`)
	domainRE = regexp.MustCompile(`^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$`)
	hostRE   = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_.-]{0,252})?$`)
)

// NormaliseObservable checks value against kind and returns it in the
// form it is kept in.
func NormaliseObservable(kind, value string) (string, error) {
	v := strings.TrimSpace(value)
	bad := invalid("value", "incident.error.observable."+kind)
	if !slices.Contains(ObservableKinds, kind) {
		return "", invalid("kind", "incident.error.observable_kind")
	}
	if v == "" || len(v) > maxObservable || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") {
		return "", bad
	}
	switch kind {
	case "ip":
		a, err := netip.ParseAddr(v)
		if err != nil {
			p, perr := netip.ParsePrefix(v)
			if perr != nil {
				return "", bad
			}
			return p.Masked().String(), nil
		}
		return a.String(), nil
	case "sha256", "sha1", "md5":
		v = strings.ToLower(v)
		want := map[string]int{"sha256": 64, "sha1": 40, "md5": 32}[kind]
		if len(v) != want || !hexRE.MatchString(v) {
			return "", bad
		}
		return v, nil
	case "domain":
		v = strings.TrimSuffix(strings.ToLower(v), ".")
		if len(v) > 253 || !domainRE.MatchString(v) {
			return "", bad
		}
		return v, nil
	case "host":
		v = strings.ToLower(v)
		if _, err := netip.ParseAddr(v); err == nil {
			return v, nil
		}
		if !hostRE.MatchString(v) {
			return "", bad
		}
		return v, nil
	case "url":
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") ||
			strings.ContainsAny(v, " \t") {
			return "", bad
		}
		return v, nil
	case "email":
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != "" || a.Address != v || !strings.Contains(v, "@") {
			return "", bad
		}
		at := strings.LastIndexByte(v, '@')
		return v[:at] + strings.ToLower(v[at:]), nil
	case "account":
		if strings.ContainsAny(v, " \t") {
			return "", bad
		}
	}
	return v, nil
}

// GuessObservable guesses the kind of a pasted value: an address, a hash
// by its length, a URL, an e-mail address, a domain; else other.
func GuessObservable(value string) string {
	v := strings.TrimSpace(value)
	lower := strings.ToLower(v)
	switch {
	case v == "":
		return "other"
	case hexRE.MatchString(lower) && len(v) == 64:
		return "sha256"
	case hexRE.MatchString(lower) && len(v) == 40:
		return "sha1"
	case hexRE.MatchString(lower) && len(v) == 32:
		return "md5"
	case strings.Contains(v, "://"):
		if _, err := NormaliseObservable("url", v); err == nil {
			return "url"
		}
	case strings.Contains(v, "@"):
		if _, err := NormaliseObservable("email", v); err == nil {
			return "email"
		}
	}
	if _, err := NormaliseObservable("ip", v); err == nil {
		return "ip"
	}
	if strings.Contains(v, ".") {
		if _, err := NormaliseObservable("domain", v); err == nil {
			return "domain"
		}
	}
	return "other"
}

// Observable is one observable of an incident.
type Observable struct {
	ID        int64
	Incident  int64
	Kind      string
	Value     string
	Note      string
	IOC       bool
	Created   time.Time
	CreatedBy string
}

// NewObservable is an observable a handler adds; Kind "" guesses it.
type NewObservable struct {
	Kind  string `json:"kind,omitempty"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
	IOC   bool   `json:"ioc,omitempty"`
}

// Observables returns the observables of incident id.
func Observables(ctx context.Context, q db.Querier, id int64) ([]Observable, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, incident_id, kind, value, note, ioc, created, created_by
		FROM incident_observables WHERE incident_id = ? ORDER BY kind, value`, id)
	if err != nil {
		return nil, fmt.Errorf("read the observables of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []Observable
	for rows.Next() {
		var (
			o       Observable
			ioc     int
			created int64
		)
		if err := rows.Scan(&o.ID, &o.Incident, &o.Kind, &o.Value, &o.Note, &ioc, &created, &o.CreatedBy); err != nil {
			return nil, err
		}
		o.IOC, o.Created = ioc != 0, db.Time(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// AddObservables adds observables to the incident id in scope: all or
// none. One already there is left as it is (not an error). Err names the
// first bad one by its index.
func AddObservables(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, list []NewObservable, now time.Time) (added []Observable, err error) {
	if len(list) == 0 || len(list) > 1000 {
		return nil, invalid("value", "incident.error.observable_count")
	}
	for n := range list {
		o := &list[n]
		if o.Kind == "" {
			o.Kind = GuessObservable(o.Value)
		}
		if o.Value, err = NormaliseObservable(o.Kind, o.Value); err != nil {
			return nil, err
		}
		if err := text(&o.Note, "note", maxShort, false); err != nil {
			return nil, err
		}
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		for _, o := range list {
			var oid int64
			err := tx.QueryRowContext(ctx, `INSERT INTO incident_observables (incident_id, kind, value, note, ioc, created, created_by)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, kind, value) DO NOTHING RETURNING id`,
				id, o.Kind, o.Value, o.Note, boolInt(o.IOC), now.UnixMilli(), by.Login).Scan(&oid)
			if db.NotFound(err) == db.ErrNotFound {
				continue // there already
			} else if err != nil {
				return fmt.Errorf("write an observable: %w", err)
			}
			added = append(added, Observable{ID: oid, Incident: id, Kind: o.Kind, Value: o.Value, Note: o.Note, IOC: o.IOC,
				Created: now, CreatedBy: by.Login})
			if err := autoEntry(ctx, tx, id, by, "observable.add", "", map[string]any{"observable": oid, "kind": o.Kind,
				"value": o.Value, "ioc": o.IOC}, now); err != nil {
				return err
			}
		}
		if len(added) == 0 {
			return nil
		}
		return record(ctx, tx, rec, i, by, "incident.observable.add", map[string]string{"ref": i.Ref(),
			"count": strconv.Itoa(len(added))}, now)
	})
	return added, err
}

// DeleteObservable removes an observable entered by mistake.
func DeleteObservable(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id, obsID int64, by Actor, now time.Time) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		var kind, value string
		if err := tx.QueryRowContext(ctx, `DELETE FROM incident_observables WHERE id = ? AND incident_id = ? RETURNING kind, value`,
			obsID, id).Scan(&kind, &value); err != nil {
			return db.NotFound(err)
		}
		if err := autoEntry(ctx, tx, id, by, "observable.delete", "", map[string]any{"observable": obsID, "kind": kind,
			"value": value}, now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.observable.delete", map[string]string{"ref": i.Ref(),
			"observable": strconv.FormatInt(obsID, 10)}, now)
	})
}

// Shared is another incident that has an observable of this one.
type Shared struct {
	Incident int64
	Ref      string
	Title    string
	State    State
	Kind     string
	Value    string
}

// SharedObservables returns the other incidents in scope that have one
// of the observables of incident id.
func SharedObservables(ctx context.Context, q db.Querier, s Scope, id int64) ([]Shared, error) {
	cond, args, none := s.where("i.facility")
	if none {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT i.id, i.created, i.title, i.state, o.kind, o.value
		FROM incident_observables mine
		JOIN incident_observables o ON o.kind = mine.kind AND o.value = mine.value AND o.incident_id <> mine.incident_id
		JOIN incident_incidents i ON i.id = o.incident_id
		WHERE mine.incident_id = ? AND `+cond+` ORDER BY i.id DESC, o.kind, o.value LIMIT 200`, append([]any{id}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read shared observables: %w", err)
	}
	defer rows.Close()
	var out []Shared
	for rows.Next() {
		var (
			sh      Shared
			created int64
			state   string
		)
		if err := rows.Scan(&sh.Incident, &created, &sh.Title, &state, &sh.Kind, &sh.Value); err != nil {
			return nil, err
		}
		sh.Ref, sh.State = Ref(sh.Incident, db.Time(created)), State(state)
		out = append(out, sh)
	}
	return out, rows.Err()
}
