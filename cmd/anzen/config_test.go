package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "anzen.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck_BadFileFailsNamingTheKey(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"unknown key", "[lockout]\nmax_failure = 5\n", `"lockout.max_failure"`},
		{"wrong type", "[lockout]\nmax_failures = \"many\"\n", "lockout.max_failures"},
		{"out of range", "[lockout]\nmax_failures = 0\n", "lockout.max_failures"},
		{"unknown choice", "[password]\nprofile = \"strong\"\n", "password.profile"},
		{"settings that clash", "[session]\nidle_timeout = \"13h\"\n", "session.idle_timeout"},
		{"not TOML", "listen = \n", "not valid TOML"},
	}
	c := &cliEnv{t: t}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			path := writeFile(t, tc.file)
			r := c.run("", "config", "check", path)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) || r.out != "" {
				t.Errorf("error %v, stdout %q; want an error naming %s", r.err, r.out, tc.want)
			}
		})
	}
	c.t = t
	if r := c.run("", "config", "check", filepath.Join(t.TempDir(), "missing.toml")); r.err == nil {
		t.Error("a missing file passes the check")
	}
}

// TestConfigExample_PassesCheckOnceUncommented uncomments every key of the
// example, so the file sets each key to its default, and checks it.
func TestConfigExample_PassesCheckOnceUncommented(t *testing.T) {
	c := &cliEnv{t: t}
	example := c.mustRun("config", "example").out
	key := regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)
	uncommented := key.ReplaceAllString(example, "$1")
	if n := len(key.FindAllString(example, -1)); n < 20 {
		t.Fatalf("only %d keys in the example:\n%s", n, example)
	}
	path := writeFile(t, uncommented)
	if r := c.run("", "config", "check", path); r.err != nil || r.out != path+": ok\n" {
		t.Fatalf("check of the uncommented example: %v, %q\n%s", r.err, r.out, uncommented)
	}
}
