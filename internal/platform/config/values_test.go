package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestValues_RoundTripEveryKey(t *testing.T) {
	c := Default()
	c.Listen = "0.0.0.0:9443"
	c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1"}
	c.Metrics = true
	c.PasswordMinLength = 14
	vals := c.Values()
	if len(vals) != len(options) {
		t.Fatalf("Values has %d keys, options %d", len(vals), len(options))
	}
	back := Default()
	for k, v := range vals {
		if err := back.Set(k, v); err != nil {
			t.Fatalf("Set(%q, %q): %v", k, v, err)
		}
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, c)
	}
}

func TestValues_HideDatabasePassword(t *testing.T) {
	c := Default()
	c.DSN = "postgres://anzen:s3cret@db.example:5432/anzen?sslmode=require"
	got := c.Values()["db"]
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "anzen:xxxxx@db.example") {
		t.Fatalf("db value %q shows or mangles the password", got)
	}
}

func TestValues_NeverHoldThePKCS11PIN(t *testing.T) {
	env := map[string]string{"ANZEN_KEYS_ROOT": "pkcs11", "ANZEN_PKCS11_TOKEN_LABEL": "anzen",
		"ANZEN_PKCS11_PIN": "pin-7391-secret", "ANZEN_PKCS11_PIN_FILE": "/run/credentials/anzen.service/hsm-pin"}
	c, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.Values() {
		if strings.Contains(v, "pin-7391-secret") {
			t.Errorf("setting %s holds the PIN", k)
		}
	}
	if got := c.Values()["keys.pkcs11.pin_file"]; got != env["ANZEN_PKCS11_PIN_FILE"] {
		t.Errorf("keys.pkcs11.pin_file = %q", got)
	}
}
