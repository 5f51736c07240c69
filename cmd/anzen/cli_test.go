package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// cliEnv runs anzen commands against one data directory (and, for
// PostgreSQL, one fresh schema), as an operator's shell would.
type cliEnv struct {
	t    *testing.T
	args []string // --data and --db
	g    *globalFlags
}

// newCLI returns a CLI on a fresh database of dialect.
func newCLI(t *testing.T, dialect string) *cliEnv {
	t.Helper()
	// The commands hash passwords and seal the root key in this process.
	apptest.UseCheapKeyDerivation()
	dir := t.TempDir()
	c := &cliEnv{t: t, args: []string{"--data", dir}, g: &globalFlags{data: dir}}
	if dialect == "postgres" {
		dsn := dbtest.PostgresDSN(t)
		c.args = append(c.args, "--db", dsn)
		c.g.dsn = dsn
	}
	return c
}

// cliBeside returns a CLI on the database of a running anzen.
func cliBeside(t *testing.T, e *apptest.Env) *cliEnv {
	c := &cliEnv{t: t, args: []string{"--data", e.App.Cfg.DataDir}, g: &globalFlags{data: e.App.Cfg.DataDir}}
	if e.App.Cfg.DSN != "" {
		c.args = append(c.args, "--db", e.App.Cfg.DSN)
		c.g.dsn = e.App.Cfg.DSN
	}
	return c
}

// result is what one command printed and returned.
type result struct {
	out, errOut string
	err         error
}

// run runs anzen with args after --data/--db and stdin as standard input.
func (c *cliEnv) run(stdin string, args ...string) result {
	c.t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetArgs(append(slices.Clone(c.args), args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// mustRun runs anzen and fails the test when the command fails.
func (c *cliEnv) mustRun(args ...string) result {
	c.t.Helper()
	r := c.run("", args...)
	if r.err != nil {
		c.t.Fatalf("anzen %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.errOut)
	}
	return r
}

// open opens the anzen the CLI works on, with the real clock, for the
// test to look at what the commands did.
func (c *cliEnv) open() *app.App {
	c.t.Helper()
	cfg, err := c.g.load(map[string]string{})
	if err != nil {
		c.t.Fatal(err)
	}
	// The commands change the database behind this anzen's back, and the
	// test expects it to see each change at once (as apptest does).
	cfg.SessionCacheTTL = 0
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { a.Close() })
	return a
}

// eventsBy returns the security events of action, newest first, and fails
// unless the newest names the CLI user at "local".
func eventsBy(t *testing.T, a *app.App, action string) []audit.Entry {
	t.Helper()
	entries, _, err := a.Audit.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no %s event in the audit log", action)
	}
	if want := cliActor().Login; entries[0].ActorLogin != want || entries[0].ClientAddr != "local" {
		t.Fatalf("%s recorded actor %q at %q, want %q at local", action, entries[0].ActorLogin,
			entries[0].ClientAddr, want)
	}
	return entries
}

// secretLine returns the one line a command printed on standard output.
func secretLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("stdout is %q, want one line with the secret", r.out)
	}
	return lines[0]
}
