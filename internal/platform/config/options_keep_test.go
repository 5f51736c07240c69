package config

import (
	"strings"
	"testing"
	"time"
)

func TestKeepOptions_BadValuesNameTheKey(t *testing.T) {
	tests := []struct{ name, doc, wantKey string }{
		{"webhook not http", `audit.witness.webhooks = ["ftp://witness.example"]`, "audit.witness.webhooks"},
		{"webhook with a password", `audit.witness.webhooks = ["https://u:hunter2@witness.example/in"]`, "audit.witness.webhooks"},
		{"webhook interval too short", `audit.witness.webhook_interval = "10s"`, "audit.witness.webhook_interval"},
		{"mail interval too short", `audit.witness.mail_interval = "5m"`, "audit.witness.mail_interval"},
		{"witness not an address", `audit.witness.mail = ["inspector at example.jp"]`, "audit.witness.mail"},
		{"witness with a display name", `audit.witness.mail = ["Inspector <i@example.jp>"]`, "audit.witness.mail"},
		{"witness mail without a server", `audit.witness.mail = ["i@example.jp"]`, "mail.smtp.host"},
		{"server without a sender", "[mail.smtp]\nhost = \"relay.example.jp\"", "mail.from"},
		{"sender not an address", `mail.from = "anzen"`, "mail.from"},
		{"password file without a user", "[mail]\nfrom = \"a@example.jp\"\n[mail.smtp]\nhost = \"relay\"\npassword_file = \"/p\"", "mail.smtp.user"},
		{"login in the clear", "[mail]\nfrom = \"a@example.jp\"\n[mail.smtp]\nhost = \"relay\"\ntls = \"none\"\nuser = \"anzen\"", "mail.smtp.tls"},
		{"unknown TLS mode", `mail.smtp.tls = "ssl"`, "mail.smtp.tls"},
		{"port out of range", `mail.smtp.port = 0`, "mail.smtp.port"},
		{"alert mail without a server", `detect.notify.mail = ["csirt@example.jp"]`, "detect.notify.mail"},
		{"unknown alert level", `detect.notify.min_level = "urgent"`, "detect.notify.min_level"},
		{"alert webhook not http", `detect.notify.webhooks = ["ftp://siem.example"]`, "detect.notify.webhooks"},
		{"hospital rules with an empty path", `detect.rules = [""]`, "detect.rules"},
		{"alert syslog without a port", `detect.notify.syslog = ["udp://siem.example"]`, "detect.notify.syslog"},
		{"alert syslog over http", `detect.notify.syslog = ["http://siem.example:514"]`, "detect.notify.syslog"},
		{"the password is not a setting", `mail.smtp.password = "x"`, `"mail.smtp.password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.doc, nil)
			if err == nil {
				t.Fatalf("accepted, config %+v", c)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("error %q does not name %s", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

func TestKeepOptions_GoodValues(t *testing.T) {
	doc := `
[audit]
archive_dir = "/srv/anzen/archive"
[audit.witness]
webhooks = ["https://witness.example.jp/anzen?token=abc"]
webhook_secret_file = "/etc/anzen/witness.secret"
webhook_interval = "30m"
mail = ["inspector@example.jp", "csirt@partner.example.jp"]
[mail]
from = "anzen@hospital.example.jp"
[mail.smtp]
host = "relay.hospital.example.jp"
port = 465
tls = "tls"
user = "anzen"
password_file = "/etc/anzen/smtp.pw"
`
	c, err := load(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Audit.Witness
	if c.AuditArchiveDir() != "/srv/anzen/archive" || len(w.Webhooks) != 1 || w.WebhookInterval != 30*time.Minute ||
		len(w.Mail) != 2 || w.MailInterval != 24*time.Hour || c.Mail.Port != 465 || c.Mail.TLS != "tls" {
		t.Fatalf("config %+v %+v", c.Audit, c.Mail)
	}
	if v := c.Values()["audit.witness.webhooks"]; strings.Contains(v, "abc") {
		t.Fatalf("the recorded value shows the URL's query: %s", v)
	}
	d := Default()
	d.DataDir = "/var/lib/anzen"
	if d.AuditArchiveDir() != "/var/lib/anzen/audit-archive" {
		t.Fatalf("default archive dir %s", d.AuditArchiveDir())
	}
}
