// Package identity is anzen's room for who may do what (guideline 6.5 (1)
// identification and authentication, (2) access rights by profession and
// role): facilities, users, roles granted per facility, passwords under the
// MHLW or NIST policy, lockout, second factors (TOTP, WebAuthn, recovery
// codes), sessions and API tokens for programs.
//
// Every change it makes is written to the audit log through a
// selfaudit.Recorder in the same transaction as the change.
package identity

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

//go:embed migrations
var migrationsFS embed.FS

//go:embed locales/*.toml
var localesFS embed.FS

// Migrations returns identity's schema history.
func Migrations() db.Migrations {
	sq, _ := fs.Sub(migrationsFS, "migrations/sqlite")
	pg, _ := fs.Sub(migrationsFS, "migrations/postgres")
	return db.Migrations{Part: "identity", SQLite: sq, Postgres: pg}
}

// Locales returns identity's message catalog files.
func Locales() fs.FS {
	sub, _ := fs.Sub(localesFS, "locales")
	return sub
}

// Profession is a user's occupation (職種).
type Profession string

// Professions, as hospitals list them.
var Professions = []Profession{"doctor", "nurse", "pharmacist", "radiological_technologist",
	"clinical_laboratory_technologist", "clerk", "it", "vendor", "other"}

// Status is whether an account may be used.
type Status string

// Account statuses.
const (
	Active  Status = "active"
	OnLeave Status = "on_leave"
	Retired Status = "retired"
)

// Statuses lists every status.
var Statuses = []Status{Active, OnLeave, Retired}

// Facility is a hospital or clinic (施設) of the organisation running anzen.
type Facility struct {
	ID     int64  `json:"id"`
	Code   string `json:"code"`
	NameJA string `json:"name_ja"`
	NameEN string `json:"name_en"`
}

// User is a person (or a vendor's engineer) who signs in to anzen.
type User struct {
	ID         int64         `json:"id"`
	Facility   int64         `json:"facility"`
	Login      string        `json:"login"`
	Name       string        `json:"name"`
	NameKana   string        `json:"name_kana"`
	Department string        `json:"department"`
	Profession Profession    `json:"profession"`
	Status     Status        `json:"status"`
	ValidFrom  time.Time     `json:"valid_from,omitzero"`
	ValidUntil time.Time     `json:"valid_until,omitzero"`
	Lang       string        `json:"lang,omitempty"`
	Grants     []authz.Grant `json:"grants"`

	PasswordChangedAt  time.Time `json:"password_changed_at,omitzero"`
	MustChangePassword bool      `json:"must_change_password"`
	FailedCount        int       `json:"failed_count"`
	LockedUntil        time.Time `json:"locked_until,omitzero"`
	LastLoginAt        time.Time `json:"last_login_at,omitzero"`
	CreatedAt          time.Time `json:"created_at"`

	passwordHash string
	passwordLong bool
}

// Locked reports whether the account is locked at now.
func (u *User) Locked(now time.Time) bool {
	return !u.LockedUntil.IsZero() && now.Before(u.LockedUntil)
}

// Usable reports whether the account may sign in at now: active and within
// its validity period.
func (u *User) Usable(now time.Time) bool {
	if u.Status != Active {
		return false
	}
	if !u.ValidFrom.IsZero() && now.Before(u.ValidFrom) {
		return false
	}
	if !u.ValidUntil.IsZero() && !now.Before(u.ValidUntil) {
		return false
	}
	return true
}

// Roles lists the distinct roles the user holds anywhere.
func (u *User) Roles() []authz.Role {
	var out []authz.Role
	for _, g := range u.Grants {
		dup := false
		for _, r := range out {
			dup = dup || r == g.Role
		}
		if !dup {
			out = append(out, g.Role)
		}
	}
	return out
}

// Principal returns the principal the user acts as.
func (u *User) Principal() *authz.Principal {
	return &authz.Principal{UserID: u.ID, Login: u.Login, Name: u.Name, Facility: u.Facility,
		Grants: u.Grants, Lang: u.Lang}
}

// Errors of the identity service; the API maps each to its problem type.
var (
	ErrInvalidCredentials = errors.New("invalid login or password")
	ErrLocked             = errors.New("account locked after repeated failures")
	ErrSecondFactor       = errors.New("second factor required or wrong")
	ErrNotFound           = db.ErrNotFound
	ErrDuplicateLogin     = errors.New("login name already in use")
)

// ValidationError lists what is wrong with an input, field by field; each
// message is an i18n message id.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	var parts []string
	for f, m := range e.Fields {
		parts = append(parts, f+": "+m)
	}
	return "invalid input: " + strings.Join(parts, ", ")
}

func (e *ValidationError) add(field, msgID string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msgID
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// checkText validates a free-text field: valid UTF-8, no control
// characters, at most max characters, and present when required.
func checkText(ve *ValidationError, field, s string, required bool, max int) {
	switch {
	case !utf8.ValidString(s):
		ve.add(field, "validation.utf8")
	case required && strings.TrimSpace(s) == "":
		ve.add(field, "validation.required")
	case utf8.RuneCountInString(s) > max:
		ve.add(field, "validation.too_long")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		ve.add(field, "validation.control_chars")
	}
}

// Settings are identity's policies, taken from the configuration.
type Settings struct {
	Policy          PasswordPolicy
	LockoutFailures int
	LockoutDuration time.Duration
	FailureDelay    time.Duration
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// SessionCacheTTL is how long a session check is answered from memory
	// (0: never); see sessioncache.go.
	SessionCacheTTL time.Duration
	MFARoles        []authz.Role
	RPID            string   // WebAuthn relying party id (host name)
	RPOrigins       []string // WebAuthn origins
	SecureCookies   bool
}

// Service is the identity part.
type Service struct {
	db    *db.DB
	clock clock.Clock
	audit selfaudit.Recorder
	set   Settings
	log   *slog.Logger
	hash  *hasher

	sessions *sessionCache
	tokens   tokenCache // API tokens checked recently; see tokencache.go
	// badTokens counts wrong bearer tokens per client address; a client
	// past the limit is refused before any look-up.
	badTokens *web.RateLimiter

	sealer  SecretSealer // seals stored TOTP secrets; see secrets.go
	onLogin []func(*User)
}

// OnLogin adds a function called after each completed sign-in.
func (s *Service) OnLogin(fn func(*User)) { s.onLogin = append(s.onLogin, fn) }

// New returns the identity service.
func New(d *db.DB, c clock.Clock, rec selfaudit.Recorder, set Settings, log *slog.Logger) (*Service, error) {
	if set.LockoutFailures < 1 {
		return nil, fmt.Errorf("identity: lockout failures must be at least 1")
	}
	if log == nil {
		log = slog.Default()
	}
	cache := newSessionCache(set.SessionCacheTTL)
	return &Service{db: d, clock: c, audit: invalidatingRecorder{next: rec, cache: cache}, set: set, log: log,
		hash: newHasher(), sessions: cache, badTokens: web.NewRateLimiter(BadTokensPerMinute)}, nil
}

// Settings returns the policies in force.
func (s *Service) Settings() Settings { return s.set }

// MFARequired reports whether any of the user's roles requires a second
// factor.
func (s *Service) MFARequired(u *User) bool {
	for _, g := range u.Grants {
		for _, r := range s.set.MFARoles {
			if g.Role == r {
				return true
			}
		}
	}
	return false
}

// Actor describes who performs an action, for the audit record.
type Actor struct {
	UserID int64
	Login  string
	Client string
}

// SystemActor is anzen itself, or the CLI run by the operator.
var SystemActor = Actor{Login: "system"}

// ActorOf returns the actor of a principal at a client address.
func ActorOf(p *authz.Principal, client string) Actor {
	if p == nil {
		return Actor{Login: "anonymous", Client: client}
	}
	return Actor{UserID: p.UserID, Login: p.Login, Client: client}
}

func (a Actor) event(action, target, outcome string, facility int64, detail map[string]string) selfaudit.Event {
	return selfaudit.Event{Facility: facility, ActorID: a.UserID, ActorLogin: a.Login, Action: action,
		Target: target, Outcome: outcome, ClientAddr: a.Client, Detail: detail}
}
