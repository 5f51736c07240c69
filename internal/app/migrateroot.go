package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/anzen-health/anzen/internal/keys"
)

// MigrateRoot moves every key from the root of trust in use to the other
// kind, rewrapping its material in one audited transaction:
//
//   - to "pkcs11": the HSM token named by keys.pkcs11.* (PIN from
//     ANZEN_PKCS11_PIN or keys.pkcs11.pin_file);
//   - to "local": <data>/keys-root.json, opened with the unseal passphrase
//     when it exists, else created with the passphrase from
//     ANZEN_UNSEAL_PASSPHRASE or ANZEN_UNSEAL_FILE (never a generated one:
//     a hospital leaving its HSM must choose where the passphrase lives).
//
// Signing keys generated inside an HSM cannot leave it; keys.MigrateRoot
// refuses and names them. Afterwards keys.root must be set to the new
// kind, or anzen will not find its keys at the next start.
func (a *App) MigrateRoot(ctx context.Context, to string, by keys.Actor, progress func(done, total int), opts ...Option) error {
	o := &options{getenv: os.Getenv}
	for _, f := range opts {
		f(o)
	}
	cur, err := a.Keys.Root()
	if err != nil {
		return err
	}
	if cur.Kind() == to {
		return fmt.Errorf("the keys are already under the %s root", to)
	}
	var target keys.Root
	switch to {
	case "pkcs11":
		if a.Cfg.PKCS11TokenLabel == "" {
			return errors.New("set keys.pkcs11.token_label (and keys.pkcs11.module and the PIN) for the HSM to move the keys to")
		}
		if target, err = openPKCS11(a.Cfg, o); err != nil {
			return err
		}
	case "local":
		if target, err = a.localTarget(o); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--to must be local or pkcs11, not %q", to)
	}
	return a.Keys.MigrateRoot(ctx, by, target, progress)
}

// localTarget opens or creates the local root a migration moves keys to.
func (a *App) localTarget(o *options) (keys.Root, error) {
	file := RootFile(a.Cfg)
	if _, err := os.Stat(file); err == nil {
		p, err := findPassphrase(a.Cfg, o, true)
		if err != nil {
			return nil, err
		}
		root, err := keys.OpenLocalRoot(file, p.value)
		if err != nil {
			return nil, fmt.Errorf("open %s with the passphrase from %s: %w", file, p.source, err)
		}
		return root, nil
	}
	var p passphrase
	switch {
	case o.getenv(EnvUnsealPassphrase) != "", o.getenv(EnvUnsealFile) != "":
		var err error
		if p, err = findPassphrase(a.Cfg, o, true); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("give the passphrase that will seal the new local root in %s or in the file named by %s",
			EnvUnsealPassphrase, EnvUnsealFile)
	}
	root, err := keys.CreateLocalRoot(file, p.value)
	if err != nil {
		return nil, fmt.Errorf("create the local root key: %w", err)
	}
	return root, nil
}
