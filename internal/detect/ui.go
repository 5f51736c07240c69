package detect

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The alerts as people read them: the list (/alerts), one alert with what
// its rule looks for, the events that raised it and its history
// (/alerts/{id}), the JSON API, and the dashboard's count of new alerts.
// Reviewing them is in ui_review.go and review.go.

// PermAlertsRead lets a caller read the alerts of the facilities where it
// is held: the people who read the access log.
var PermAlertsRead = authz.Define(authz.Spec{
	Name:   "detect.alerts.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read"},
})

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the detection part's message catalog files (ja, en).
func Locales() fs.FS {
	sub, err := fs.Sub(localesFS, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}

// alertsPageSize is how many alerts a page or an API answer holds at most.
const alertsPageSize = 50

type handlers struct {
	srv       *web.Server
	db        *db.DB
	en        *Engine
	rec       selfaudit.Recorder
	baselines *Baselines // nil: no users' baseline pages (ui_baseline.go)
	// people may be given alerts (assign.go); nil: alerts are only taken
	people People
	esc    Escalator // escalate.go; nil: alerts are not escalated here
	// escPerm is who may escalate (with the review of the alert).
	escPerm authz.Permission
}

// RegisterOption configures Register.
type RegisterOption func(*handlers)

// Register adds the alert pages, API routes, navigation entry and
// dashboard card to srv; reviews of alerts are recorded through rec.
func Register(srv *web.Server, d *db.DB, en *Engine, rec selfaudit.Recorder, opts ...RegisterOption) error {
	pages, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return err
	}
	if err := srv.AddPages("detect", pages); err != nil {
		return fmt.Errorf("detect pages: %w", err)
	}
	h := &handlers{srv: srv, db: d, en: en, rec: rec}
	for _, o := range opts {
		o(h)
	}
	read := web.Perm(PermAlertsRead)
	if h.baselines != nil {
		srv.Handle(http.MethodGet, "/detect/users/{id}", read, h.profilePage)
	}
	srv.Handle(http.MethodGet, "/alerts", read, h.listPage)
	srv.Handle(http.MethodGet, "/alerts/{id}", read, h.alertPage)
	srv.Handle(http.MethodGet, "/api/v1/detect/alerts", read, h.apiList)
	srv.Handle(http.MethodGet, "/api/v1/detect/alerts/{id}", read, h.apiAlert)
	review := web.Perm(PermAlertsReview)
	srv.Handle(http.MethodPost, "/alerts/{id}", review, h.reviewPost)
	srv.Handle(http.MethodPatch, "/api/v1/detect/alerts/{id}", review, h.apiReview)
	h.registerSuppressions() // suppress_ui.go
	h.registerEscalation()   // escalate.go
	srv.AddNav(web.NavItem{Path: "/alerts", LabelID: "nav.alerts", Access: read, Order: 15})
	srv.AddCard(web.Card{ID: "alerts", TitleID: "detect.card.title", Access: read, Order: 10, Stats: h.card})
	return nil
}

// query returns the alert query of the caller's facilities.
func query(r *http.Request) AlertQuery {
	all, ids := web.PrincipalOf(r).Facilities(PermAlertsRead)
	return AlertQuery{AllFacilities: all, Facilities: ids, Limit: alertsPageSize}
}

// describe returns what the rule of an alert looks for, in lang.
func (en *Engine) describe(ruleID, lang string) string {
	pick := func(desc string, custom map[string]any) string {
		if ja, ok := custom["description_ja"].(string); ok && lang == "ja" {
			return ja
		}
		return desc
	}
	en.mu.RLock()
	defer en.mu.RUnlock()
	for _, r := range en.rules {
		if r.Key() == ruleID {
			return pick(r.Description, r.Custom)
		}
	}
	for _, c := range en.corrs {
		if c.Key() == ruleID {
			return pick(c.Description, c.Custom)
		}
	}
	return ""
}

// alertView is an alert as the pages show it.
type alertView struct {
	Alert
	LevelName, LevelLabel, TypeLabel, Description, StateLabel string
	More                                                      int // events beyond the ones listed
	// Explanation is a baseline alert's why, in the reader's language;
	// ScoreText its score ("" for the rules' alerts); ProfileURL the page
	// of the user's baselines.
	Explanation, ScoreText, ProfileURL string
}

// detailView is what templates/alert.html sees as .Data.
type detailView struct {
	alertView
	Notes      []noteView
	Deliveries []Delivery
	CanReview  bool
	People     []Person // whom the alert may be assigned to (assign.go)
	Ops        alertOps // its incident (escalate.go)
	States     []stateOption
	Form       Review // what was typed, when it is shown again with Error
	Error      string
}

type noteView struct {
	Note
	FromLabel, ToLabel string
}

type stateOption struct {
	Value, Label string
}

func (h *handlers) view(r *http.Request, a Alert) alertView {
	v := alertView{Alert: a, LevelName: a.Level.String(), LevelLabel: h.srv.T(r, "detect.level."+a.Level.String(), nil),
		Description: h.en.describe(a.RuleID, h.srv.Lang(r)), More: max(a.Total-len(a.Seqs), 0),
		StateLabel: h.srv.T(r, "detect.state."+a.State, nil)}
	v.Title = alertTitle(a, h.srv.Catalog(), h.srv.Lang(r))
	if a.Explanation != nil {
		v.Explanation = a.Explanation.Render(h.srv.Catalog(), h.srv.Lang(r))
		v.ScoreText = strconv.FormatFloat(a.Score, 'f', 1, 64)
		if h.baselines != nil && len(a.Group) > 0 && a.Group[0].Field == "user" {
			v.ProfileURL = profileURL(a.Facility, a.Group[0].Value)
		}
	}
	if a.Correlation != "" {
		v.TypeLabel = h.srv.T(r, "detect.correlation."+a.Correlation, nil)
	}
	return v
}

// listView is what templates/alerts.html sees as .Data.
type listView struct {
	Rows     []alertView
	OlderURL string
	State    string        // the filter: open, all or a state
	Mine     bool          // only the alerts assigned to the caller
	GivenUp  bool          // only the alerts with a notification given up
	Filters  []stateOption // the choices of the filter
	Chart    chart.Bar     // the alerts of the last 30 days, whatever their state
}

func (h *handlers) listPage(w http.ResponseWriter, r *http.Request) {
	q := query(r)
	before, err := beforeParam(r)
	if err != nil {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "detect.error.before")
		return
	}
	state := r.URL.Query().Get("state")
	states, ok := StatesOf(state)
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "detect.error.state")
		return
	}
	if state == "" {
		state = "open"
	}
	q.Before, q.States = before, states
	mine := r.URL.Query().Get("assignee") == "me"
	if mine {
		q.Assignee = web.PrincipalOf(r).Login
	}
	q.GivenUp = r.URL.Query().Get("delivery") == "given_up"
	alerts, err := ListAlerts(r.Context(), h.db, q)
	if err != nil {
		h.srv.Log().Error("read alerts", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	v := &listView{State: state, Mine: mine, GivenUp: q.GivenUp}
	if v.Chart, err = h.alertsChart(r, query(r)); err != nil {
		h.srv.Log().Error("count alerts by day", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	for _, f := range append([]string{"open", "all"}, States...) {
		v.Filters = append(v.Filters, stateOption{Value: f, Label: h.srv.T(r, "detect.filter."+f, nil)})
	}
	for _, a := range alerts {
		v.Rows = append(v.Rows, h.view(r, a))
	}
	if len(alerts) == alertsPageSize {
		v.OlderURL = "/alerts?state=" + state + "&before=" + strconv.FormatInt(alerts[len(alerts)-1].ID, 10)
		if mine {
			v.OlderURL += "&assignee=me"
		}
		if q.GivenUp {
			v.OlderURL += "&delivery=given_up"
		}
	}
	h.srv.Render(w, r, http.StatusOK, "detect/alerts", v)
}

func (h *handlers) alertPage(w http.ResponseWriter, r *http.Request) {
	a, status := h.alertOf(r)
	if status != http.StatusOK {
		msg := map[int]string{http.StatusNotFound: "error.not_found", http.StatusBadRequest: "error.not_found"}[status]
		if msg == "" {
			msg = "error.internal"
		}
		h.srv.ErrorPage(w, r, status, msg)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "detect/alert", h.detail(r, a))
}

// detail makes the view of one alert with its history.
func (h *handlers) detail(r *http.Request, a Alert) *detailView {
	v := &detailView{alertView: h.view(r, a), CanReview: web.PrincipalOf(r).CanIn(PermAlertsReview, a.Facility)}
	if a.Facility == 0 {
		v.CanReview, _ = web.PrincipalOf(r).Facilities(PermAlertsReview)
	}
	notes, err := Notes(r.Context(), h.db, a.ID)
	if err != nil {
		h.srv.Log().Error("read the history of an alert", "err", err)
	}
	if v.Deliveries, err = Deliveries(r.Context(), h.db, a.ID); err != nil {
		h.srv.Log().Error("read the notifications of an alert", "err", err)
	}
	for _, n := range notes {
		v.Notes = append(v.Notes, noteView{Note: n, FromLabel: h.srv.T(r, "detect.state."+n.From, nil),
			ToLabel: h.srv.T(r, "detect.state."+n.To, nil)})
	}
	if v.CanReview {
		v.People = h.reviewersOf(r.Context(), a)
	}
	v.Ops = h.alertOps(r, a, v.CanReview)
	for _, st := range States {
		v.States = append(v.States, stateOption{Value: st, Label: h.srv.T(r, "detect.state."+st, nil)})
	}
	return v
}

// alertOf reads the alert named by the path, within the caller's
// facilities (another facility's alert is not found).
func (h *handlers) alertOf(r *http.Request) (Alert, int) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return Alert{}, http.StatusBadRequest
	}
	a, err := AlertByID(r.Context(), h.db, query(r), id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return a, http.StatusNotFound
	case err != nil:
		h.srv.Log().Error("read an alert", "err", err)
		return a, http.StatusInternalServerError
	}
	return a, http.StatusOK
}

func beforeParam(r *http.Request) (int64, error) {
	s := r.URL.Query().Get("before")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("before is not an alert id")
	}
	return n, nil
}

// card counts the new alerts of the last 24 hours by level.
func (h *handlers) card(r *http.Request) ([]web.Stat, error) {
	counts, err := CountNew(r.Context(), h.db, query(r), h.en.clock.Now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	const link = "/alerts"
	urgent := counts[sigma.LevelCritical] + counts[sigma.LevelHigh]
	stats := []web.Stat{{LabelID: "detect.card.urgent", Value: strconv.Itoa(urgent), Level: "ok", Link: link},
		{LabelID: "detect.card.medium", Value: strconv.Itoa(counts[sigma.LevelMedium]), Link: link},
		{LabelID: "detect.card.low", Value: strconv.Itoa(counts[sigma.LevelLow] + counts[sigma.LevelInformational]), Link: link}}
	if urgent > 0 {
		stats[0].Level = "bad"
	}
	if counts[sigma.LevelMedium] > 0 {
		stats[1].Level = "warn"
	}
	given, err := h.givenUpStat(r) // notify_health.go
	if err != nil {
		return nil, err
	}
	if given != nil {
		stats = append(stats, *given)
	}
	return stats, nil
}
