package compliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The service is the part's one entry: the library of catalogs and
// controls, every part's checks, and the facility's records in the
// database. The pages, the API, the dashboard, the reports and the
// command line all go through it.

// Service keeps a hospital group's compliance.
type Service struct {
	cfg    Config
	lib    *Library
	checks map[string]check.Check
	order  []string // check ids, sorted

	// reqControls lists, for each "<framework>:<ref>", the ids of the
	// controls that answer it, in library order.
	reqControls map[string][]string
	// checkControls lists, for each check id, the controls that use it.
	checkControls map[string][]string
}

// japan is the hospital's time zone unless Config.Location says.
var japan = func() *time.Location {
	l, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*3600)
	}
	return l
}()

// New returns the service of cfg over the library built into anzen. Every
// check of cfg.Checks must be valid and have its own id; the clock, the
// log and the location have defaults.
func New(cfg Config) (*Service, error) {
	lib, err := Builtin()
	if err != nil {
		return nil, fmt.Errorf("compliance: the built-in catalogs: %w", err)
	}
	return NewWithLibrary(cfg, lib)
}

// NewWithLibrary is New over another library (tests, a hospital's own
// catalogs).
func NewWithLibrary(cfg Config, lib *Library) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("compliance: no database")
	}
	if lib == nil || lib.Guideline() == nil {
		return nil, errors.New("compliance: the library has no guideline")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Location == nil {
		cfg.Location = japan
	}
	if cfg.Recorder == nil {
		return nil, errors.New("compliance: no audit recorder")
	}
	s := &Service{cfg: cfg, lib: lib, checks: map[string]check.Check{}, reqControls: map[string][]string{},
		checkControls: map[string][]string{}}
	for _, c := range cfg.Checks {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("compliance: %w", err)
		}
		if _, dup := s.checks[c.ID]; dup {
			return nil, fmt.Errorf("compliance: check %s is registered twice", c.ID)
		}
		s.checks[c.ID] = c
		s.order = append(s.order, c.ID)
	}
	sort.Strings(s.order)
	for _, c := range lib.Controls {
		for _, r := range c.Requirements {
			s.reqControls[r] = append(s.reqControls[r], c.ID)
		}
		for _, id := range c.Checks {
			s.checkControls[id] = append(s.checkControls[id], c.ID)
		}
	}
	return s, nil
}

// Library returns the catalogs and controls the service assesses against.
func (s *Service) Library() *Library { return s.lib }

// Config returns the service's configuration, with its defaults filled.
func (s *Service) Config() Config { return s.cfg }

// Check returns the registered check of id.
func (s *Service) Check(id string) (check.Check, bool) {
	c, ok := s.checks[id]
	return c, ok
}

// Checks returns the registered checks, by id.
func (s *Service) Checks() []check.Check {
	out := make([]check.Check, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.checks[id])
	}
	return out
}

// ControlsOfCheck returns the ids of the controls that use check id.
func (s *Service) ControlsOfCheck(id string) []string { return s.checkControls[id] }

// Facilities returns the facilities of the group; without a
// Config.Facilities, facility 1 alone.
func (s *Service) Facilities(ctx context.Context) ([]Facility, error) {
	if s.cfg.Facilities == nil {
		return []Facility{{ID: 1, Code: "1", Name: Text{JA: "施設 1", EN: "Facility 1"}}}, nil
	}
	fs, err := s.cfg.Facilities(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the facilities: %w", err)
	}
	return fs, nil
}

// facilityName is the name of facility f; db.ErrNotFound when the group
// has no such facility.
func (s *Service) facilityName(ctx context.Context, f int64) (Text, error) {
	fs, err := s.Facilities(ctx)
	if err != nil {
		return Text{}, err
	}
	for _, x := range fs {
		if x.ID == f {
			return x.Name, nil
		}
	}
	return Text{}, fmt.Errorf("facility %d: %w", f, db.ErrNotFound)
}

// Today is the date of t where the hospital is, as midnight UTC (how the
// part stores dates).
func (s *Service) Today(t time.Time) time.Time {
	y, m, d := t.In(s.cfg.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// FiscalYear is the Japanese fiscal year (April to March) of a date: 2026
// for 2026-04-01 … 2027-03-31.
func FiscalYear(day time.Time) int {
	if day.Month() < time.April {
		return day.Year() - 1
	}
	return day.Year()
}

// Error is a change refused for what was asked: Field names what is wrong
// and MsgID its message. Conflict is true when the request was well
// formed but the record's state does not allow it (a decided attestation,
// one's own upload).
type Error struct {
	Field, MsgID string
	Conflict     bool
}

func (e *Error) Error() string { return "compliance: " + e.Field + ": " + e.MsgID }

func invalid(field, msgID string) error { return &Error{Field: field, MsgID: msgID} }

func conflict(field, msgID string) error { return &Error{Field: field, MsgID: msgID, Conflict: true} }

// Limits of what people write.
const (
	maxTitle = 200
	maxNote  = 2000
	maxLogin = 100
)

// text trims *v and checks its length and characters.
func text(v *string, field string, max int, required bool) error {
	*v = strings.TrimSpace(*v)
	switch {
	case required && *v == "":
		return invalid(field, "compliance.error."+field+"_required")
	case utf8.RuneCountInString(*v) > max || !utf8.ValidString(*v):
		return invalid(field, "compliance.error.too_long")
	case strings.ContainsFunc(*v, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\r' && r != '\t') || r == 0x7f }):
		return invalid(field, "compliance.error.control_chars")
	}
	return nil
}

// record writes an event of the part in the audit log, in tx.
func (s *Service) record(ctx context.Context, q db.Querier, a Actor, facility int64, action, target string, detail map[string]string, now time.Time) error {
	login := a.Login
	if login == "" {
		login = "system"
	}
	return s.cfg.Recorder.Record(ctx, q, selfaudit.Event{Time: now, Facility: facility, ActorID: a.UserID, ActorLogin: login,
		Action: action, Target: target, Outcome: selfaudit.Success, ClientAddr: a.Client, Detail: detail})
}
