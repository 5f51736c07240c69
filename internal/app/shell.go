package app

import (
	"io/fs"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// PermMetrics reads the Prometheus metrics; a scraper uses an API token
// with the "metrics" scope.
var PermMetrics = authz.Define(authz.Spec{Name: "metrics.read", Kind: authz.Read,
	Roles: []authz.Role{authz.Admin}, Scopes: []string{"metrics"}})

// catalogs lists every part's message files.
func catalogs() []fs.FS {
	return []fs.FS{web.Locales(), identity.Locales(), audit.Locales(), keys.Locales(), ingest.Locales(), detect.Locales(), incident.Locales(), compliance.Locales()}
}

// registerShell adds what belongs to no single part: the dashboard's menu
// entry, the health check and the metrics.
func (a *App) registerShell(srv *web.Server) {
	// "/" is the compliance part's dashboard (compliance.Register).
	srv.AddNav(web.NavItem{Path: "/", LabelID: "nav.dashboard", Access: web.Perm(identity.PermDashboard), Order: 0})
	srv.Handle("GET", "/healthz", web.Public, a.healthz)
	a.registerOpenAPI(srv)
	if a.Cfg.Metrics {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewDBStatsCollector(a.DB.SQL(), string(a.DB.Dialect())), syslogCollector{a})
		h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		srv.HandleAPI("GET", "/metrics", web.Perm(PermMetrics), h.ServeHTTP)
	}
}

// healthz answers 200 "ok" when the database answers, else 503.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.DB.Ping(r.Context()); err != nil {
		a.Log.Error("health check: database does not answer", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
