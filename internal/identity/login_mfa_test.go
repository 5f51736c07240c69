package identity

import (
	"context"
	"errors"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// TestSecondFactorFailed_CountsTowardsLockoutAcrossSignIns proves that a
// stolen password does not give unlimited guesses at the code: signing in
// again with the right password does not wipe the count of wrong codes,
// and the fifth wrong code locks the account.
func TestSecondFactorFailed_CountsTowardsLockoutAcrossSignIns(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "ward5", "")
		for i := 1; i <= 5; i++ {
			got, err := e.svc.CheckPassword(ctx, u.Login, corePassword, "10.1.1.1")
			if err != nil {
				t.Fatalf("attempt %d: right password refused: %v", i, err)
			}
			if got.FailedCount != i-1 {
				t.Fatalf("attempt %d: failed count %d after the right password, want %d", i, got.FailedCount, i-1)
			}
			locked, err := e.svc.SecondFactorFailed(ctx, got, "10.1.1.1", "wrong_totp")
			if err != nil {
				t.Fatal(err)
			}
			if locked != (i == 5) {
				t.Fatalf("attempt %d: locked = %v", i, locked)
			}
		}
		if _, err := e.svc.CheckPassword(ctx, u.Login, corePassword, "10.1.1.1"); !errors.Is(err, ErrLocked) {
			t.Fatalf("after five wrong codes the right password: %v, want ErrLocked", err)
		}
		if n := len(e.events(t, "login.locked")); n != 1 {
			t.Fatalf("%d login.locked events, want 1", n)
		}
	})
}
