// Package config reads anzen's configuration: one TOML file plus ANZEN_*
// environment variables, over the defaults in the options table.
//
// Every setting is declared once in options.go, Miniflux-style; validation,
// `anzen config example` and docs/configuration.md follow from that table.
// A bad value stops start-up with an error that names the key and says what
// is allowed.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Tokyo must load on servers without a zoneinfo database (Windows, minimal images)

	"github.com/BurntSushi/toml"
)

// Default returns the configuration made of defaults only.
func Default() *Config {
	c := &Config{}
	for _, o := range options {
		if err := o.set(c, value{key: o.Key, raw: o.Default}); err != nil {
			panic("config: bad default for " + o.Key + ": " + err.Error())
		}
	}
	return c
}

// Load applies, over the defaults, the TOML file at path (if path is not
// empty) and then the environment given by getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read configuration: %w", err)
		}
		if err := c.ApplyTOML(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := c.ApplyEnv(getenv); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// ApplyTOML applies the settings of a TOML document. Unknown keys are
// errors, so that a misspelt key does not silently leave a default in force.
// On an error c is left as it was: a document is applied whole or not at all.
func (c *Config) ApplyTOML(b []byte) error {
	next := *c
	if err := next.applyTOML(b); err != nil {
		return err
	}
	*c = next
	return nil
}

func (c *Config) applyTOML(b []byte) error {
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		return fmt.Errorf("not valid TOML: %w", err)
	}
	flat := map[string]any{}
	flatten("", m, flat)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, ok := find(k)
		if !ok {
			return fmt.Errorf("unknown key %q (see `anzen config example` for every key)", k)
		}
		if err := o.set(c, value{key: k, typed: flat[k], fromTOML: true}); err != nil {
			return err
		}
	}
	return nil
}

// ApplyEnv applies ANZEN_* variables that are set and not empty. On an
// error c is left as it was.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	next := *c
	for _, o := range options {
		if v := getenv(o.Env); v != "" {
			if err := o.set(&next, value{key: o.Env, raw: v}); err != nil {
				return err
			}
		}
	}
	*c = next
	return nil
}

// Set applies one setting by key, as a command-line flag does.
func (c *Config) Set(key, raw string) error {
	o, ok := find(key)
	if !ok {
		return fmt.Errorf("unknown key %q", key)
	}
	return o.set(c, value{key: "--" + key, raw: raw})
}

// Validate checks what single values cannot: settings that go together.
func (c *Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls.cert and tls.key: set both to serve HTTPS, or neither")
	}
	if c.SessionIdle > c.SessionLifetime {
		return errors.New("session.idle_timeout: must not be longer than session.max_lifetime")
	}
	if c.KeysRoot == "pkcs11" && c.PKCS11TokenLabel == "" {
		return errors.New("keys.pkcs11.token_label: name the HSM token to use when keys.root is pkcs11")
	}
	if err := c.validateSyslog(); err != nil {
		return err
	}
	if err := c.validateBaseline(); err != nil {
		return err
	}
	return c.validateKeep()
}

// TLS reports whether anzen serves HTTPS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// HTTPS reports whether people reach anzen over HTTPS: anzen serves TLS
// itself, or a reverse proxy does and public_url says https. Cookies are
// then Secure and HSTS is sent.
func (c *Config) HTTPS() bool { return c.TLS() || strings.HasPrefix(c.PublicURL, "https://") }

// BaseURL is the URL people reach anzen at: public_url, or one derived from
// the listen address (127.0.0.1 and unspecified hosts become localhost,
// since WebAuthn does not accept an IP address as its relying party).
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "http://localhost"
	}
	if host == "" || host == "127.0.0.1" || host == "::1" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Location returns the time zone pages show times in.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func find(key string) (option, bool) {
	for _, o := range options {
		if o.Key == key {
			return o, true
		}
	}
	return option{}, false
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// value is one setting as it came from the file (typed) or from the
// environment, a flag or a default (raw text).
type value struct {
	key      string
	raw      string
	typed    any
	fromTOML bool
}

func (v value) errf(format string, a ...any) error {
	return fmt.Errorf("%s: %s", v.key, fmt.Sprintf(format, a...))
}

func (v value) text() (string, error) {
	if !v.fromTOML {
		return v.raw, nil
	}
	switch t := v.typed.(type) {
	case string:
		return t, nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	}
	return "", v.errf("expected a single value, got %T", v.typed)
}

func (v value) str(dst *string, check func(string) error) error {
	s, err := v.text()
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(s); err != nil {
			return v.errf("%v", err)
		}
	}
	*dst = s
	return nil
}

func (v value) int64(dst *int64, lo, hi int64) error {
	s, err := v.text()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return v.errf("expected a whole number, got %q", s)
	}
	if n < lo || n > hi {
		return v.errf("must be between %d and %d, got %d", lo, hi, n)
	}
	*dst = n
	return nil
}

func (v value) int(dst *int, lo, hi int) error {
	var n int64
	if err := v.int64(&n, int64(lo), int64(hi)); err != nil {
		return err
	}
	*dst = int(n)
	return nil
}

func (v value) bool(dst *bool) error {
	s, err := v.text()
	if err != nil {
		return err
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return v.errf("expected true or false, got %q", s)
	}
	*dst = b
	return nil
}

func (v value) dur(dst *time.Duration, lo, hi time.Duration) error {
	s, err := v.text()
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return v.errf("expected a duration such as 15m or 12h, got %q", s)
	}
	if d < lo || d > hi {
		return v.errf("must be between %s and %s, got %s", lo, hi, d)
	}
	*dst = d
	return nil
}

func (v value) list(dst *[]string, check func(string) error) error {
	var items []string
	if v.fromTOML {
		switch t := v.typed.(type) {
		case []any:
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return v.errf("expected a list of strings, found %T", e)
				}
				items = append(items, s)
			}
		case string:
			items = splitList(t)
		default:
			return v.errf("expected a list of strings, got %T", v.typed)
		}
	} else {
		items = splitList(v.raw)
	}
	for _, s := range items {
		if err := check(s); err != nil {
			return v.errf("%v", err)
		}
	}
	*dst = items
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nonEmpty(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(s string) error {
		for _, a := range allowed {
			if s == a {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s, got %q", strings.Join(allowed, ", "), s)
	}
}

func hostPort(s string) error {
	if s == "" {
		return errors.New("must not be empty (for example 127.0.0.1:8080)")
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("expected host:port such as 127.0.0.1:8080, got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}

func httpURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("expected an http:// or https:// URL, got %q", s)
	}
	return nil
}

func cidrOrIP(s string) error {
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	return fmt.Errorf("expected an IP address or CIDR range, got %q", s)
}

func timeZone(s string) error {
	if _, err := time.LoadLocation(s); err != nil {
		return fmt.Errorf("unknown time zone %q (for example Asia/Tokyo)", s)
	}
	return nil
}

// noteName checks a name for a signed note (C2SP): empty, or printable
// without spaces or '+'.
func noteName(s string) error {
	if s == "" {
		return nil
	}
	for _, r := range s {
		if r <= ' ' || r == '+' || r == 0x7f || r > '~' {
			return fmt.Errorf("%q: use printable ASCII without spaces or '+'", s)
		}
	}
	if len(s) > 200 {
		return fmt.Errorf("at most 200 characters")
	}
	return nil
}
