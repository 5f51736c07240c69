package detect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/tlstest"
)

// TestSendSyslog_RefusesWhatItCannotTrust: a TLS SIEM whose certificate
// no trusted CA signed gets nothing, and a target of another scheme is
// named in the error.
func TestSendSyslog_RefusesWhatItCannotTrust(t *testing.T) {
	serverTLS, _ := tlstest.Server(t, t.TempDir())
	l, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		n, _ := c.Read(make([]byte, 1024))
		got <- n
	}()
	a := Alert{ID: 1, RuleID: "r", Title: "t", Level: sigma.LevelHigh}
	err = sendSyslog(context.Background(), "tls://"+l.Addr().String(), nil, a)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("sent to an untrusted SIEM: %v", err)
	}
	if n := <-got; n > 0 {
		t.Fatalf("the untrusted SIEM read %d bytes", n)
	}
	err = sendSyslog(context.Background(), "http://"+l.Addr().String(), nil, a)
	if err == nil || !strings.Contains(err.Error(), "tls://host:port") {
		t.Fatalf("scheme http: %v", err)
	}
}
