package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anzen-health/anzen/internal/ingest"
)

// startSyslog starts the syslog listeners the configuration asks for, or
// returns nil when it asks for none. Every setting is checked first (the
// mapping file, the TLS files, the facility), with errors that name the
// key.
func (a *App) startSyslog(ctx context.Context) (*ingest.Syslog, error) {
	c := a.Cfg.Syslog
	if !c.Any() {
		return nil, nil
	}
	facility, err := a.Facility(ctx, c.Facility)
	if err != nil {
		return nil, fmt.Errorf("ingest.syslog.facility: %w", err)
	}
	mapping := ingest.DefaultMapping()
	if c.Mapping != "" {
		if mapping, err = ingest.LoadMapping(c.Mapping); err != nil {
			return nil, fmt.Errorf("ingest.syslog.map: %w", err)
		}
	}
	framing, err := ingest.ParseFraming(c.Framing)
	if err != nil {
		return nil, fmt.Errorf("ingest.syslog.framing: %w", err)
	}
	cfg := ingest.SyslogConfig{UDP: c.UDP, TCP: c.TCP, TLS: c.TLS, Framing: framing, Mapping: mapping,
		Facility: facility, MaxMessage: c.MaxMessage, Log: a.Log, Now: a.Clock.Now}
	if c.TLS != "" {
		cfg.TLSConfig, err = ingest.SyslogTLS(ingest.TLSFiles{Cert: c.TLSCert, Key: c.TLSKey, ClientCA: c.ClientCA,
			RequireClientCert: c.RequireClientCert})
		var fe *ingest.TLSFileError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("ingest.syslog.%s: %w", fe.Which, fe.Err)
		}
		if err != nil {
			return nil, err
		}
	}
	s, err := ingest.NewSyslog(a.Audit, cfg)
	if err != nil {
		return nil, fmt.Errorf("ingest.syslog: %w", err)
	}
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("ingest.syslog: %w (is another program using the port?)", err)
	}
	for _, st := range s.Stats() {
		a.Log.Info("syslog listener started", "listener", st.Listener, "address", st.Address,
			"mapping", mapping.Name(), "facility", facility)
	}
	a.syslog.Store(s)
	return s, nil
}

// SyslogAddr returns the address of the running syslog listener name
// (udp, tcp or tls), or nil.
func (a *App) SyslogAddr(name string) net.Addr {
	if s := a.syslog.Load(); s != nil {
		return s.Addr(name)
	}
	return nil
}

// SyslogStats returns the counters of the running syslog listeners.
func (a *App) SyslogStats() []ingest.SyslogStats {
	if s := a.syslog.Load(); s != nil {
		return s.Stats()
	}
	return nil
}

// Facility returns the id of the facility ref names, by id or by code;
// an empty ref names the only facility, when there is just one.
func (a *App) Facility(ctx context.Context, ref string) (int64, error) {
	fs, err := a.Identity.Facilities(ctx)
	if err != nil {
		return 0, err
	}
	ref = strings.TrimSpace(ref)
	var names []string
	for _, f := range fs {
		if ref != "" && (f.Code == ref || strconv.FormatInt(f.ID, 10) == ref) {
			return f.ID, nil
		}
		names = append(names, fmt.Sprintf("%d (%s)", f.ID, f.Code))
	}
	switch {
	case ref != "":
		return 0, fmt.Errorf("no facility has the id or code %q; the facilities are %s", ref, strings.Join(names, ", "))
	case len(fs) == 1:
		return fs[0].ID, nil
	case len(fs) == 0:
		return 0, errors.New("there is no facility yet; start anzen once (anzen serve) to make the first")
	}
	return 0, fmt.Errorf("this anzen has %d facilities; name one by id or code: %s", len(fs), strings.Join(names, ", "))
}

// syslogCollector exports the syslog listeners' counters to Prometheus.
type syslogCollector struct{ a *App }

var (
	syslogMessagesDesc = prometheus.NewDesc("anzen_syslog_messages_total",
		"Syslog messages by listener and result: received, accepted (committed to the audit log), rejected, lost.",
		[]string{"listener", "result"}, nil)
	syslogConnectionsDesc = prometheus.NewDesc("anzen_syslog_connections",
		"Open syslog connections (TCP and TLS).", []string{"listener"}, nil)
)

// Describe implements prometheus.Collector.
func (c syslogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- syslogMessagesDesc
	ch <- syslogConnectionsDesc
}

// Collect implements prometheus.Collector.
func (c syslogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.a.SyslogStats() {
		for _, r := range []struct {
			result string
			n      int64
		}{{"received", st.Received}, {"accepted", st.Accepted}, {"rejected", st.Rejected}, {"lost", st.Lost}} {
			ch <- prometheus.MustNewConstMetric(syslogMessagesDesc, prometheus.CounterValue, float64(r.n), st.Listener, r.result)
		}
		if st.Listener != "udp" {
			ch <- prometheus.MustNewConstMetric(syslogConnectionsDesc, prometheus.GaugeValue, float64(st.Connections), st.Listener)
		}
	}
}
