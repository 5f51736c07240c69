package config

import (
	"strings"
	"testing"
)

func TestSyslogSettings_BadValuesNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		env       map[string]string
		wantKey   string
	}{
		{"udp without port", "[ingest.syslog]\nudp = \"0.0.0.0\"", nil, "ingest.syslog.udp"},
		{"tcp port out of range", "[ingest.syslog]\ntcp = \"0.0.0.0:70000\"", nil, "ingest.syslog.tcp"},
		{"unknown framing", "[ingest.syslog]\nframing = \"lines\"", nil, "ingest.syslog.framing"},
		{"message limit below 32 KiB", "[ingest.syslog]\nmax_message = 4096", nil, "ingest.syslog.max_message"},
		{"message limit above the log's", "[ingest.syslog]\nmax_message = 1048576", nil, "ingest.syslog.max_message"},
		{"tls without certificate", "[ingest.syslog]\ntls = \"0.0.0.0:6514\"", nil, "ingest.syslog.tls_cert"},
		{"certificate without key", "[ingest.syslog]\ntls = \"0.0.0.0:6514\"\ntls_cert = \"c.pem\"", nil, "ingest.syslog.tls_key"},
		{"certificate without listener", "[ingest.syslog]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"", nil, "ingest.syslog.tls"},
		{"required client certificates without CA", "[ingest.syslog]\ntls = \"0.0.0.0:6514\"\ntls_cert = \"c.pem\"\n" +
			"tls_key = \"k.pem\"\nrequire_client_cert = true", nil, "ingest.syslog.client_ca"},
		{"tcp and tls on one port", "[ingest.syslog]\ntcp = \"0.0.0.0:6514\"\ntls = \"0.0.0.0:6514\"\ntls_cert = \"c.pem\"\n" +
			"tls_key = \"k.pem\"", nil, "ingest.syslog.tls"},
		{"bad environment address", "", map[string]string{"ANZEN_SYSLOG_TCP": "514"}, "ANZEN_SYSLOG_TCP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.doc, tc.env)
			if err == nil {
				t.Fatalf("accepted: %+v", c.Syslog)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error %q does not name %s", err, tc.wantKey)
			}
		})
	}
}

func TestSyslogSettings_Applied(t *testing.T) {
	c, err := load(t, `[ingest.syslog]
udp = "0.0.0.0:514"
tcp = "0.0.0.0:514"
tls = "0.0.0.0:6514"
tls_cert = "/etc/anzen/syslog.pem"
tls_key = "/etc/anzen/syslog-key.pem"
client_ca = "/etc/anzen/ehr-ca.pem"
require_client_cert = true
framing = "octet-counting"
map = "/etc/anzen/ehr-mapping.toml"
facility = "main"
max_message = 32768
`, map[string]string{"ANZEN_SYSLOG_FACILITY": "2"})
	if err != nil {
		t.Fatal(err)
	}
	want := SyslogConfig{UDP: "0.0.0.0:514", TCP: "0.0.0.0:514", TLS: "0.0.0.0:6514", TLSCert: "/etc/anzen/syslog.pem",
		TLSKey: "/etc/anzen/syslog-key.pem", ClientCA: "/etc/anzen/ehr-ca.pem", RequireClientCert: true,
		Framing: "octet-counting", Mapping: "/etc/anzen/ehr-mapping.toml", Facility: "2", MaxMessage: 32768}
	if c.Syslog != want || !c.Syslog.Any() {
		t.Errorf("got %+v\nwant %+v", c.Syslog, want)
	}
	if d := Default().Syslog; d.Any() || d.MaxMessage != 65536 || d.Framing != "auto" {
		t.Errorf("defaults %+v: want no listener, 65536 bytes, auto framing", d)
	}
}
