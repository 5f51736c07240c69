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
