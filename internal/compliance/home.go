package compliance

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The home page: anzen's dashboard. Whoever may read the compliance of
// the facility sees first where it stands against the guideline — the
// overall figure and the checklist's progress, what needs doing this week,
// the coverage of each chapter, the items edition 5.1 revised, and the
// trend of the last 90 days — and then, like everyone signed in, the other
// parts' dashboard cards. Someone without compliance.read (a nurse, a
// vendor) sees the cards only, with no hint of the figures above them.
// The page reads; it changes nothing, so it records nothing in the audit
// log.

//go:embed templates/home/*.html
var homeTemplatesFS embed.FS

//go:embed static/home/*.css
var homeStaticFS embed.FS

// homeSource is what the home page reads: the Service.
type homeSource interface {
	State(ctx context.Context, facility int64) (*State, error)
	Trend(ctx context.Context, facility int64, days int) ([]DayScore, error)
	Library() *Library
	Facilities(ctx context.Context) ([]Facility, error)
}

// trendDays is how far back the home page's trend reaches.
const trendDays = 90

// homeStatic is the name the home page's stylesheet is served under
// (/static/compliance-home/home.css).
const homeStatic = "compliance-home"

// registerHome makes the home page anzen's "/". dashboardPerm is the
// permission that opens the dashboard (identity's), passed in because a
// part does not import another.
func registerHome(srv *web.Server, src homeSource, dashboardPerm authz.Permission) error {
	pages, err := fs.Sub(homeTemplatesFS, "templates/home")
	if err != nil {
		return err
	}
	if err := srv.AddPages("compliance", pages); err != nil {
		return fmt.Errorf("compliance home page: %w", err)
	}
	static, err := fs.Sub(homeStaticFS, "static/home")
	if err != nil {
		return err
	}
	srv.AddStatic(homeStatic, static)
	h := &homePage{srv: srv, src: src}
	srv.Handle("GET", "/{$}", web.Perm(dashboardPerm), h.serve)
	return nil
}

type homePage struct {
	srv *web.Server
	src homeSource
}

// homeView is what the template shows.
type homeView struct {
	// Compliance is set when the caller reads the facility's compliance
	// and its state could be read; the panels show only then.
	Compliance bool
	Problem    string // message id of a bad request (an invalid facility)
	Failed     bool   // the state could not be read; the error is logged
	Facility   int64
	// Choices are the facilities whose compliance the caller reads, for
	// the picker; shown when there are several.
	Choices    []homeChoice
	Name       string    // the facility's name in the page's language
	At         time.Time // when the state was computed
	Overall    homeCoverage
	Checklist  *homeChecklist // nil without a checklist in the library
	Attention  []homeAttention
	More       int // attention items beyond those listed
	Chapters   []homeCoverage
	Revised    []homeItem
	Trend      *chart.Line // nil when there is no history yet
	TrendDays  int
	TrendError bool
	Cards      []web.FilledCard
}

// homeChoice is a facility of the picker.
type homeChoice struct {
	ID   int64
	Name string
}

// homeCoverage is one chapter's (or the whole guideline's) items by
// readiness, with its bar.
type homeCoverage struct {
	Ref, Title, Link                      string
	Ready, Attention, NotReady, NotAssess int
	Excluded, Assessed                    int // Assessed leaves the excluded out
	Percent                               int
	Bar                                   template.HTML
	Counts                                []homeCount // ready, attention, not ready, not assessed
}

// homeChip is a readiness as the page shows it: its colour (the class),
// an icon and the word, so that it reads without colour.
type homeChip struct {
	Class, Icon, Label string
}

// homeCount is a chip with a number.
type homeCount struct {
	Chip homeChip
	N    int
}

// homeItem is a revised item with its readiness.
type homeItem struct {
	Number, Title, Link string
	Chip                homeChip
}

// homeAttention is a line of the week's to-do list.
type homeAttention struct {
	KindLabel, Title, Link string
	Level                  string // the class: attention or not_ready
	Chip                   homeChip
	Due                    string // "due 2026-04-11", "overdue (was due …)", or ""
	Overdue                bool
}

// homeChecklist is the progress of the checklist's hospital sheet.
type homeChecklist struct {
	Name, Sheet     string
	Counts          []homeCount // はい, いいえ, unanswered
	Yes, No, Open   int
	Total, Answered int
	PercentAnswered int
	Bar             template.HTML
	Link            string
}

// homeAttentionMax is how many attention items the page lists; the rest
// are counted.
const homeAttentionMax = 20

func (h *homePage) serve(w http.ResponseWriter, r *http.Request) {
	v := &homeView{TrendDays: trendDays}
	status := http.StatusOK
	f, err := requestFacility(r, PermRead)
	switch {
	case errors.Is(err, errFacility) && r.URL.Query().Has("facility"):
		v.Problem, status = "compliance.error.facility", http.StatusBadRequest
	case err != nil:
		// Not a reader of this facility's compliance (or no facility of
		// its own): the cards only.
	default:
		h.fill(r, v, f)
	}
	v.Cards = h.srv.FilledCards(r)
	h.srv.Render(w, r, status, "compliance/home", v)
}

// fill reads the facility's state and trend into v.
func (h *homePage) fill(r *http.Request, v *homeView, facility int64) {
	ctx := r.Context()
	st, err := h.src.State(ctx, facility)
	if err != nil {
		h.srv.Log().Error("home page: compliance state", "facility", facility, "err", err)
		v.Failed = true
		return
	}
	lang := h.srv.Lang(r)
	b := homeBuilder{srv: h.srv, r: r, lang: lang, lib: h.src.Library(), st: st, query: facilityQuery(r, facility)}
	v.Compliance = true
	v.Facility, v.Name, v.At = facility, st.FacilityName.In(lang), st.At
	if fs, err := h.src.Facilities(ctx); err == nil {
		p := web.PrincipalOf(r)
		for _, f := range fs {
			if p.CanIn(PermRead, f.ID) {
				v.Choices = append(v.Choices, homeChoice{ID: f.ID, Name: f.Name.In(lang)})
			}
		}
	}
	v.Overall = b.coverage("overall", st.Overall, "")
	for _, c := range st.Chapters {
		v.Chapters = append(v.Chapters, b.coverage("chapter-"+c.Ref, c, b.link("/compliance/catalog", "", "chapter", c.Ref)))
	}
	v.Revised = b.revised()
	v.Attention, v.More = b.attention()
	v.Checklist = b.checklist()
	scores, err := h.src.Trend(ctx, facility, trendDays)
	if err != nil {
		h.srv.Log().Error("home page: compliance trend", "facility", facility, "err", err)
		v.TrendError = true
		return
	}
	v.Trend = b.trend(scores)
}
