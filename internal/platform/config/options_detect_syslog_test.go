package config

import (
	"strings"
	"testing"
)

func TestDetectSyslogSettings(t *testing.T) {
	c, err := load(t, "[detect.notify]\nsyslog = [\"udp://siem:514\", \"tls://siem.example.jp:6514\"]\nsyslog_ca_file = \"/etc/anzen/siem-ca.pem\"", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Detect.NotifySyslog, ","); got != "udp://siem:514,tls://siem.example.jp:6514" || c.Detect.NotifySyslogCAFile != "/etc/anzen/siem-ca.pem" {
		t.Errorf("syslog %q, CA file %q", got, c.Detect.NotifySyslogCAFile)
	}
	for _, bad := range []string{"https://siem:6514", "tls://siem", "tls://:6514"} {
		_, err := load(t, "[detect.notify]\nsyslog = [\""+bad+"\"]", nil)
		if err == nil || !strings.Contains(err.Error(), "detect.notify.syslog") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
