package detect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// Alerts forwarded to a SIEM as RFC 5424 syslog messages: app-name anzen,
// msgid ALERT, the alert's facts as structured data (SD-ID
// anzen-alert@32473, the example enterprise number of RFC 5424 until
// anzen has its own), the title as the message.

// syslogSeverity maps a level to a syslog severity (facility security,
// 13): critical 2, high 3, medium 4, low 5, informational 6.
func syslogSeverity(l sigma.Level) uint8 {
	switch l {
	case sigma.LevelCritical:
		return 2
	case sigma.LevelHigh:
		return 3
	case sigma.LevelMedium:
		return 4
	case sigma.LevelLow:
		return 5
	}
	return 6
}

// syslogMessage is the RFC 5424 form of an alert.
func syslogMessage(a Alert) (string, error) {
	host, _ := os.Hostname()
	m := &rfc5424.SyslogMessage{}
	m.SetVersion(1)
	m.SetPriority(13*8 + syslogSeverity(a.Level))
	m.SetTimestamp(a.Created.UTC().Format(time.RFC3339Nano))
	m.SetHostname(host)
	m.SetAppname("anzen")
	m.SetMsgID("ALERT")
	const sd = "anzen-alert@32473"
	m.SetParameter(sd, "id", strconv.FormatInt(a.ID, 10))
	m.SetParameter(sd, "rule", a.RuleID)
	m.SetParameter(sd, "level", a.Level.String())
	m.SetParameter(sd, "facility", strconv.FormatInt(a.Facility, 10))
	m.SetParameter(sd, "events", strconv.Itoa(a.Total))
	m.SetParameter(sd, "first_seq", strconv.FormatInt(a.FirstSeq, 10))
	if a.Correlation != "" {
		m.SetParameter(sd, "correlation", a.Correlation)
	}
	for _, g := range a.Group {
		m.SetParameter(sd, "group."+g.Field, g.Value)
	}
	m.SetMessage(a.Title)
	return m.String()
}

// sendSyslog sends one alert to addr: udp://host:port, tcp://host:port
// or tls://host:port (RFC 5425: octet counting over TLS 1.2 or later,
// the server's certificate verified against roots, the system's when
// nil).
func sendSyslog(ctx context.Context, addr string, roots *x509.CertPool, a Alert) error {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") || u.Host == "" {
		return fmt.Errorf("syslog target %q: use udp://host:port, tcp://host:port or tls://host:port", addr)
	}
	msg, err := syslogMessage(a)
	if err != nil {
		return fmt.Errorf("syslog message: %w", err)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	if u.Scheme == "tls" {
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{RootCAs: roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
		conn, err = td.DialContext(ctx, "tcp", u.Host)
	} else {
		conn, err = d.DialContext(ctx, u.Scheme, u.Host)
	}
	if err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	frame := msg
	if u.Scheme != "udp" {
		frame = strconv.Itoa(len(msg)) + " " + msg // octet counting (RFC 6587, RFC 5425)
	}
	if _, err := conn.Write([]byte(frame)); err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	return nil
}
