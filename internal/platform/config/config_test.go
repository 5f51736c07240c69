package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDefault_IsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	loaded, err := Load("", func(string) string { return "" })
	if err != nil {
		t.Fatalf("Load with no file and no environment: %v", err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load without file or environment differs from Default:\n got %+v\nwant %+v", loaded, c)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"ui.language", c.Lang, "ja"},
		{"ui.time_zone", c.TimeZone, "Asia/Tokyo"},
		{"session.idle_timeout", c.SessionIdle, 15 * time.Minute},
		{"session.max_lifetime", c.SessionLifetime, 12 * time.Hour},
		{"http.max_body", c.MaxBodyBytes, int64(1 << 20)},
		{"mfa.required_roles", c.MFARoles, []string{"admin", "ciso", "csirt", "auditor", "staff", "vendor"}},
		{"tls", c.TLS(), false},
		{"BaseURL", c.BaseURL(), "http://localhost:8080"},
		{"Location", c.Location().String(), "Asia/Tokyo"},
		{"keys.root", c.KeysRoot, "local"},
		{"keys.usage_flush", c.KeysUsageFlush, time.Minute},
		{"keys.pkcs11.module", c.PKCS11Module, "/usr/lib/softhsm/libsofthsm2.so"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("default %s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestOptions_EveryKeyDeclaredOnceWithEnvAndHelp(t *testing.T) {
	keys, envs := map[string]bool{}, map[string]bool{}
	for _, o := range options {
		if keys[o.Key] {
			t.Errorf("key %s declared twice", o.Key)
		}
		if envs[o.Env] {
			t.Errorf("environment variable %s used twice", o.Env)
		}
		keys[o.Key], envs[o.Env] = true, true
		if !strings.HasPrefix(o.Env, "ANZEN_") {
			t.Errorf("%s: environment variable %q does not start with ANZEN_", o.Key, o.Env)
		}
		if o.HelpEN == "" || o.HelpJA == "" {
			t.Errorf("%s: help text missing in a language", o.Key)
		}
		if o.set == nil {
			t.Errorf("%s: no setter", o.Key)
		}
	}
}

// load writes doc to a file and loads it with env as the environment.
func load(t *testing.T, doc string, env map[string]string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "anzen.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, func(k string) string { return env[k] })
}

func TestLoad_BadValueNamesTheKey(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		env     map[string]string
		wantKey string // the error must name it
	}{
		// unknown keys
		{"unknown top-level key", `colour = "red"`, nil, `"colour"`},
		{"unknown key in a section", "[session]\nidle = \"5m\"", nil, `"session.idle"`},
		{"misspelt section", "[sesion]\nidle_timeout = \"5m\"", nil, `"sesion.idle_timeout"`},
		{"key that is a section", "[listen]\nport = 1", nil, `"listen.port"`},
		// wrong types
		{"string for a bool", `metrics.enabled = "yes"`, nil, "metrics.enabled"},
		{"string for a number", `http.max_body = "big"`, nil, "http.max_body"},
		{"float for a number", `http.max_body = 2048.5`, nil, "http.max_body"},
		{"list for a string", `listen = ["127.0.0.1:80"]`, nil, "listen"},
		{"table for a string", `data = { path = "x" }`, nil, `"data.path"`},
		{"date for a string", `data = 2025-04-01T09:00:00Z`, nil, "data"},
		{"number for a list", `http.trusted_proxies = 5`, nil, "http.trusted_proxies"},
		{"numbers in a list", `mfa.required_roles = [1, 2]`, nil, "mfa.required_roles"},
		{"bool for a duration", `session.idle_timeout = true`, nil, "session.idle_timeout"},
		// out of range
		{"body limit too small", `http.max_body = 10`, nil, "http.max_body"},
		{"body limit too large", `http.max_body = 99999999999`, nil, "http.max_body"},
		{"password too short", `password.min_length = 4`, nil, "password.min_length"},
		{"too many classes", `password.min_classes = 5`, nil, "password.min_classes"},
		{"no lockout", `lockout.max_failures = 0`, nil, "lockout.max_failures"},
		{"negative history", `password.history = -1`, nil, "password.history"},
		{"idle below a minute", `session.idle_timeout = "30s"`, nil, "session.idle_timeout"},
		{"failure delay too long", `lockout.failure_delay = "1m"`, nil, "lockout.failure_delay"},
		// bad durations
		{"duration in words", `session.idle_timeout = "15 minutes"`, nil, "session.idle_timeout"},
		{"duration without unit", `lockout.duration = 15`, nil, "lockout.duration"},
		{"empty duration", `session.max_lifetime = ""`, nil, "session.max_lifetime"},
		// bad listen addresses
		{"listen without port", `listen = "127.0.0.1"`, nil, "listen"},
		{"listen port only digits", `listen = "8080"`, nil, "listen"},
		{"listen port out of range", `listen = "127.0.0.1:99999"`, nil, "listen"},
		{"listen port not a number", `listen = "127.0.0.1:http"`, nil, "listen"},
		{"listen empty", `listen = ""`, nil, "listen"},
		// other single values
		{"empty data directory", `data = " "`, nil, "data"},
		{"public_url not http", `public_url = "ftp://anzen.example"`, nil, "public_url"},
		{"public_url without host", `public_url = "https://"`, nil, "public_url"},
		{"proxy not an address", `http.trusted_proxies = ["proxy.local"]`, nil, "http.trusted_proxies"},
		{"unknown role", `mfa.required_roles = ["root"]`, nil, "mfa.required_roles"},
		{"unknown log format", `log.format = "xml"`, nil, "log.format"},
		{"unknown log level", `log.level = "trace"`, nil, "log.level"},
		{"unknown language", `ui.language = "fr"`, nil, "ui.language"},
		{"unknown password profile", `password.profile = "strong"`, nil, "password.profile"},
		{"bad time zone", `ui.time_zone = "Mars/Olympus_Mons"`, nil, "ui.time_zone"},
		{"time zone path escape", `ui.time_zone = "../../etc/passwd"`, nil, "ui.time_zone"},
		{"unknown key root", `keys.root = "tpm"`, nil, "keys.root"},
		{"usage flush too often", `keys.usage_flush = "1s"`, nil, "keys.usage_flush"},
		{"empty PKCS#11 module", `keys.pkcs11.module = ""`, nil, "keys.pkcs11.module"},
		{"the PIN is not a setting", `keys.pkcs11.pin = "1234"`, nil, `"keys.pkcs11.pin"`},
		// settings that go together
		{"tls.cert without tls.key", "[tls]\ncert = \"/etc/anzen/cert.pem\"", nil, "tls.cert"},
		{"tls.key without tls.cert", "[tls]\nkey = \"/etc/anzen/key.pem\"", nil, "tls.key"},
		{"idle longer than lifetime", "[session]\nidle_timeout = \"13h\"", nil, "session.idle_timeout"},
		{"pkcs11 root without a token", "[keys]\nroot = \"pkcs11\"", nil, "keys.pkcs11.token_label"},
		{"environment pkcs11 root without a token", "", map[string]string{"ANZEN_KEYS_ROOT": "pkcs11"}, "keys.pkcs11.token_label"},
		// environment
		{"bad environment value names the variable", "", map[string]string{"ANZEN_MAX_BODY": "lots"}, "ANZEN_MAX_BODY"},
		{"bad environment duration", "", map[string]string{"ANZEN_SESSION_IDLE": "soon"}, "ANZEN_SESSION_IDLE"},
		{"bad environment listen", "", map[string]string{"ANZEN_LISTEN": "localhost"}, "ANZEN_LISTEN"},
		{"environment tls cert alone", "", map[string]string{"ANZEN_TLS_CERT": "/c.pem"}, "tls.key"},
		// not TOML at all
		{"broken TOML", "listen = \"127.0.0.1:8080", nil, "TOML"},
		{"duplicate key", "listen = \"a:1\"\nlisten = \"b:2\"", nil, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.doc, tt.env)
			if err == nil {
				t.Fatalf("accepted, config %+v", c)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("error %q does not name %s", err, tt.wantKey)
			}
		})
	}
}

func TestLoad_GoodValuesAreApplied(t *testing.T) {
	doc := `
data = "/var/lib/anzen"
db = "postgres://anzen@db.internal/anzen"
listen = "[::]:8443"
public_url = "https://anzen.hospital.example"

[tls]
cert = "/etc/anzen/cert.pem"
key = "/etc/anzen/key.pem"

[http]
trusted_proxies = ["10.0.0.0/8", "192.0.2.1"]
max_body = 2048

[session]
idle_timeout = "10m"
max_lifetime = "8h"

[mfa]
required_roles = ["admin", "ciso"]

[keys]
root = "pkcs11"
usage_flush = "30s"

[keys.pkcs11]
module = "/opt/hsm/lib/libcs_pkcs11.so"
token_label = "anzen"
pin_file = "/run/credentials/anzen.service/hsm-pin"
`
	c, err := load(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.DataDir = "/var/lib/anzen"
	want.DSN = "postgres://anzen@db.internal/anzen"
	want.Listen = "[::]:8443"
	want.PublicURL = "https://anzen.hospital.example"
	want.TLSCert, want.TLSKey = "/etc/anzen/cert.pem", "/etc/anzen/key.pem"
	want.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1"}
	want.MaxBodyBytes = 2048
	want.SessionIdle, want.SessionLifetime = 10*time.Minute, 8*time.Hour
	want.MFARoles = []string{"admin", "ciso"}
	want.KeysRoot, want.KeysUsageFlush = "pkcs11", 30*time.Second
	want.PKCS11Module, want.PKCS11TokenLabel = "/opt/hsm/lib/libcs_pkcs11.so", "anzen"
	want.PKCS11PINFile = "/run/credentials/anzen.service/hsm-pin"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("loaded\n %+v\nwant\n %+v", c, want)
	}
	if !c.TLS() || c.BaseURL() != "https://anzen.hospital.example" {
		t.Errorf("TLS() = %v, BaseURL() = %q", c.TLS(), c.BaseURL())
	}
}

func TestLoad_EnvironmentOverridesFile(t *testing.T) {
	doc := "listen = \"127.0.0.1:9000\"\n[log]\nlevel = \"debug\"\nformat = \"json\"\n[mfa]\nrequired_roles = [\"admin\"]\n"
	env := map[string]string{
		"ANZEN_LISTEN":     "0.0.0.0:9443",
		"ANZEN_LOG_LEVEL":  "", // empty: the file's value stays
		"ANZEN_MFA_ROLES":  "admin, ciso ,csirt",
		"ANZEN_METRICS":    "true",
		"ANZEN_TIME_ZONE":  "UTC",
		"ANZEN_MAX_BODY":   "4096",
		"NOT_ANZEN_LISTEN": "1.1.1.1:1",
	}
	c, err := load(t, doc, env)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"environment wins over file", c.Listen, "0.0.0.0:9443"},
		{"empty variable leaves the file's value", c.LogLevel, "debug"},
		{"file value without a variable stays", c.LogFormat, "json"},
		{"list from a comma-separated variable", c.MFARoles, []string{"admin", "ciso", "csirt"}},
		{"bool from a variable", c.Metrics, true},
		{"time zone from a variable", c.TimeZone, "UTC"},
		{"number from a variable", c.MaxBodyBytes, int64(4096)},
		{"default without file or variable", c.LockoutFailures, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestApplyTOML_ErrorLeavesConfigUnchanged(t *testing.T) {
	// Keys apply in sorted order, so session.idle_timeout is set before
	// session.max_lifetime fails; the failed document must change nothing.
	doc := "[session]\nidle_timeout = \"20h\"\nmax_lifetime = \"forever\"\n[ui]\nlanguage = \"en\"\n"
	c := Default()
	if err := c.ApplyTOML([]byte(doc)); err == nil {
		t.Fatal("accepted a bad document")
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("a failed ApplyTOML changed the config: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("config after a failed ApplyTOML does not validate: %v", err)
	}

	env := map[string]string{"ANZEN_LANG": "en", "ANZEN_SESSION_IDLE": "20h", "ANZEN_SESSION_LIFETIME": "never"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("accepted a bad environment")
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("a failed ApplyEnv changed the config: %+v", c)
	}
}

func TestSet_FlagErrorNamesTheFlag(t *testing.T) {
	c := Default()
	if err := c.Set("listen", "0.0.0.0:80"); err != nil || c.Listen != "0.0.0.0:80" {
		t.Fatalf("Set listen: err %v, listen %q", err, c.Listen)
	}
	if err := c.Set("listen", "nope"); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("Set listen nope: err %v, want one naming --listen", err)
	}
	if err := c.Set("no.such", "1"); err == nil || !strings.Contains(err.Error(), "no.such") {
		t.Errorf("Set no.such: err %v, want one naming the key", err)
	}
}

func TestBaseURL_FromListenAddress(t *testing.T) {
	tests := []struct {
		listen, public string
		tls            bool
		want           string
	}{
		{"127.0.0.1:8080", "", false, "http://localhost:8080"},
		{"0.0.0.0:80", "", false, "http://localhost:80"},
		{":8443", "", true, "https://localhost:8443"},
		{"[::1]:8080", "", false, "http://localhost:8080"},
		{"10.1.2.3:8080", "", false, "http://10.1.2.3:8080"},
		{"anzen.local:8080", "", false, "http://anzen.local:8080"},
		{"127.0.0.1:8080", "https://anzen.example/", false, "https://anzen.example"},
	}
	for _, tt := range tests {
		t.Run(tt.listen+" "+tt.public, func(t *testing.T) {
			c := Default()
			c.Listen, c.PublicURL = tt.listen, tt.public
			if tt.tls {
				c.TLSCert, c.TLSKey = "c", "k"
			}
			if got := c.BaseURL(); got != tt.want {
				t.Errorf("BaseURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

// exampleLine is a commented-out setting of the example file.
var exampleLine = regexp.MustCompile(`^# ([a-z_]+) = (.*)$`)

// uncomment turns every "# key = value" line of the example into a setting.
func uncomment(example string) (doc string, keys []string) {
	var b strings.Builder
	section := ""
	for _, line := range strings.Split(example, "\n") {
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]") + "."
		}
		if m := exampleLine.FindStringSubmatch(line); m != nil {
			line = m[1] + " = " + m[2]
			keys = append(keys, section+m[1])
		}
		b.WriteString(line + "\n")
	}
	return b.String(), keys
}

func TestWriteExample_EveryKeyIsValidTOMLAtItsDefault(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteExample(&buf); err != nil {
		t.Fatal(err)
	}
	example := buf.String()

	// As written (every key commented out) it is a valid, empty config.
	c := Default()
	if err := c.ApplyTOML([]byte(example)); err != nil {
		t.Fatalf("the example as written does not parse: %v", err)
	}

	doc, keys := uncomment(example)
	var want []string
	for _, o := range options {
		want = append(want, o.Key)
	}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("the example's keys\n %v\ndiffer from the options table\n %v", keys, want)
	}
	c = Default()
	if err := c.ApplyTOML([]byte(doc)); err != nil {
		t.Fatalf("the example with every key uncommented does not apply: %v\n%s", err, doc)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the uncommented example does not validate: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("the uncommented example differs from the defaults:\n got %+v\nwant %+v", c, Default())
	}
	for _, o := range options {
		if !strings.Contains(example, "# env: "+o.Env+"\n") {
			t.Errorf("the example does not name %s for %s", o.Env, o.Key)
		}
	}
}

func TestWriteMarkdown_OneRowPerKey(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if got, want := len(lines), len(options)+2; got != want {
		t.Errorf("%d lines, want %d (header, rule, one per key)", got, want)
	}
	for _, o := range options {
		if !strings.Contains(buf.String(), "| `"+o.Key+"` | `"+o.Env+"` |") {
			t.Errorf("no row for %s", o.Key)
		}
	}
}
