package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The environment variables that unseal the key service. They are not
// settings (config.Values never holds them, so neither does the audit log).
const (
	// EnvUnsealPassphrase holds the passphrase of the local root key.
	EnvUnsealPassphrase = "ANZEN_UNSEAL_PASSPHRASE"
	// EnvUnsealFile names a file holding it, such as a systemd credential.
	EnvUnsealFile = "ANZEN_UNSEAL_FILE"
	// EnvPKCS11PIN holds the HSM token's user PIN (else keys.pkcs11.pin_file).
	EnvPKCS11PIN = "ANZEN_PKCS11_PIN"
)

// Files of the local root in the data directory.
const (
	rootFileName       = "keys-root.json"
	passphraseFileName = "unseal-passphrase"
)

// RootFile is where the local root key is kept, sealed.
func RootFile(cfg *config.Config) string { return filepath.Join(cfg.DataDir, rootFileName) }

// GeneratedPassphraseFile is where anzen keeps the passphrase it made up on
// a first start without one: for evaluation only.
func GeneratedPassphraseFile(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, passphraseFileName)
}

// Prompt asks the person at the terminal for the unseal passphrase of the
// root key file it names.
type Prompt func(rootFile string) (string, error)

// TerminalPrompt returns a Prompt that reads the passphrase without echo
// when standard input is a terminal, and nil when it is not.
func TerminalPrompt() Prompt {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func(rootFile string) (string, error) {
		fmt.Fprintf(os.Stderr, "アンシール用パスフレーズ / unseal passphrase for %s: ", rootFile)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("read the passphrase from the terminal: %w", err)
		}
		return string(b), nil
	}
}

// Option changes how Open unseals the key service.
type Option func(*options)

type options struct {
	prompt  Prompt
	console io.Writer
	getenv  func(string) string
}

// WithPrompt lets Open ask for the passphrase when no other source gives
// it (anzen serve and the CLI at a terminal; never tests).
func WithPrompt(p Prompt) Option { return func(o *options) { o.prompt = p } }

// WithConsole makes Open print the evaluation-only warning to w as well as
// logging it.
func WithConsole(w io.Writer) Option { return func(o *options) { o.console = w } }

// WithGetenv makes Open read ANZEN_UNSEAL_* and ANZEN_PKCS11_PIN through
// getenv instead of the process environment.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// passphrase is an unseal passphrase and where it came from.
type passphrase struct {
	value  string
	source string // named in messages; never the value
	// generated: from (or to be written to) <data>/unseal-passphrase.
	generated bool
	// write: made up now, to be written to <data>/unseal-passphrase.
	write bool
}

// unsealPlan is what start-up decided about the root before the database
// is touched: an opened root, or a local root still to be created.
type unsealPlan struct {
	root   keys.Root
	pass   passphrase
	create bool
}

// planUnseal opens the root of trust the configuration names. A wrong
// passphrase or PIN stops here, before anything is written.
func planUnseal(cfg *config.Config, o *options) (*unsealPlan, error) {
	if cfg.KeysRoot == "pkcs11" {
		root, err := openPKCS11(cfg, o)
		if err != nil {
			return nil, err
		}
		return &unsealPlan{root: root}, nil
	}
	rootFile := RootFile(cfg)
	_, err := os.Stat(rootFile)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	p, err := findPassphrase(cfg, o, exists)
	if err != nil {
		return nil, err
	}
	if !exists {
		if len(p.value) < 12 {
			return nil, fmt.Errorf("unseal: the passphrase from %s has fewer than 12 characters; choose a longer one", p.source)
		}
		return &unsealPlan{pass: p, create: true}, nil
	}
	root, err := keys.OpenLocalRoot(rootFile, p.value)
	if errors.Is(err, keys.ErrWrongPassphrase) {
		return nil, fmt.Errorf("unseal: the passphrase from %s does not open %s: %w", p.source, rootFile, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	return &unsealPlan{root: root, pass: p}, nil
}

// findPassphrase takes the passphrase from the first source that has one:
// ANZEN_UNSEAL_PASSPHRASE, the file named by ANZEN_UNSEAL_FILE, the
// generated <data>/unseal-passphrase, the terminal; and on a first start
// with none of them, a new random one for evaluation.
func findPassphrase(cfg *config.Config, o *options, rootExists bool) (passphrase, error) {
	if v := o.getenv(EnvUnsealPassphrase); v != "" {
		return passphrase{value: v, source: EnvUnsealPassphrase}, nil
	}
	if name := o.getenv(EnvUnsealFile); name != "" {
		src := EnvUnsealFile + " (" + name + ")"
		v, err := readSecretFile(name)
		if err != nil {
			return passphrase{}, fmt.Errorf("unseal: %s: %w", src, err)
		}
		return passphrase{value: v, source: src}, nil
	}
	gen := GeneratedPassphraseFile(cfg)
	v, err := readSecretFile(gen)
	switch {
	case err == nil:
		return passphrase{value: v, source: gen, generated: true}, nil
	case !errors.Is(err, os.ErrNotExist):
		return passphrase{}, fmt.Errorf("unseal: %s: %w", gen, err)
	}
	if rootExists && o.prompt != nil {
		v, err := o.prompt(RootFile(cfg))
		if err != nil {
			return passphrase{}, fmt.Errorf("unseal: %w", err)
		}
		return passphrase{value: v, source: "the terminal"}, nil
	}
	if rootExists {
		return passphrase{}, fmt.Errorf("unseal: %s is sealed and no passphrase was given: set %s, or %s to a file "+
			"holding it (such as a systemd credential), or start anzen at a terminal to type it",
			RootFile(cfg), EnvUnsealPassphrase, EnvUnsealFile)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return passphrase{}, err
	}
	return passphrase{value: base64.RawURLEncoding.EncodeToString(b), source: gen, generated: true, write: true}, nil
}

// readSecretFile reads a passphrase or PIN from a file, without one
// trailing newline; an empty one is an error.
func readSecretFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", errors.New("the file is empty")
	}
	return v, nil
}

// finishUnseal creates the local root on a first start, now that the
// database is open, and warns when the passphrase lies in the data
// directory.
func (a *App) finishUnseal(ctx context.Context, plan *unsealPlan, o *options) (keys.Root, error) {
	if plan.create {
		if err := noOrphanedKeys(ctx, a.DB); err != nil {
			return nil, err
		}
		root, err := createLocalRoot(a.Cfg, plan.pass)
		if err != nil {
			return nil, err
		}
		plan.root = root
		a.Log.Info("created the local root key", "file", RootFile(a.Cfg), "passphrase_from", plan.pass.source)
	}
	gen := GeneratedPassphraseFile(a.Cfg)
	switch {
	case plan.pass.generated:
		a.Log.Warn("the unseal passphrase is kept in the data directory: for evaluation only; move it out "+
			"(ANZEN_UNSEAL_FILE or a systemd credential) and delete the file", "file", gen)
		if o.console != nil {
			fmt.Fprintf(o.console, "\n  警告: アンシール用パスフレーズがデータディレクトリ内の %s にあります。評価用です。\n"+
				"  本番ではパスフレーズを ANZEN_UNSEAL_FILE（systemd の資格情報など）に移し、このファイルを削除してください。\n"+
				"  WARNING: the unseal passphrase is kept in the data directory, in %s: for evaluation only.\n"+
				"  For real use move it to ANZEN_UNSEAL_FILE (e.g. a systemd credential) and delete this file.\n"+
				"  See docs/operations.md.\n\n", gen, gen)
		}
	case plan.root.Kind() == "local":
		if _, err := os.Stat(gen); err == nil {
			a.Log.Warn("the unseal passphrase was given elsewhere, but the generated one is still in the data "+
				"directory: delete it", "file", gen, "passphrase_from", plan.pass.source)
		}
	}
	a.warnOtherRoot(ctx, plan.root)
	return plan.root, nil
}

// warnOtherRoot warns of key versions held by another root of trust than
// the one in force (keys.root was changed without moving the keys, or
// they were moved and keys.root not yet changed): they cannot be used.
func (a *App) warnOtherRoot(ctx context.Context, root keys.Root) {
	var n int
	err := a.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys_versions WHERE root <> ? AND state <> ?`,
		root.Kind(), string(keys.Destroyed)).Scan(&n)
	if err != nil {
		a.Log.Error("count key versions of another root", "err", err)
		return
	}
	if n > 0 {
		a.Log.Warn("key versions are held by another root of trust than keys.root and cannot be used: move them "+
			"with `anzen keys migrate-root`, or set keys.root to their root", "count", n, "keys_root", root.Kind())
	}
}

// createLocalRoot writes the generated passphrase file (when the
// passphrase was made up) and the sealed root key.
func createLocalRoot(cfg *config.Config, p passphrase) (keys.Root, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	gen := GeneratedPassphraseFile(cfg)
	if p.write {
		f, err := os.OpenFile(gen, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", gen, err)
		}
		_, err = f.WriteString(p.value + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(gen)
			return nil, fmt.Errorf("write %s: %w", gen, err)
		}
	}
	root, err := keys.CreateLocalRoot(RootFile(cfg), p.value)
	if err != nil {
		if p.write {
			os.Remove(gen)
		}
		return nil, fmt.Errorf("create the local root key: %w", err)
	}
	return root, nil
}

// noOrphanedKeys refuses to make a new local root for a database that
// already holds keys wrapped by another one: keys-root.json was lost or
// this instance was given a new data directory, and a new root would
// leave every key unreadable.
func noOrphanedKeys(ctx context.Context, d *db.DB) error {
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys_versions WHERE root = 'local' AND material <> ''`).
		Scan(&n); err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("unseal: the database holds %d key versions wrapped by a local root key, but there is no "+
			"keys-root.json in the data directory: copy it there from the data directory (or backup) of the "+
			"anzen that made them", n)
	}
	return nil
}

// pkcs11PIN reads the token's user PIN from ANZEN_PKCS11_PIN, else from
// keys.pkcs11.pin_file.
func pkcs11PIN(cfg *config.Config, o *options) (string, error) {
	if v := o.getenv(EnvPKCS11PIN); v != "" {
		return v, nil
	}
	if cfg.PKCS11PINFile == "" {
		return "", fmt.Errorf("keys.root = pkcs11: give the token's PIN in %s or in the file named by keys.pkcs11.pin_file",
			EnvPKCS11PIN)
	}
	v, err := readSecretFile(cfg.PKCS11PINFile)
	if err != nil {
		return "", fmt.Errorf("keys.pkcs11.pin_file %s: %w", cfg.PKCS11PINFile, err)
	}
	return v, nil
}

// openPKCS11 opens the HSM token named by keys.pkcs11.*. A wrong PIN, a
// missing module or token stop here, before anything is written.
func openPKCS11(cfg *config.Config, o *options) (keys.Root, error) {
	pin, err := pkcs11PIN(cfg, o)
	if err != nil {
		return nil, err
	}
	r, err := keys.OpenPKCS11Root(keys.PKCS11Config{Module: cfg.PKCS11Module, TokenLabel: cfg.PKCS11TokenLabel, PIN: pin})
	if err != nil {
		return nil, fmt.Errorf("keys.root = pkcs11: %w", err)
	}
	return r, nil
}
