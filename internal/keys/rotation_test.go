package keys

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestRotateDue_RotatesOnlyActiveKeysPastTheirPeriod(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		day := 24 * time.Hour
		for _, nk := range []NewKey{
			{Name: "daily", Purpose: PurposeStorage, RotationPeriod: day},
			{Name: "weekly-signer", Purpose: PurposeSigning, RotationPeriod: 7 * day},
			{Name: "never", Purpose: PurposeStorage},
			{Name: "daily-disabled", Purpose: PurposeStorage, RotationPeriod: day},
		} {
			if _, err := e.svc.Create(ctx, admin, nk); err != nil {
				t.Fatalf("create %s: %v", nk.Name, err)
			}
		}
		if err := e.svc.SetVersionState(ctx, admin, "daily-disabled", 1, false); err != nil {
			t.Fatal(err)
		}
		ct, err := e.svc.Encrypt(ctx, system, "daily", []byte("紹介状"), Context{"table": "letters"})
		if err != nil {
			t.Fatal(err)
		}

		steps := []struct {
			advance time.Duration
			want    []string
		}{
			{time.Hour, nil},
			{day - time.Hour - time.Millisecond, nil}, // one millisecond before the period ends
			{time.Millisecond, []string{"daily"}},     // exactly at NextRotation
			{time.Minute, nil},                        // the new version starts the period again
			{day, []string{"daily"}},
			{6 * day, []string{"daily", "weekly-signer"}},
		}
		for i, st := range steps {
			e.clock.Advance(st.advance)
			got, err := e.svc.RotateDue(ctx)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, st.want) {
				t.Fatalf("step %d (%s): rotated %v, want %v", i, e.clock.Now(), got, st.want)
			}
		}

		versions := map[string]int{"daily": 4, "weekly-signer": 2, "never": 1, "daily-disabled": 1}
		for name, want := range versions {
			k, err := e.svc.Get(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.Latest().Version; got != want {
				t.Errorf("%s: newest version %d, want %d", name, got, want)
			}
		}
		k, _ := e.svc.Get(ctx, "daily")
		for _, v := range k.Versions {
			want := DecryptOnly
			if v.Version == 4 {
				want = Active
			}
			if v.State != want {
				t.Errorf("daily v%d is %s, want %s", v.Version, v.State, want)
			}
		}
		// What version 1 sealed still opens.
		if got, err := e.svc.Decrypt(ctx, system, ct, Context{"table": "letters"}); err != nil || !bytes.Equal(got, []byte("紹介状")) {
			t.Fatalf("old ciphertext after rotation: %q, %v", got, err)
		}

		events, _, err := e.log.Search(ctx, audit.Filter{Action: "key.rotate", AllFacilities: true, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 4 {
			t.Fatalf("%d key.rotate events, want 4", len(events))
		}
		for _, ev := range events {
			if ev.ActorLogin != "system" || ev.Outcome != "success" {
				t.Errorf("rotation recorded as %q (%s), want system", ev.ActorLogin, ev.Outcome)
			}
		}
	})
}

func TestRotateDue_SealedServiceRotatesNothing(t *testing.T) {
	d := dbtest.SQLite(t, testParts...)
	e := newEnv(t, d)
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, admin, NewKey{Name: "daily", Purpose: PurposeStorage, RotationPeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	sealed := New(d, e.clock, e.log, nil)
	e.clock.Advance(2 * time.Hour)
	got, err := sealed.RotateDue(ctx)
	if len(got) != 0 || err == nil {
		t.Fatalf("a sealed service rotated %v (err %v)", got, err)
	}
	k, _ := e.svc.Get(ctx, "daily")
	if len(k.Versions) != 1 {
		t.Fatalf("%d versions after a failed rotation, want 1", len(k.Versions))
	}
}
