package keys

import (
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// versionRow is one version of the detail page's table.
type versionRow struct {
	Version
	StateLabel, Level, RootLabel string
	BelowMin                     bool // refused for decryption by the minimum version
	CanDisable, CanEnable        bool
}

// keyView is what templates/key.html sees as .Data.
type keyView struct {
	Key          *Key
	Row          keyRow
	RotationDays int // 0: no automatic rotation
	Operations   []string
	Versions     []versionRow
	MinVersions  []pageOption
	Grants       grantsView
	Chart        template.HTML
	ChartTable   template.HTML
	Lifecycle    lifecycleView // certificates and destroy requests (ui_certs.go, ui_destroy.go)
	Sealed       bool
	CanManage    bool
	Fields       map[string]string
}

func (h *handlers) keyPage(w http.ResponseWriter, r *http.Request) {
	h.renderKey(w, r, http.StatusOK, nil, nil)
}

// renderKey shows the key of the route. posted is the grants form as
// typed, to show again with its errors; nil shows the stored grants.
func (h *handlers) renderKey(w http.ResponseWriter, r *http.Request, status int, fields map[string]string, posted []Grant) {
	ctx := r.Context()
	k, err := h.svc.Get(ctx, r.PathValue("name"))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	grants, err := h.svc.Grants(ctx, k.Name)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	if fields == nil {
		fields = map[string]string{}
	}
	v := keyView{Key: k, Row: h.keyRow(r, k, h.svc.clock.Now()), CanManage: web.PrincipalOf(r).Can(PermManage),
		RotationDays: int(k.RotationPeriod / (24 * time.Hour)), Fields: fields}
	_, err = h.svc.Root()
	v.Sealed = err != nil
	for _, op := range OperationsFor(k.Algorithm) {
		v.Operations = append(v.Operations, h.srv.T(r, msgID("keys.op.", string(op)), nil))
	}
	for _, ver := range k.Versions {
		row := versionRow{Version: ver, StateLabel: h.srv.T(r, msgID("keys.state.", string(ver.State)), nil),
			RootLabel: h.srv.T(r, msgID("keys.root.", ver.Root), nil), BelowMin: ver.Version < k.MinDecryptVersion,
			CanDisable: ver.State == Active || ver.State == DecryptOnly, CanEnable: ver.State == Disabled}
		switch ver.State {
		case Active:
			row.Level = "ok"
		case Disabled:
			row.Level = "warn"
		case Destroyed:
			row.Level = "bad"
		}
		v.Versions = append(v.Versions, row)
		v.MinVersions = append(v.MinVersions, pageOption{Value: strconv.Itoa(ver.Version),
			Label:    h.srv.T(r, "keys.page.version_n", map[string]any{"N": ver.Version}),
			Selected: ver.Version == k.MinDecryptVersion})
	}
	if posted == nil {
		posted = grants
	}
	v.Grants = h.grantsView(r, k, grants, posted)
	bar, err := h.usageChart(r, k)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	v.Chart, v.ChartTable = bar.SVG(), bar.Table()
	if v.Lifecycle, err = h.lifecycleView(r, k); err != nil {
		h.pageError(w, r, err)
		return
	}
	h.srv.Render(w, r, status, "keys/key", v)
}

// failureColor marks failed uses in the chart (the pages' "bad" red).
const failureColor = "#b3261e"

// usageChart counts the key's uses of the last 24 hours per hour: a stacked
// bar per hour, a segment per operation that succeeded, and one for every
// failure, whatever the operation. The last bar is the current hour.
func (h *handlers) usageChart(r *http.Request, k *Key) (chart.Bar, error) {
	loc := h.srv.Location()
	now := h.svc.clock.Now().In(loc)
	end := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, loc).Add(time.Hour)
	start := end.Add(-24 * time.Hour)
	points, err := h.svc.Usage(r.Context(), k.Name, start)
	if err != nil {
		return chart.Bar{}, err
	}
	const hours = 24
	ops := OperationsFor(k.Algorithm)
	series := make([]chart.Series, len(ops)+1)
	for i, op := range ops {
		series[i] = chart.Series{Name: h.srv.T(r, msgID("keys.op.", string(op)), nil), Values: make([]float64, hours)}
	}
	failed := len(ops)
	series[failed] = chart.Series{Name: h.srv.T(r, "keys.usage.failures", nil), Color: failureColor,
		Values: make([]float64, hours)}
	var total, failures int64
	perHour := make([]int64, hours)
	for _, p := range points {
		i := int(p.Minute.Sub(start) / time.Hour)
		if i < 0 || i >= hours {
			continue
		}
		s := failed
		if p.Outcome == "success" {
			for j, op := range ops {
				if op == p.Op {
					s = j
				}
			}
		}
		series[s].Values[i] += float64(p.Count)
		total += p.Count
		perHour[i] += p.Count
		if s == failed {
			failures += p.Count
		}
	}
	cats := make([]string, hours)
	peak := 0
	for i := range cats {
		cats[i] = start.Add(time.Duration(i) * time.Hour).Format("15:04")
		if perHour[i] > perHour[peak] {
			peak = i
		}
	}
	desc := h.srv.T(r, "keys.usage.desc_empty", nil)
	if total > 0 {
		desc = h.srv.T(r, "keys.usage.desc", map[string]any{"Total": total, "Failures": failures,
			"Peak": cats[peak], "PeakCount": perHour[peak]})
	}
	return chart.Bar{ID: "usage-chart", Stacked: true, Categories: cats, Series: series, Width: 960, Height: 280,
		Title:  h.srv.T(r, "keys.usage.chart_title", map[string]any{"Name": k.Name}),
		Desc:   desc,
		XLabel: h.srv.T(r, "keys.usage.x", map[string]any{"Zone": now.Format("MST")}),
		YLabel: h.srv.T(r, "keys.usage.y", nil),
		Empty:  h.srv.T(r, "keys.usage.empty", nil)}, nil
}

func (h *handlers) keyRotate(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.Rotate(r.Context(), actorOf(r), r.PathValue("name")); err != nil {
		h.pageError(w, r, err)
		return
	}
	h.srv.Flash(w, "keys.flash.rotated")
	http.Redirect(w, r, keyURL(r), http.StatusSeeOther)
}

// versionState disables a version, or enables it again.
func (h *handlers) versionState(enable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := versionOf(r)
		if v == 0 {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "keys.error.version")
			return
		}
		if err := h.svc.SetVersionState(r.Context(), actorOf(r), r.PathValue("name"), v, enable); err != nil {
			h.pageError(w, r, err)
			return
		}
		msg := "keys.flash.disabled"
		if enable {
			msg = "keys.flash.enabled"
		}
		h.srv.Flash(w, msg)
		http.Redirect(w, r, keyURL(r), http.StatusSeeOther)
	}
}

func (h *handlers) keyMinVersion(w http.ResponseWriter, r *http.Request) {
	fields := map[string]string{}
	n, err := strconv.Atoi(r.PostFormValue("min_decrypt_version"))
	if err != nil {
		fields["min_decrypt_version"] = "keys.validation.min_version"
	} else if err := h.svc.SetMinDecryptVersion(r.Context(), actorOf(r), r.PathValue("name"), n); err != nil {
		if !addFields(fields, err) {
			h.pageError(w, r, err)
			return
		}
	}
	if len(fields) > 0 {
		h.renderKey(w, r, http.StatusUnprocessableEntity, fields, nil)
		return
	}
	h.srv.Flash(w, "keys.flash.min_version")
	http.Redirect(w, r, keyURL(r), http.StatusSeeOther)
}
