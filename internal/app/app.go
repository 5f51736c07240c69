// Package app is anzen's composition root: it reads the configuration,
// opens the database, builds every part, connects them through the small
// interfaces they declare, and starts the listeners and background jobs.
// Nothing else in anzen knows more than one part.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/pdf"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// App is a running anzen: its database and every part.
type App struct {
	Cfg      *config.Config
	Log      *slog.Logger
	DB       *db.DB
	Clock    clock.Clock
	Audit    *audit.Log
	Identity *identity.Service
	Keys     *keys.Service
	Catalog  *i18n.Catalog
	Mail     *mail.Mailer   // anzen's outgoing mail (auditkeep.go)
	Detect   *detect.Engine // the rules over the audit log (detect.go)
	// Baselines learns users' usual days and alerts beyond them
	// (detect.go); nil when detect.baseline.enabled is false.
	Baselines *detect.Baselines
	Tables    *detect.Tables // the hospital's reference tables the rules use (detect.go)

	// Compliance runs every part's checks and keeps the evidence of the
	// guideline's measures (compliance.go).
	Compliance *compliance.Service

	syslog  atomic.Pointer[ingest.Syslog] // the running syslog listeners (ingest_syslog.go)
	pdfOnce sync.Once
	pdf     *pdf.Renderer // the reports' PDF renderer, nil without Chromium (incident.go)
}

// Migrations lists every part's schema, in the order they are applied.
func Migrations() []db.Migrations {
	return []db.Migrations{audit.Migrations(), identity.Migrations(), keys.Migrations(), detect.Migrations(), incident.Migrations(), compliance.Migrations()}
}

// Open unseals the key service's root of trust (unseal.go), opens the
// database, applies migrations and builds the parts. A wrong unseal
// passphrase stops it before anything is written. It starts nothing;
// Serve does.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, clk clock.Clock, opts ...Option) (*App, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	o := &options{getenv: os.Getenv}
	for _, opt := range opts {
		opt(o)
	}
	plan, err := planUnseal(cfg, o)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DSN, cfg.DataDir)
	if err != nil {
		closeRoot(plan.root)
		return nil, err
	}
	if err := d.Migrate(ctx, log, Migrations()...); err != nil {
		closeRoot(plan.root)
		d.Close()
		return nil, err
	}
	a := &App{Cfg: cfg, Log: log, DB: d, Clock: clk}
	a.Audit = audit.New(d, clk, audit.WithLogger(log), audit.WithClockTolerance(cfg.Audit.ClockTolerance),
		audit.WithOrigin(cfg.Audit.Origin), audit.WithCheckpoints(checkpointKey{a}, cfg.Audit.CheckpointEvents),
		audit.WithSourceSilence(cfg.Audit.SourceSilence), audit.WithCheckpointInterval(cfg.Audit.CheckpointInterval),
		audit.WithRetention(cfg.Audit.RetentionYears, cfg.AuditArchiveDir()), audit.WithVerifyInterval(cfg.Audit.VerifyInterval))
	if n, err := a.Audit.AdoptLegacy(ctx); err != nil {
		closeRoot(plan.root)
		d.Close()
		return nil, err
	} else if n > 0 {
		log.Info("moved the security events of the previous version onto the audit log", "events", n)
	}
	root, err := a.finishUnseal(ctx, plan, o)
	if err != nil {
		closeRoot(plan.root)
		d.Close()
		return nil, err
	}
	a.Keys = keys.New(d, clk, a.Audit, log)
	a.Keys.Unseal(root)
	a.Identity, err = identity.New(d, clk, a.Audit, identitySettings(cfg), log)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Identity.OnLogin(a.forgetInitialPassword)
	if err := a.ensureCheckpointKey(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.sealSecrets(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("seal stored secrets: %w", err)
	}
	if err := a.recordConfiguration(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("record configuration: %w", err)
	}
	a.Catalog = i18n.New()
	for _, loc := range catalogs() {
		if err := a.Catalog.Add(loc); err != nil {
			a.Close()
			return nil, err
		}
	}
	if err := a.setupWitnesses(o.getenv); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.setupDetect(); err != nil {
		a.Close()
		return nil, err
	}
	if a.Compliance, err = compliance.New(a.complianceConfig()); err != nil {
		a.Close()
		return nil, fmt.Errorf("compliance: %w", err)
	}
	return a, nil
}

// Close writes the key uses not yet recorded, lets go of the HSM when there
// is one, and closes the database.
func (a *App) Close() error {
	if a.Keys != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Keys.FlushUsage(ctx, true); err != nil {
			a.Log.Error("record key usage", "err", err)
		}
		cancel()
		if r, err := a.Keys.Root(); err == nil {
			closeRoot(r)
		}
	}
	return a.DB.Close()
}

// closeRoot lets go of a root of trust that holds resources (an HSM's
// sessions).
func closeRoot(r keys.Root) {
	if c, ok := r.(io.Closer); ok {
		_ = c.Close()
	}
}

func identitySettings(cfg *config.Config) identity.Settings {
	var roles []authz.Role
	for _, r := range cfg.MFARoles {
		roles = append(roles, authz.Role(r))
	}
	base, _ := url.Parse(cfg.BaseURL())
	return identity.Settings{
		Policy: identity.PasswordPolicy{Profile: cfg.PasswordProfile, MinLength: cfg.PasswordMinLength,
			MinClasses: cfg.PasswordMinClasses, MaxAge: cfg.PasswordMaxAge, History: cfg.PasswordHistory},
		LockoutFailures: cfg.LockoutFailures,
		LockoutDuration: cfg.LockoutDuration,
		FailureDelay:    cfg.FailureDelay,
		SessionIdle:     cfg.SessionIdle,
		SessionLifetime: cfg.SessionLifetime,
		SessionCacheTTL: cfg.SessionCacheTTL,
		MFARoles:        roles,
		RPID:            base.Hostname(),
		RPOrigins:       []string{cfg.BaseURL()},
		SecureCookies:   cfg.HTTPS(),
	}
}

// Handler builds the web server with every part's pages and API.
func (a *App) Handler() (http.Handler, *web.Server, error) {
	var proxies []netip.Prefix
	for _, p := range a.Cfg.TrustedProxies {
		if pre, err := netip.ParsePrefix(p); err == nil {
			proxies = append(proxies, pre)
		} else if addr, err := netip.ParseAddr(p); err == nil {
			proxies = append(proxies, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	srv := web.NewServer(web.Options{Log: a.Log, Catalog: a.Catalog, DefaultLang: a.Cfg.Lang,
		Location: a.Cfg.Location(), TLS: a.Cfg.HTTPS(), MaxBodyBytes: a.Cfg.MaxBodyBytes,
		TrustedProxies: proxies, PendingPath: "/login/continue", LoginPath: "/login"})
	if err := identity.Register(srv, a.Identity, a.Cfg.LoginRatePerMin); err != nil {
		return nil, nil, err
	}
	if err := audit.Register(srv, a.Audit); err != nil {
		return nil, nil, err
	}
	if err := keys.Register(srv, a.Keys); err != nil {
		return nil, nil, err
	}
	if err := ingest.Register(srv, ingest.Config{Sink: a.Audit, Recorder: a.Audit, Clock: a.Clock,
		Facilities: a.facilityIDs}); err != nil {
		return nil, nil, err
	}
	var detectOpts []detect.RegisterOption
	if a.Baselines != nil {
		detectOpts = append(detectOpts, detect.WithProfiles(a.Baselines))
	}
	// Reviewers escalate alerts into incidents (internal/incident).
	detectOpts = append(detectOpts, detect.WithEscalator(a.incidentEscalator(), incident.PermManage))
	if err := detect.Register(srv, a.DB, a.Detect, a.Audit, append(detectOpts, detect.WithPeople(alertPeople{a}))...); err != nil {
		return nil, nil, err
	}
	detect.RegisterRules(srv, a.DB, a.Detect, a.Audit, a.Audit)
	detect.RegisterTables(srv, detect.TablesConfig{DB: a.DB, Tables: a.Tables, Recorder: a.Audit, Clock: a.Clock,
		Facilities: a.facilityIDs})
	if err := a.registerIncident(srv); err != nil {
		return nil, nil, err
	}
	// The compliance dashboard is the home page.
	if err := compliance.Register(srv, a.Compliance, identity.PermDashboard); err != nil {
		return nil, nil, err
	}
	a.registerShell(srv)
	return srv.Handler(), srv, nil
}

// facilityIDs lists the ids of the facilities, for ingestion records that
// name one.
func (a *App) facilityIDs(ctx context.Context) ([]int64, error) {
	fs, err := a.Identity.Facilities(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids, nil
}

// InitialPasswordFile is where the first administrator's one-time password
// is written on first start, beside the console.
func (a *App) InitialPasswordFile() string {
	return filepath.Join(a.Cfg.DataDir, "initial-admin.txt")
}

// Bootstrap prepares an empty database: the first facility and the
// administrator "admin" with a one-time password, printed to out and
// written to initial-admin.txt (mode 0600) until the first sign-in.
func (a *App) Bootstrap(ctx context.Context, out io.Writer) error {
	n, err := a.Identity.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	f, err := a.Identity.EnsureFacility(ctx, identity.Facility{Code: "main", NameJA: "本院", NameEN: "Main hospital"})
	if err != nil {
		return err
	}
	_, password, err := a.Identity.CreateUser(ctx, identity.SystemActor, identity.NewUser{
		Facility: f.ID, Login: "admin", Name: "管理者", NameKana: "カンリシャ", Department: "情報システム",
		Profession: "it", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}})
	if err != nil {
		return fmt.Errorf("create first administrator: %w", err)
	}
	if err := os.MkdirAll(a.Cfg.DataDir, 0o700); err != nil {
		return err
	}
	text := fmt.Sprintf("login: admin\npassword: %s\n", password)
	if err := os.WriteFile(a.InitialPasswordFile(), []byte(text), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", a.InitialPasswordFile(), err)
	}
	fmt.Fprintf(out, "\n  最初の管理者を作成しました / first administrator created\n"+
		"    login:    admin\n    password: %s\n"+
		"  初回ログイン時にパスワード変更と二要素認証の登録が必要です。\n"+
		"  You must change this password and enrol a second factor at first sign-in.\n"+
		"  (also written to %s until then)\n\n", password, a.InitialPasswordFile())
	return nil
}

// forgetInitialPassword deletes initial-admin.txt once admin has signed in.
func (a *App) forgetInitialPassword(u *identity.User) {
	if u.Login != "admin" {
		return
	}
	if err := os.Remove(a.InitialPasswordFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		a.Log.Warn("could not delete the initial password file", "file", a.InitialPasswordFile(), "err", err)
	}
}

// Serve listens for HTTP until ctx ends, runs background jobs, and shuts
// down gracefully.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	h, _, err := a.Handler()
	if err != nil {
		return err
	}
	hs := &http.Server{Addr: a.Cfg.Listen, Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	ln, err := listen(a.Cfg.Listen)
	if err != nil {
		return err
	}
	// The syslog listeners start once the HTTP listener is ready.
	syslog, err := a.startSyslog(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		var wg sync.WaitGroup
		wg.Go(func() { a.runJobs(jobsCtx) })
		wg.Go(func() { a.runAudit(jobsCtx) })
		wg.Go(func() { a.runDetect(jobsCtx) })
		wg.Go(func() { a.runIncident(jobsCtx) })              // reminders of reporting duties and tasks
		wg.Go(func() { a.RunEmergencyAccountCheck(jobsCtx) }) // incident_org.go
		wg.Go(func() { a.runCompliance(jobsCtx) })            // checks when due, evidence reminders
		wg.Wait()
	}()
	errc := make(chan error, 1)
	go func() {
		if a.Cfg.TLS() {
			errc <- hs.ServeTLS(ln, a.Cfg.TLSCert, a.Cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	a.Log.Info("anzen is listening", "address", ln.Addr().String(), "url", a.Cfg.BaseURL(),
		"database", string(a.DB.Dialect()))
	if ready != nil {
		ready(ln.Addr().String())
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serveErr == nil {
		serveErr = hs.Shutdown(shutdownCtx)
	}
	// What the syslog listeners read is committed before the last
	// checkpoint.
	if syslog != nil {
		if err := syslog.Stop(shutdownCtx); err != nil {
			a.Log.Error("stop the syslog listeners", "err", err)
			serveErr = errors.Join(serveErr, err)
		}
	}
	stopJobs()
	<-jobsDone
	// The key uses of the last minutes go to the audit log before anzen
	// stops, and the log gets a checkpoint of all it holds.
	if err := a.Keys.FlushUsage(shutdownCtx, true); err != nil {
		a.Log.Error("record key usage at shutdown", "err", err)
		serveErr = errors.Join(serveErr, err)
	}
	if err := a.Audit.Flush(shutdownCtx); err != nil {
		a.Log.Error("move security events onto the audit log at shutdown", "err", err)
		serveErr = errors.Join(serveErr, err)
	}
	a.signCheckpoint(shutdownCtx)
	return serveErr
}

// runJobs runs the background jobs until ctx ends.
func (a *App) runJobs(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	usage := time.NewTicker(a.Cfg.KeysUsageFlush)
	defer usage.Stop()
	rotation := time.NewTicker(rotationCheck)
	defer rotation.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := a.Identity.PurgeExpiredSessions(ctx); err != nil {
				a.Log.Error("purge sessions", "err", err)
			} else if n > 0 {
				a.Log.Debug("purged expired sessions", "count", n)
			}
		case <-usage.C:
			if err := a.Keys.FlushUsage(ctx, false); err != nil {
				a.Log.Error("record key usage", "err", err)
			}
		case <-rotation.C:
			a.rotateKeys(ctx)
			if n, err := a.Keys.RecordExpiryWarnings(ctx); err != nil {
				a.Log.Error("check certificate expiry", "err", err)
			} else if n > 0 {
				a.Log.Warn("certificates of signing keys are near expiry; see the dashboard", "warnings", n)
			}
		}
	}
}

// rotationCheck is how often the job looks for keys due for rotation.
const rotationCheck = 10 * time.Minute

// rotateKeys rotates every key whose rotation period has passed.
func (a *App) rotateKeys(ctx context.Context) {
	rotated, err := a.Keys.RotateDue(ctx)
	for _, name := range rotated {
		a.Log.Info("rotated key", "key", name)
	}
	if err != nil {
		a.Log.Error("rotate keys", "err", err)
	}
}

// NewLogger returns anzen's own logger as configured.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another program using the port? set --listen)", addr, err)
	}
	return ln, nil
}
