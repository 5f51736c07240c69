package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

var (
	parts = []db.Migrations{audit.Migrations()}
	t0    = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) // 09:00 in Tokyo
)

// all is a filter that selects every event.
var all = audit.Filter{AllFacilities: true, Limit: audit.MaxLimit}

// record stores events or fails the test.
func record(t *testing.T, l *audit.Log, events ...selfaudit.Event) {
	t.Helper()
	for _, e := range events {
		if err := l.Record(context.Background(), nil, e); err != nil {
			t.Fatalf("record %+v: %v", e, err)
		}
	}
}

// search runs f or fails the test.
func search(t *testing.T, l *audit.Log, f audit.Filter) ([]audit.Entry, int64) {
	t.Helper()
	got, next, err := l.Search(context.Background(), f)
	if err != nil {
		t.Fatalf("search %+v: %v", f, err)
	}
	return got, next
}

func targets(es []audit.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Target
	}
	return out
}

func TestRecord_RolledBackTransactionLeavesNothing(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(t0))
		errChange := errors.New("the change failed")
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if err := l.Record(ctx, tx, selfaudit.Event{Action: "user.create", Target: "user:rolled-back",
				Outcome: selfaudit.Success}); err != nil {
				return err
			}
			return errChange
		})
		if !errors.Is(err, errChange) {
			t.Fatalf("InTx: %v", err)
		}
		err = d.InTx(ctx, func(tx *db.Tx) error {
			return l.Record(ctx, tx, selfaudit.Event{Action: "user.create", Target: "user:kept",
				Outcome: selfaudit.Success})
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := search(t, l, all)
		if want := []string{"user:kept"}; !slices.Equal(targets(got), want) {
			t.Fatalf("targets = %q, want %q", targets(got), want)
		}
	})
}

func TestRecord_StoresEventAsGiven(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		clk := clock.NewFrozen(t0)
		l := audit.New(d, clk)
		at := t0.Add(-time.Hour).Add(123 * time.Millisecond)
		record(t, l,
			selfaudit.Event{Time: at, Facility: 3, ActorID: 7, ActorLogin: "ciso01", Action: "role.grant",
				Target: "user:nurse01", Outcome: selfaudit.Success, ClientAddr: "192.0.2.10",
				Detail: map[string]string{"role": "csirt", "facility": "3"}},
			selfaudit.Event{ActorLogin: "guest", Action: "login.failure", Outcome: selfaudit.Failure},
		)
		got, _ := search(t, l, all)
		if len(got) != 2 {
			t.Fatalf("got %d events, want 2", len(got))
		}
		if e := got[0]; !e.Time.Equal(t0) || e.Facility != 0 || len(e.Detail) != 0 || e.Detail == nil {
			t.Errorf("event without time or detail = %+v; want the clock's time %v, facility 0, empty detail", e, t0)
		}
		e := got[1]
		if !e.Time.Equal(at) || e.Time.Location() != time.UTC || e.Facility != 3 || e.ActorID != 7 ||
			e.ActorLogin != "ciso01" || e.Action != "role.grant" || e.Target != "user:nurse01" ||
			e.Outcome != selfaudit.Success || e.ClientAddr != "192.0.2.10" ||
			e.Detail["role"] != "csirt" || e.Detail["facility"] != "3" || e.ID != 0 || got[0].ID != 1 {
			t.Errorf("stored event = %+v", e)
		}
	})
}

func TestRecord_CutsLongTextAndRepairsBadBytes(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := audit.New(d, clock.NewFrozen(t0))
		long := strings.Repeat("あ", audit.MaxFieldLen+500)
		record(t, l, selfaudit.Event{
			ActorLogin: "bad\xff\xfe\x00name", Action: "login.failure", Outcome: selfaudit.Failure,
			Target: long, Detail: map[string]string{"typed": long, strings.Repeat("k", 1200): "v"},
		})
		got, _ := search(t, l, all)
		e := got[0]
		if n := utf8.RuneCountInString(e.Target); n != audit.MaxFieldLen || !strings.HasPrefix(long, e.Target) {
			t.Errorf("target has %d characters, want the first %d", n, audit.MaxFieldLen)
		}
		if n := utf8.RuneCountInString(e.Detail["typed"]); n != audit.MaxFieldLen {
			t.Errorf("detail value has %d characters, want %d", n, audit.MaxFieldLen)
		}
		if _, ok := e.Detail[strings.Repeat("k", audit.MaxFieldLen)]; !ok {
			t.Errorf("detail key not cut to %d characters: %v", audit.MaxFieldLen, e.Detail)
		}
		if !utf8.ValidString(e.ActorLogin) || strings.ContainsRune(e.ActorLogin, 0) ||
			!strings.HasPrefix(e.ActorLogin, "bad") || !strings.HasSuffix(e.ActorLogin, "name") {
			t.Errorf("actor login = %q, want valid UTF-8 without NUL around bad...name", e.ActorLogin)
		}
	})
}

func TestRecord_RefusesInvalidEvents(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := audit.New(d, clock.NewFrozen(t0))
		tests := []struct {
			name string
			e    selfaudit.Event
		}{
			{"no action", selfaudit.Event{Outcome: selfaudit.Success}},
			{"blank action", selfaudit.Event{Action: "  ", Outcome: selfaudit.Success}},
			{"no outcome", selfaudit.Event{Action: "user.create"}},
			{"unknown outcome", selfaudit.Event{Action: "user.create", Outcome: "ok"}},
			{"outcome in capitals", selfaudit.Event{Action: "user.create", Outcome: "SUCCESS"}},
			{"negative facility", selfaudit.Event{Action: "user.create", Outcome: selfaudit.Success, Facility: -1}},
			{"negative actor", selfaudit.Event{Action: "user.create", Outcome: selfaudit.Success, ActorID: -1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := l.Record(context.Background(), nil, tt.e)
				if !errors.Is(err, audit.ErrInvalid) {
					t.Fatalf("Record = %v, want ErrInvalid", err)
				}
			})
		}
		if got, _ := search(t, l, all); len(got) != 0 {
			t.Fatalf("invalid events were stored: %+v", got)
		}
	})
}

// seed stores a small day of events, one minute apart from t0, and returns
// the log.
func seed(t *testing.T, d *db.DB) *audit.Log {
	t.Helper()
	clk := clock.NewFrozen(t0)
	l := audit.New(d, clk)
	events := []selfaudit.Event{
		{Facility: 1, ActorLogin: "nurse01", Action: "login.success", Target: "user:nurse01", Outcome: "success", ClientAddr: "10.0.0.1"},
		{Facility: 0, ActorLogin: "unknown", Action: "login.failure", Target: "user:unknown", Outcome: "failure", ClientAddr: "203.0.113.9"},
		{Facility: 1, ActorLogin: "nurse01", Action: "login.failure", Target: "user:nurse01", Outcome: "failure", ClientAddr: "10.0.0.1"},
		{Facility: 2, ActorLogin: "admin", Action: "user.create", Target: "user:Doctor07", Outcome: "success", ClientAddr: "10.0.0.2"},
		{Facility: 2, ActorLogin: "admin", Action: "role.grant", Target: "user:doctor07", Outcome: "success", ClientAddr: "10.0.0.2"},
		{Facility: 0, ActorLogin: "system", Action: "config.change", Target: "config:password.min_length", Outcome: "success"},
		{Facility: 3, ActorLogin: "ciso01", Action: "login_x", Target: "user:ciso01", Outcome: "success", ClientAddr: "10.0.0.3"},
	}
	for _, e := range events {
		record(t, l, e)
		clk.Advance(time.Minute)
	}
	return l
}

func TestSearch_Filters(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := seed(t, d)
		tests := []struct {
			name string
			f    audit.Filter
			want []string // targets, newest first
		}{
			{"everything, newest first", audit.Filter{},
				[]string{"user:ciso01", "config:password.min_length", "user:doctor07", "user:Doctor07", "user:nurse01", "user:unknown", "user:nurse01"}},
			{"from is inclusive", audit.Filter{From: t0.Add(5 * time.Minute)},
				[]string{"user:ciso01", "config:password.min_length"}},
			{"to is exclusive", audit.Filter{To: t0.Add(2 * time.Minute)},
				[]string{"user:unknown", "user:nurse01"}},
			{"from and to", audit.Filter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)},
				[]string{"user:nurse01", "user:unknown"}},
			{"actor", audit.Filter{ActorLogin: "admin"}, []string{"user:doctor07", "user:Doctor07"}},
			{"actor is exact", audit.Filter{ActorLogin: "adm"}, nil},
			{"action exact", audit.Filter{Action: "login.failure"}, []string{"user:nurse01", "user:unknown"}},
			{"action prefix", audit.Filter{Action: "login."},
				[]string{"user:nurse01", "user:unknown", "user:nurse01"}},
			{"action without dot is exact", audit.Filter{Action: "login"}, nil},
			{"action exact, not a pattern", audit.Filter{Action: "login_x"}, []string{"user:ciso01"}},
			{"outcome", audit.Filter{Outcome: "failure"}, []string{"user:nurse01", "user:unknown"}},
			{"target substring", audit.Filter{Target: "octor"}, []string{"user:doctor07", "user:Doctor07"}},
			{"target substring is case-sensitive", audit.Filter{Target: "Doctor"}, []string{"user:Doctor07"}},
			{"target with LIKE wildcards is literal", audit.Filter{Target: "%"}, nil},
			{"client", audit.Filter{ClientAddr: "10.0.0.1"}, []string{"user:nurse01", "user:nurse01"}},
			{"client is exact", audit.Filter{ClientAddr: "10.0.0."}, nil},
			{"everything together", audit.Filter{From: t0, To: t0.Add(time.Hour), ActorLogin: "nurse01",
				Action: "login.", Outcome: "failure", Target: "nurse", ClientAddr: "10.0.0.1"}, []string{"user:nurse01"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.f.AllFacilities = true
				got, next := search(t, l, tt.f)
				if !slices.Equal(targets(got), tt.want) {
					t.Errorf("targets = %q, want %q", targets(got), tt.want)
				}
				if next != 0 {
					t.Errorf("next = %d, want 0", next)
				}
			})
		}
	})
}

func TestSearch_FacilityScope(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := seed(t, d)
		tests := []struct {
			name       string
			all        bool
			facilities []int64
			want       []int64 // facilities of the events found, newest first
		}{
			{"all facilities see system-wide events", true, nil, []int64{3, 0, 2, 2, 1, 0, 1}},
			{"one facility", false, []int64{1}, []int64{1, 1}},
			{"two facilities", false, []int64{1, 3}, []int64{3, 1, 1}},
			{"no scope sees nothing", false, nil, nil},
			{"facility 0 is not a scope of its own", false, []int64{0}, nil},
			{"facility 0 among others adds nothing", false, []int64{0, 2}, []int64{2, 2}},
			{"unknown facility", false, []int64{99}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, _ := search(t, l, audit.Filter{AllFacilities: tt.all, Facilities: tt.facilities})
				var fs []int64
				for _, e := range got {
					fs = append(fs, e.Facility)
				}
				if !slices.Equal(fs, tt.want) {
					t.Errorf("facilities = %v, want %v", fs, tt.want)
				}
			})
		}
	})
}

func TestSearch_PagesByID(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := seed(t, d) // 7 events
		var pages [][]string
		f := audit.Filter{AllFacilities: true, Limit: 3}
		for i := 0; ; i++ {
			if i > 5 {
				t.Fatal("paging does not end")
			}
			got, next := search(t, l, f)
			pages = append(pages, targets(got))
			if next == 0 {
				break
			}
			if next != got[len(got)-1].ID {
				t.Fatalf("next = %d, want the last id %d", next, got[len(got)-1].ID)
			}
			f.Before = next
		}
		want := [][]string{
			{"user:ciso01", "config:password.min_length", "user:doctor07"},
			{"user:Doctor07", "user:nurse01", "user:unknown"},
			{"user:nurse01"},
		}
		if !slices.EqualFunc(pages, want, slices.Equal) {
			t.Fatalf("pages = %q, want %q", pages, want)
		}

		// A page that ends exactly at the last event has no next.
		got, next := search(t, l, audit.Filter{AllFacilities: true, Limit: 7})
		if len(got) != 7 || next != 0 {
			t.Errorf("limit 7 of 7: %d events, next %d; want 7 and 0", len(got), next)
		}
	})
}

func TestSearch_LimitDefaultsAndMaximum(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(t0))
		err := d.InTx(ctx, func(tx *db.Tx) error {
			for i := range audit.MaxLimit + 10 {
				if err := l.Record(ctx, tx, selfaudit.Event{Action: "logout", Outcome: "success",
					Target: "n" + string(rune('a'+i%26))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			limit, want int
		}{
			{0, audit.DefaultLimit},
			{-5, audit.DefaultLimit},
			{1, 1},
			{audit.MaxLimit, audit.MaxLimit},
			{audit.MaxLimit + 1000, audit.MaxLimit},
		}
		for _, tt := range tests {
			got, next := search(t, l, audit.Filter{AllFacilities: true, Limit: tt.limit})
			if len(got) != tt.want || next == 0 {
				t.Errorf("limit %d: %d events, next %d; want %d and a next page", tt.limit, len(got), next, tt.want)
			}
		}
	})
}

func BenchmarkLog_Record(b *testing.B) {
	d := dbtest.SQLite(b, parts...)
	l := audit.New(d, clock.Real{})
	e := selfaudit.Event{Facility: 1, ActorID: 7, ActorLogin: "nurse01", Action: "login.success",
		Target: "user:nurse01", Outcome: selfaudit.Success, ClientAddr: "10.0.0.1",
		Detail: map[string]string{"method": "password+totp"}}
	ctx := context.Background()
	for b.Loop() {
		if err := l.Record(ctx, nil, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLog_SearchFacilityPage(b *testing.B) {
	d := dbtest.SQLite(b, parts...)
	l := audit.New(d, clock.Real{})
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *db.Tx) error {
		for i := range 20000 {
			err := l.Record(ctx, tx, selfaudit.Event{Facility: int64(i%4 + 1), ActorLogin: "nurse01",
				Action: "login.success", Target: "user:nurse01", Outcome: selfaudit.Success})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	f := audit.Filter{Facilities: []int64{2}, Action: "login."}
	for b.Loop() {
		if _, _, err := l.Search(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}
