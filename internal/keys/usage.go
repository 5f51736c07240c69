package keys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// usage counts key operations in memory, per minute, caller, key, version,
// operation, context keys and outcome, so that auditing every use does not
// cap throughput: FlushUsage writes each group once a minute to the usage
// table (for the chart) and to the audit log (with its count). Plaintext,
// key material and context values are never part of it.
type usage struct {
	mu     sync.Mutex
	counts map[usageGroup]int64
	names  map[int64]string
	now    func() time.Time
}

type usageGroup struct {
	minute  int64 // Unix milliseconds of the minute's start
	keyID   int64
	version int
	op      Operation
	caller  string
	client  string
	ctxKeys string
	outcome string
}

func newUsage() *usage {
	return &usage{counts: map[usageGroup]int64{}, names: map[int64]string{}, now: time.Now}
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, ErrDenied):
		return "denied"
	case errors.Is(err, ErrContext):
		return "context_mismatch"
	case errors.Is(err, ErrVersion):
		return "bad_version"
	case errors.Is(err, ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, ErrOperation):
		return "unsupported"
	}
	return "error"
}

func (u *usage) add(c Caller, k *Key, version int, op Operation, ec Context, err error) {
	g := usageGroup{minute: u.now().Truncate(time.Minute).UnixMilli(), keyID: k.ID, version: version, op: op,
		caller: c.Name(), client: c.Client, ctxKeys: strings.Join(ec.Keys(), ","), outcome: outcomeOf(err)}
	u.mu.Lock()
	u.counts[g]++
	u.names[k.ID] = k.Name
	u.mu.Unlock()
}

// FlushUsage writes the counted uses of minutes that have ended (all of
// them when all is true, as at shutdown) to the usage table and the audit
// log, in one transaction.
func (s *Service) FlushUsage(ctx context.Context, all bool) error {
	u := s.usage
	current := u.now().Truncate(time.Minute).UnixMilli()
	u.mu.Lock()
	batch := map[usageGroup]int64{}
	names := map[int64]string{}
	for g, n := range u.counts {
		if all || g.minute < current {
			batch[g] = n
			names[g.keyID] = u.names[g.keyID]
			delete(u.counts, g)
		}
	}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	groups := make([]usageGroup, 0, len(batch))
	for g := range batch {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		a, b := groups[i], groups[j]
		if a.minute != b.minute {
			return a.minute < b.minute
		}
		if a.keyID != b.keyID {
			return a.keyID < b.keyID
		}
		return fmt.Sprint(a) < fmt.Sprint(b)
	})
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, g := range groups {
			n := batch[g]
			if _, err := tx.ExecContext(ctx, `INSERT INTO keys_usage (minute, key_id, version, op, caller, outcome, count)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (minute, key_id, version, op, caller, outcome)
				DO UPDATE SET count = keys_usage.count + excluded.count`,
				g.minute, g.keyID, g.version, string(g.op), g.caller, g.outcome, n); err != nil {
				return fmt.Errorf("store key usage: %w", err)
			}
			outcome := selfaudit.Success
			if g.outcome != "success" {
				outcome = selfaudit.Failure
			}
			ev := selfaudit.Event{Time: db.Time(g.minute), ActorLogin: g.caller, Action: "key.use",
				Target: "key:" + names[g.keyID], Outcome: outcome, ClientAddr: g.client,
				Detail: map[string]string{"operation": string(g.op), "version": strconv.Itoa(g.version),
					"count": strconv.FormatInt(n, 10), "context_keys": g.ctxKeys, "result": g.outcome,
					"minute": db.Time(g.minute).Format(time.RFC3339)}}
			if err := s.audit.Record(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Keep the counts for the next flush rather than lose them.
		u.mu.Lock()
		for g, n := range batch {
			u.counts[g] += n
		}
		u.mu.Unlock()
	}
	return err
}

// UsagePoint is the number of uses of a key in one minute.
type UsagePoint struct {
	Minute  time.Time `json:"minute"`
	Op      Operation `json:"operation"`
	Outcome string    `json:"outcome"`
	Count   int64     `json:"count"`
}

// Usage returns the recorded uses of a key since a time, by minute.
func (s *Service) Usage(ctx context.Context, name string, since time.Time) ([]UsagePoint, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT minute, op, outcome, SUM(count) FROM keys_usage
		WHERE key_id = ? AND minute >= ? GROUP BY minute, op, outcome ORDER BY minute, op, outcome`,
		ck.key.ID, db.Millis(since))
	if err != nil {
		return nil, fmt.Errorf("read key usage: %w", err)
	}
	defer rows.Close()
	var out []UsagePoint
	for rows.Next() {
		var p UsagePoint
		var minute int64
		if err := rows.Scan(&minute, &p.Op, &p.Outcome, &p.Count); err != nil {
			return nil, err
		}
		p.Minute = db.Time(minute)
		out = append(out, p)
	}
	return out, rows.Err()
}
