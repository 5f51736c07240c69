package detect

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/chart"
)

// The page of a user's baselines (/detect/users/{id}?facility=N): the
// usual of each metric beside today's value, the usual hours, and the
// patients of each day of the history drawn as a chart. A baseline
// alert's page links to it. Read with detect.alerts.read, within the
// caller's facilities.

// WithProfiles adds the users' baseline pages, which the baselines'
// alerts link to.
func WithProfiles(b *Baselines) RegisterOption {
	return func(h *handlers) { h.baselines = b }
}

// profileURL is the page of a user's baselines in a facility.
func profileURL(facility int64, user string) string {
	return "/detect/users/" + url.PathEscape(user) + "?facility=" + strconv.FormatInt(facility, 10)
}

// profileView is what templates/baseline_user.html sees as .Data.
type profileView struct {
	Profile
	BasisText  string
	Rows       []profileRow
	UsualHours string
	Hours      string // today's unusual hours
	Chart      chart.Bar
}

type profileRow struct {
	ProfileMetric
	Label, Usual, Threshold string
}

func (h *handlers) profilePage(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("id")
	facility, err := strconv.ParseInt(r.URL.Query().Get("facility"), 10, 64)
	if err != nil || facility < 0 || user == "" {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "detect.baseline.error.facility")
		return
	}
	q := query(r)
	if !q.AllFacilities && !containsFacility(q.Facilities, facility) {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	p, ok, err := h.baselines.Profile(r.Context(), facility, user)
	if err != nil {
		h.srv.Log().Error("read a user's baselines", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	lang := h.srv.Lang(r)
	v := &profileView{Profile: p, UsualHours: hoursText(lang, p.UsualHours)}
	if v.UsualHours == "" {
		v.UsualHours = "—"
	}
	data := map[string]any{"Days": p.Days, "Warmup": p.Warmup, "Peers": p.Peers}
	switch p.Basis {
	case basisUser:
		v.BasisText = h.srv.T(r, "detect.baseline.page.basis_user", data)
	case basisPeers:
		v.BasisText = h.srv.T(r, "detect.baseline.page.basis_peers", data)
	default:
		v.BasisText = h.srv.T(r, "detect.baseline.page.basis_none", data)
	}
	var unusual []int
	for hr, n := range p.TodayHours {
		if n > 0 && !containsInt(p.UsualHours, hr) {
			unusual = append(unusual, hr)
		}
	}
	v.Hours = hoursText(lang, unusual)
	for _, m := range p.Metrics {
		v.Rows = append(v.Rows, profileRow{ProfileMetric: m, Label: h.srv.T(r, "detect.baseline.metric."+m.Name, nil),
			Usual: fmt.Sprintf("%d–%d", m.Lo, m.Hi), Threshold: chart.Format(m.Threshold)})
	}
	v.Chart = h.profileChart(r, p)
	h.srv.Render(w, r, http.StatusOK, "detect/baseline_user", v)
}

// profileChart draws the patients of each day: up to the threshold, and
// beyond it.
func (h *handlers) profileChart(r *http.Request, p Profile) chart.Bar {
	threshold := -1.0
	for _, m := range p.Metrics {
		if m.Name == metricNames[metricPatients] {
			threshold = m.Threshold
		}
	}
	within := chart.Series{Name: h.srv.T(r, "detect.baseline.chart.within", nil), Color: "#0072b2"}
	beyond := chart.Series{Name: h.srv.T(r, "detect.baseline.chart.beyond", nil), Color: "#b3261e"}
	b := chart.Bar{ID: "baseline-chart", Title: h.srv.T(r, "detect.baseline.chart.title", nil), Stacked: true,
		XLabel: h.srv.T(r, "detect.baseline.chart.x", nil), YLabel: h.srv.T(r, "detect.baseline.chart.y", nil),
		Empty: h.srv.T(r, "detect.chart.empty", nil)}
	var days []string
	for _, d := range p.History {
		b.Categories = append(b.Categories, d.Date[5:])
		n := float64(d.Patients)
		if threshold >= 0 && n > threshold {
			within.Values, beyond.Values = append(within.Values, threshold), append(beyond.Values, n-threshold)
		} else {
			within.Values, beyond.Values = append(within.Values, n), append(beyond.Values, 0)
		}
		days = append(days, fmt.Sprintf("%s %d", d.Date[5:], d.Patients))
	}
	b.Series = []chart.Series{within, beyond}
	b.Desc = h.srv.T(r, "detect.baseline.chart.desc", map[string]any{"Days": len(p.History), "List": strings.Join(days, ", ")})
	return b
}

func containsFacility(ids []int64, id int64) bool {
	for _, f := range ids {
		if f == id {
			return true
		}
	}
	return false
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
