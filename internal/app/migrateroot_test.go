//go:build cgo

package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// TestMigrateRoot_LocalToHSMAndBackKeepsDataReadable moves the keys of an
// anzen into a SoftHSM token, restarts with keys.root = pkcs11, decrypts
// what was encrypted before, and moves them back to the local root.
func TestMigrateRoot_LocalToHSMAndBackKeepsDataReadable(t *testing.T) {
	ctx := context.Background()
	hsm := hsmtest.New(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PKCS11Module, cfg.PKCS11TokenLabel = hsm.Module, hsm.TokenLabel
	env := map[string]string{app.EnvUnsealPassphrase: "a long enough unseal passphrase", app.EnvPKCS11PIN: hsm.PIN}
	getenv := app.WithGetenv(func(k string) string { return env[k] })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *app.App {
		t.Helper()
		a, err := app.Open(ctx, cfg, log, nil, getenv)
		if err != nil {
			t.Fatalf("open with keys.root = %s: %v", cfg.KeysRoot, err)
		}
		return a
	}
	by := keys.Actor{Login: "cli:test", Client: "local"}
	system := keys.SystemCaller("test")

	a := open()
	if _, err := a.Keys.Create(ctx, by, keys.NewKey{Name: "radiology-archive", Purpose: keys.PurposeStorage}); err != nil {
		t.Fatal(err)
	}
	ec := keys.Context{"study": "CT-2026-0001"}
	ct, err := a.Keys.Encrypt(ctx, system, "radiology-archive", []byte("所見：異常なし"), ec)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MigrateRoot(ctx, "local", by, nil, getenv); err == nil {
		t.Fatal("a migration to the root already in use was accepted")
	}
	if err := a.MigrateRoot(ctx, "pkcs11", by, nil, getenv); err != nil {
		t.Fatalf("local -> pkcs11: %v", err)
	}
	a.Close()

	cfg.KeysRoot = "pkcs11"
	a = open()
	if got, err := a.Keys.Decrypt(ctx, system, ct, ec); err != nil || string(got) != "所見：異常なし" {
		t.Fatalf("after the move into the HSM: %q %v", got, err)
	}
	if err := a.MigrateRoot(ctx, "local", by, nil, getenv); err != nil {
		t.Fatalf("pkcs11 -> local: %v", err)
	}
	a.Close()

	cfg.KeysRoot = "local"
	a = open()
	defer a.Close()
	if got, err := a.Keys.Decrypt(ctx, system, ct, ec); err != nil || string(got) != "所見：異常なし" {
		t.Fatalf("after the move back: %q %v", got, err)
	}
}
