package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// boxSealer is a SecretSealer for tests: it binds the context by writing
// it beside the base64 of the plaintext, and counts its calls.
type boxSealer struct{ seals, opens int }

func (b *boxSealer) Seal(_ context.Context, p []byte, c map[string]string) (string, error) {
	b.seals++
	return SealedPrefix + c["table"] + "/" + c["user"] + "/" + base64.StdEncoding.EncodeToString(p), nil
}

func (b *boxSealer) Open(_ context.Context, s string, c map[string]string) ([]byte, error) {
	b.opens++
	want := SealedPrefix + c["table"] + "/" + c["user"] + "/"
	rest, ok := strings.CutPrefix(s, want)
	if !ok {
		return nil, errors.New("context does not match")
	}
	return base64.StdEncoding.DecodeString(rest)
}

func storedSecret(t *testing.T, d *db.DB, userID int64) string {
	t.Helper()
	var s string
	if err := d.QueryRowContext(context.Background(), `SELECT secret FROM identity_totp WHERE user_id = ?`, userID).
		Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTOTP_SecretsGoThroughTheSealer(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		box := &boxSealer{}
		e.svc.SetSecretSealer(box)
		u := e.user(t, "nurse01", "")
		en, err := e.svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		stored := storedSecret(t, d, u.ID)
		if !strings.HasPrefix(stored, SealedPrefix+"identity_totp/") || strings.Contains(stored, en.Secret) {
			t.Fatalf("stored %q", stored)
		}
		again, err := e.svc.BeginTOTP(ctx, u)
		if err != nil || again.Secret != en.Secret {
			t.Fatalf("reload within 15 minutes: %v", err)
		}
		if _, err := e.svc.ConfirmTOTP(ctx, SystemActor, u, codeAt(t, en.Secret, e.clock.Now())); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * time.Second)
		if err := e.svc.VerifyTOTP(ctx, u, codeAt(t, en.Secret, e.clock.Now())); err != nil {
			t.Fatal(err)
		}
		if box.seals != 1 || box.opens != 3 {
			t.Errorf("sealed %d times and opened %d times, want 1 and 3", box.seals, box.opens)
		}

		// With a sealer, a secret found in the clear is refused (it was
		// written behind anzen's back), and so is one sealed for another
		// user; neither counts as a wrong code.
		other := e.user(t, "nurse02", "")
		for name, value := range map[string]string{"in the clear": en.Secret, "another user's": stored} {
			if _, err := d.ExecContext(ctx, `INSERT INTO identity_totp (user_id, secret, confirmed, last_step, created_at)
				VALUES (?, ?, 1, 0, 0) ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret`, other.ID, value); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(30 * time.Second)
			err := e.svc.VerifyTOTP(ctx, other, codeAt(t, en.Secret, e.clock.Now()))
			if err == nil || errors.Is(err, ErrSecondFactor) {
				t.Errorf("%s secret: err = %v, want an error that is not a wrong code", name, err)
			}
		}
	})
}

func TestSealStoredSecrets_SealsWhatIsInTheClearOnceAndRecordsIt(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		if _, err := e.svc.SealStoredSecrets(ctx); err == nil {
			t.Fatal("sealing without a sealer succeeded")
		}
		var users []*User
		for _, login := range []string{"nurse01", "nurse02", "nurse03"} {
			u := e.user(t, login, "")
			if _, err := e.svc.BeginTOTP(ctx, u); err != nil { // no sealer yet: stored in the clear
				t.Fatal(err)
			}
			users = append(users, u)
		}
		plain := storedSecret(t, d, users[0].ID)
		box := &boxSealer{}
		e.svc.SetSecretSealer(box)
		// One secret was sealed already (by another instance, say).
		sealed, _ := box.Seal(ctx, []byte(storedSecret(t, d, users[2].ID)), totpContext(users[2].ID))
		if _, err := d.ExecContext(ctx, `UPDATE identity_totp SET secret = ? WHERE user_id = ?`, sealed, users[2].ID); err != nil {
			t.Fatal(err)
		}
		for round, want := range []int{2, 0} {
			n, err := e.svc.SealStoredSecrets(ctx)
			if err != nil || n != want {
				t.Fatalf("round %d: sealed %d, %v; want %d", round, n, err, want)
			}
		}
		for _, u := range users {
			if s := storedSecret(t, d, u.ID); !strings.HasPrefix(s, SealedPrefix) {
				t.Errorf("%s: stored %q", u.Login, s)
			}
		}
		en, err := e.svc.BeginTOTP(ctx, users[0])
		if err != nil || en.Secret != plain {
			t.Fatalf("the sealed pending secret reads back as %v (%v)", en, err)
		}
		ev, _, err := e.log.Search(ctx, audit.Filter{Action: "secrets.encrypt", AllFacilities: true})
		if err != nil || len(ev) != 1 || ev[0].Detail["count"] != "2" || ev[0].ActorLogin != "system" {
			t.Fatalf("secrets.encrypt events %+v, %v; want one with count 2", ev, err)
		}
	})
}
