package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// env is a fake process environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestUnseal_PassphraseSourcesInPrecedence(t *testing.T) {
	type setup struct {
		env       bool // ANZEN_UNSEAL_PASSPHRASE
		file      bool // ANZEN_UNSEAL_FILE
		generated bool // <data>/unseal-passphrase
		prompt    bool // a terminal
		root      bool // keys-root.json exists
	}
	tests := []struct {
		name      string
		setup     setup
		want      string // the passphrase, or "" for a new random one
		source    string // part of the source named in messages
		generated bool
		write     bool
		err       string
	}{
		{"the environment comes first", setup{true, true, true, true, true}, "from-environment", EnvUnsealPassphrase, false, false, ""},
		{"then the file it names", setup{false, true, true, true, true}, "from-credential", EnvUnsealFile, false, false, ""},
		{"then the generated file", setup{false, false, true, true, true}, "generated-earlier", passphraseFileName, true, false, ""},
		{"then the terminal", setup{false, false, false, true, true}, "typed-at-terminal", "terminal", false, false, ""},
		{"nothing at a later start is an error", setup{false, false, false, false, true}, "", "", false, false, EnvUnsealFile},
		{"a first start makes one up", setup{false, false, false, false, false}, "", passphraseFileName, true, true, ""},
		{"a first start at a terminal makes one up too", setup{false, false, false, true, false}, "", passphraseFileName, true, true, ""},
		{"a first start takes the environment", setup{true, false, false, false, false}, "from-environment", EnvUnsealPassphrase, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			e := env{}
			if tt.setup.env {
				e[EnvUnsealPassphrase] = "from-environment"
			}
			if tt.setup.file {
				cred := filepath.Join(t.TempDir(), "unseal")
				if err := os.WriteFile(cred, []byte("from-credential\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				e[EnvUnsealFile] = cred
			}
			if tt.setup.generated {
				if err := os.WriteFile(GeneratedPassphraseFile(cfg), []byte("generated-earlier\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			o := &options{getenv: e.get}
			prompted := false
			if tt.setup.prompt {
				o.prompt = func(string) (string, error) { prompted = true; return "typed-at-terminal", nil }
			}
			p, err := findPassphrase(cfg, o, tt.setup.root)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && p.value != tt.want {
				t.Errorf("passphrase %q, want %q", p.value, tt.want)
			}
			if tt.want == "" && len(p.value) < 32 {
				t.Errorf("made-up passphrase %q is short", p.value)
			}
			if !strings.Contains(p.source, tt.source) || p.generated != tt.generated || p.write != tt.write {
				t.Errorf("source %q generated %v write %v, want %q %v %v", p.source, p.generated, p.write,
					tt.source, tt.generated, tt.write)
			}
			if prompted != (tt.source == "terminal") {
				t.Errorf("prompted = %v", prompted)
			}
			if _, err := os.Stat(GeneratedPassphraseFile(cfg)); (err == nil) != tt.setup.generated {
				t.Errorf("finding the passphrase wrote the generated file (exists: %v)", err == nil)
			}
		})
	}
}

func TestUnseal_SecretFilesLoseOneTrailingNewline(t *testing.T) {
	tests := []struct{ content, want, err string }{
		{"correct horse battery staple\n", "correct horse battery staple", ""},
		{"correct horse battery staple\r\n", "correct horse battery staple", ""},
		{"correct horse battery staple", "correct horse battery staple", ""},
		{"two lines\n\n", "two lines\n", ""},
		{"  spaces kept  \n", "  spaces kept  ", ""},
		{"\n", "", "empty"},
		{"", "", "empty"},
	}
	for _, tt := range tests {
		name := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(name, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readSecretFile(name)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.content, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
}

// lockedBuffer collects a log written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startConfig is a configuration on dialect with its own data directory.
func startConfig(t *testing.T, dialect string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if dialect == "postgres" {
		cfg.DSN = dbtest.PostgresDSN(t)
	}
	return cfg
}

// start opens anzen as `anzen serve` would, with getenv as its environment,
// and returns it with what it logged and printed to the console.
func start(t *testing.T, cfg *config.Config, e env) (*App, string, string, error) {
	t.Helper()
	var logs, console lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := Open(context.Background(), cfg, log, nil, WithGetenv(e.get), WithConsole(&console))
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, logs.String(), console.String(), err
}

// snapshot is every file of a directory with its mode and digest.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		out[path] = fmt.Sprintf("%v %x", info.Mode(), sha256.Sum256(b))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func TestOpen_FirstStartGeneratesThePassphraseAndRestartUsesIt(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			cfg := startConfig(t, dialect)
			a, logs, console, err := start(t, cfg, env{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{GeneratedPassphraseFile(cfg), RootFile(cfg)} {
				info, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", f, info.Mode().Perm())
				}
			}
			pass, _ := readSecretFile(GeneratedPassphraseFile(cfg))
			for what, out := range map[string]string{"log": logs, "console": console} {
				if !strings.Contains(out, "evaluation only") || !strings.Contains(out, GeneratedPassphraseFile(cfg)) {
					t.Errorf("the %s does not warn that the passphrase is for evaluation only:\n%s", what, out)
				}
				if strings.Contains(out, pass) {
					t.Errorf("the %s shows the passphrase", what)
				}
			}
			if !strings.Contains(logs, "level=WARN") {
				t.Errorf("the warning is not logged at WARN:\n%s", logs)
			}
			k, err := a.Keys.Get(context.Background(), secretsKey)
			if err != nil || k.Purpose != keys.PurposeStorage || k.RotationPeriod != secretsRotation {
				t.Fatalf("secrets key = %+v, %v", k, err)
			}
			a.Close()

			// A restart unseals with the generated file and warns again;
			// the root and the passphrase stay as they were.
			before := snapshot(t, cfg.DataDir)
			a, logs, console, err = start(t, cfg, env{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			if !strings.Contains(logs, "evaluation only") || !strings.Contains(console, "evaluation only") {
				t.Errorf("a restart does not warn again:\n%s\n%s", logs, console)
			}
			after := snapshot(t, cfg.DataDir)
			for _, f := range []string{GeneratedPassphraseFile(cfg), RootFile(cfg)} {
				if before[f] != after[f] {
					t.Errorf("the restart changed %s", f)
				}
			}
			if _, err := a.Keys.Get(context.Background(), secretsKey); err != nil {
				t.Fatal(err)
			}
			a.Close()

			// Moved out of the data directory, the passphrase still opens
			// the root, from ANZEN_UNSEAL_FILE; no more warning.
			cred := filepath.Join(t.TempDir(), "anzen-unseal")
			if err := os.Rename(GeneratedPassphraseFile(cfg), cred); err != nil {
				t.Fatal(err)
			}
			_, logs, console, err = start(t, cfg, env{EnvUnsealFile: cred})
			if err != nil {
				t.Fatalf("start with %s: %v", EnvUnsealFile, err)
			}
			if strings.Contains(logs, "evaluation only") || console != "" {
				t.Errorf("warned with the passphrase outside the data directory:\n%s\n%s", logs, console)
			}
		})
	}
}

func TestOpen_WrongPassphraseWritesNothing(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			cfg := startConfig(t, dialect)
			good := env{EnvUnsealPassphrase: "correct horse battery staple"}
			a, _, _, err := start(t, cfg, good)
			if err != nil {
				t.Fatal(err)
			}
			countEvents := func(a *App) int {
				var n int
				if err := a.DB.QueryRowContext(context.Background(), `SELECT (SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM audit_outbox)`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			events := countEvents(a)
			a.Close()
			if _, err := os.Stat(GeneratedPassphraseFile(cfg)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a passphrase file was generated although one was given: %v", err)
			}

			wrongFile := filepath.Join(t.TempDir(), "unseal")
			if err := os.WriteFile(wrongFile, []byte("not the passphrase\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, cfg.DataDir)
			for _, tt := range []struct {
				env    env
				source string
			}{
				{env{EnvUnsealPassphrase: "correct horse battery stable"}, EnvUnsealPassphrase},
				{env{EnvUnsealFile: wrongFile}, wrongFile},
				{env{EnvUnsealFile: filepath.Join(t.TempDir(), "missing")}, "missing"},
				{env{}, EnvUnsealPassphrase}, // no source at all
			} {
				_, _, _, err := start(t, cfg, tt.env)
				if err == nil || !strings.Contains(err.Error(), tt.source) {
					t.Fatalf("err = %v, want one naming %s", err, tt.source)
				}
				if tt.source != "missing" && len(tt.env) > 0 && !errors.Is(err, keys.ErrWrongPassphrase) {
					t.Errorf("err = %v, want ErrWrongPassphrase", err)
				}
			}
			if after := snapshot(t, cfg.DataDir); len(after) != len(before) {
				t.Fatalf("the data directory changed:\n%v\n%v", before, after)
			} else {
				for f, v := range before {
					if after[f] != v {
						t.Errorf("%s changed", f)
					}
				}
			}
			a, _, _, err = start(t, cfg, good)
			if err != nil {
				t.Fatal(err)
			}
			if got := countEvents(a); got != events {
				t.Errorf("%d security events after the refused starts, want %d", got, events)
			}
		})
	}
}

func TestOpen_FirstStartRefusesAShortPassphraseAndWritesNothing(t *testing.T) {
	cfg := startConfig(t, "sqlite")
	_, _, _, err := start(t, cfg, env{EnvUnsealPassphrase: "short"})
	if err == nil || !strings.Contains(err.Error(), "12 characters") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the data directory was made: %v", err)
	}
}

func TestOpen_LostRootFileIsNotReplacedWhileKeysNeedIt(t *testing.T) {
	cfg := startConfig(t, "sqlite")
	a, _, _, err := start(t, cfg, env{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	for _, f := range []string{RootFile(cfg), GeneratedPassphraseFile(cfg)} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, err = start(t, cfg, env{})
	if err == nil || !strings.Contains(err.Error(), "keys-root.json") {
		t.Fatalf("err = %v, want one asking for keys-root.json", err)
	}
	if _, err := os.Stat(RootFile(cfg)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new root key file was made")
	}
}

func TestOpen_PKCS11RootUnsealsWithThePINAndRefusesAWrongOne(t *testing.T) {
	hsm := hsmtest.New(t)
	cfg := startConfig(t, "sqlite")
	cfg.KeysRoot, cfg.PKCS11Module, cfg.PKCS11TokenLabel = "pkcs11", hsm.Module, hsm.TokenLabel
	for _, tt := range []struct {
		name string
		env  env
		want error
		text string
	}{
		{"no PIN", env{}, nil, EnvPKCS11PIN},
		{"wrong PIN", env{EnvPKCS11PIN: "0000"}, keys.ErrWrongPIN, "pkcs11"},
	} {
		_, _, _, err := start(t, cfg, tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.text) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Fatalf("%s: err = %v", tt.name, err)
		}
		if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: the data directory was made: %v", tt.name, err)
		}
	}

	pinFile := filepath.Join(t.TempDir(), "hsm-pin")
	if err := os.WriteFile(pinFile, []byte(hsm.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.PKCS11PINFile = pinFile
	a, logs, console, err := start(t, cfg, env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := a.Keys.Root(); err != nil || r.Kind() != "pkcs11" {
		t.Fatalf("root = %v, %v", r, err)
	}
	k, err := a.Keys.Get(ctx, secretsKey)
	if err != nil || k.Latest().Root != "pkcs11" {
		t.Fatalf("secrets key %+v, %v", k, err)
	}
	s := keySealer{a.Keys}
	c := map[string]string{"table": "identity_totp", "user": "7"}
	sealed, err := s.Seal(ctx, []byte("JBSWY3DPEHPK3PXP"), c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open(ctx, sealed, c); err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open = %q, %v", got, err)
	}
	for _, f := range []string{RootFile(cfg), GeneratedPassphraseFile(cfg)} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists with the pkcs11 root", f)
		}
	}
	if strings.Contains(logs, "evaluation") || console != "" {
		t.Errorf("an evaluation warning with the pkcs11 root:\n%s\n%s", logs, console)
	}
	ev, _, err := a.Audit.Search(ctx, audit.Filter{Action: "config.change", AllFacilities: true, Limit: 1})
	if err != nil || len(ev) != 1 {
		t.Fatalf("config.change: %v", err)
	}
	if ev[0].Detail["setting:keys.pkcs11.pin_file"] != pinFile {
		t.Errorf("config.change does not record the PIN file: %v", ev[0].Detail)
	}
	for k := range ev[0].Detail {
		if strings.Contains(strings.ToLower(k), "pin") && k != "setting:keys.pkcs11.pin_file" {
			t.Errorf("config.change records %s", k)
		}
	}
}

func TestOpen_WarnsOfKeysHeldByTheOtherRoot(t *testing.T) {
	hsm := hsmtest.New(t)
	cfg := startConfig(t, "sqlite")
	a, logs, _, err := start(t, cfg, env{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if strings.Contains(logs, "migrate-root") {
		t.Fatalf("warned with every key under the root in force:\n%s", logs)
	}
	cfg.KeysRoot, cfg.PKCS11Module, cfg.PKCS11TokenLabel = "pkcs11", hsm.Module, hsm.TokenLabel
	_, logs, _, err = start(t, cfg, env{EnvPKCS11PIN: hsm.PIN})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "migrate-root") || !strings.Contains(logs, "count=2") {
		t.Fatalf("no warning of the two keys (anzen-secrets, audit-checkpoint) under the local root:\n%s", logs)
	}
}
