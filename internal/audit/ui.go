package audit

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Actions lists the actions anzen's own parts record, in the order the
// filter shows them; each has the label "audit.action.<action>".
var Actions = []string{
	"login.success", "login.failure", "login.locked", "logout", "session.expired",
	"password.change", "password.reset",
	"user.create", "user.update", "user.disable", "user.unlock", "user.status", "user.language",
	"role.grant", "role.revoke", "role.change",
	"mfa.enrol", "mfa.reset", "mfa.remove", "mfa.recovery_codes",
	"token.create", "token.revoke",
	"config.change", "facility.create",
	ActionSearch,
}

// actionGroups are the prefixes the filter offers, each labelled
// "audit.action_group.<prefix without the dot>".
var actionGroups = []string{"login.", "password.", "user.", "role.", "mfa.", "token."}

// ExportMaxRows is the most events one CSV export holds.
const ExportMaxRows = 100000

type handlers struct {
	srv *web.Server
	log *Log
	loc *time.Location
}

// Register adds the audit pages, API routes and navigation entry to srv.
func Register(srv *web.Server, l *Log) error {
	pages, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return err
	}
	if err := srv.AddPages("audit", pages); err != nil {
		return fmt.Errorf("audit pages: %w", err)
	}
	h := &handlers{srv: srv, log: l, loc: srv.Location()}
	read := web.Perm(PermRead)
	srv.Handle(http.MethodGet, "/api/v1/audit/security-events", read, h.apiSearch)
	srv.Handle(http.MethodGet, "/audit/security-events", read, h.page)
	srv.Handle(http.MethodGet, "/audit/security-events.csv", read, h.exportCSV)
	srv.AddNav(web.NavItem{Path: "/audit/security-events", LabelID: "nav.security_events", Access: read, Order: 80})
	srv.AddCard(web.Card{ID: "security-events", TitleID: "audit.card.title", Access: read, Order: 20, Stats: h.card})
	registerKeep(srv, h, read)
	h.registerIntegrity(read)
	return h.registerReading() // ui_events.go
}

// option is one choice of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

// row is one event as the page shows it.
type row struct {
	Entry
	ActionLabel string // the translated label, or the action itself
	Detail      []kv
}

type kv struct{ Key, Value string }

// pageData is what templates/security_events.html sees as .Data.
type pageData struct {
	Query     url.Values // the filter as typed, to fill the form again
	Actions   []option
	Outcomes  []option
	Error     string
	Rows      []row
	NewestURL string // the first page, when this is a later one
	OlderURL  string // the next page, when there is one
	CSVURL    string
	ExportMax string // ExportMaxRows, with thousands separated
}

// page serves GET /audit/security-events.
func (h *handlers) page(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := h.srv.Lang(r)
	data := &pageData{Query: q, Actions: h.actionOptions(lang, q.Get("action")),
		Outcomes: h.outcomeOptions(lang, q.Get("outcome")), ExportMax: groupDigits(ExportMaxRows)}
	f, perr := parseFilter(q, true, h.loc)
	if perr != nil {
		data.Error = h.srv.T(r, "audit.error.invalid_field", map[string]any{"Field": h.fieldLabel(lang, perr.Param)})
		h.srv.Render(w, r, http.StatusBadRequest, "audit/security_events", data)
		return
	}
	scope(&f, web.PrincipalOf(r))
	entries, next, err := h.log.Search(r.Context(), f)
	if err == nil {
		err = h.recordSearch(r, f, "page")
	}
	if err != nil {
		h.srv.Log().Error("search security events", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	for _, e := range entries {
		rw := row{Entry: e, ActionLabel: h.actionLabel(lang, e.Action)}
		for _, k := range sortedKeys(e.Detail) {
			rw.Detail = append(rw.Detail, kv{k, e.Detail[k]})
		}
		data.Rows = append(data.Rows, rw)
	}
	if f.Before > 0 {
		data.NewestURL = link("/audit/security-events", q, "before", "")
	}
	if next > 0 {
		data.OlderURL = link("/audit/security-events", q, "before", strconv.FormatInt(next, 10))
	}
	data.CSVURL = link("/audit/security-events.csv", q, "before", "", "limit", "")
	h.srv.Render(w, r, http.StatusOK, "audit/security_events", data)
}

// exportCSV serves GET /audit/security-events.csv: every event the filter
// selects (up to ExportMaxRows), newest first, as UTF-8 with a byte-order
// mark so that Excel opens it as such, one header row in the request's
// language.
func (h *handlers) exportCSV(w http.ResponseWriter, r *http.Request) {
	f, perr := parseFilter(r.URL.Query(), true, h.loc)
	if perr != nil {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "audit.error.invalid_filter")
		return
	}
	scope(&f, web.PrincipalOf(r))
	recorded := f
	f.Limit = MaxLimit
	entries, next, err := h.log.Search(r.Context(), f)
	if err == nil {
		err = h.recordSearch(r, recorded, "csv")
	}
	if err != nil {
		h.srv.Log().Error("export security events", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}

	lang := h.srv.Lang(r)
	name := "security-events-" + h.log.clock.Now().In(h.loc).Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := []string{"audit.col.id", "audit.col.time", "audit.col.facility", "audit.col.actor_id", "audit.col.actor",
		"audit.col.action", "audit.col.action_code", "audit.col.target", "audit.col.outcome", "audit.col.client",
		"audit.col.detail"}
	for i, id := range header {
		header[i] = h.srv.Catalog().T(lang, id, nil)
	}
	_ = cw.Write(header)
	rows := 0
	for {
		for _, e := range entries {
			if rows == ExportMaxRows {
				break
			}
			rows++
			_ = cw.Write([]string{
				strconv.FormatInt(e.ID, 10),
				e.Time.In(h.loc).Format("2006-01-02T15:04:05.000Z07:00"),
				strconv.FormatInt(e.Facility, 10),
				strconv.FormatInt(e.ActorID, 10),
				cell(e.ActorLogin),
				cell(h.actionLabel(lang, e.Action)),
				cell(e.Action),
				cell(e.Target),
				h.outcomeLabel(lang, e.Outcome),
				cell(e.ClientAddr),
				cell(detailText(e.Detail)),
			})
		}
		if next == 0 || rows == ExportMaxRows {
			break
		}
		f.Before = next
		if entries, next, err = h.log.Search(r.Context(), f); err != nil {
			// The status is sent; the log is all that can be told.
			h.srv.Log().Error("export security events", "err", err)
			break
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.srv.Log().Warn("write security-event export", "err", err)
	}
}

// cell keeps a spreadsheet from taking a value for a formula: text that
// begins with = + - @ or a control character gets a leading apostrophe
// (OWASP's advice on CSV injection). A login name an attacker typed must
// not run in the Excel of the CISO who opens the export.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r\n", rune(s[0])) {
		return "'" + s
	}
	return s
}

// detailText is the detail as the CSV holds it: a JSON object, or nothing.
func detailText(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	b, _ := json.Marshal(d) // a map of strings always encodes
	return string(b)
}

// filterParams are the query parameters of a search, in the order links
// carry them.
var filterParams = []string{"from", "to", "actor", "action", "outcome", "target", "client", "limit", "before"}

// link returns path with the filter parameters of q, each name/value pair
// of set replacing q's value; empty parameters are left out.
func link(path string, q url.Values, set ...string) string {
	return linkWith(path, filterParams, q, set...)
}

// linkWith returns path with the parameters params of q, each name/value
// pair of set replacing q's value; empty parameters are left out.
func linkWith(path string, params []string, q url.Values, set ...string) string {
	c := url.Values{}
	for _, k := range params {
		if v := q.Get(k); v != "" {
			c.Set(k, v)
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			c.Del(set[i])
		} else {
			c.Set(set[i], set[i+1])
		}
	}
	if len(c) == 0 {
		return path
	}
	return path + "?" + c.Encode()
}

// groupDigits writes n with commas between thousands, as both Japanese
// and English write it.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func (h *handlers) actionLabel(lang, action string) string {
	if id := "audit.action." + action; h.srv.Catalog().Has(lang, id) {
		return h.srv.Catalog().T(lang, id, nil)
	}
	return action
}

func (h *handlers) outcomeLabel(lang, outcome string) string {
	switch outcome {
	case selfaudit.Success, selfaudit.Failure:
		return h.srv.Catalog().T(lang, "audit.outcome."+outcome, nil)
	}
	return outcome
}

var fieldLabels = map[string]string{
	"from": "audit.filter.from", "to": "audit.filter.to", "actor": "audit.filter.actor",
	"action": "audit.filter.action", "outcome": "audit.filter.outcome", "target": "audit.filter.target",
	"client": "audit.filter.client", "limit": "audit.filter.limit", "before": "audit.filter.before",
}

func (h *handlers) fieldLabel(lang, param string) string {
	if id, ok := fieldLabels[param]; ok {
		return h.srv.Catalog().T(lang, id, nil)
	}
	return param
}

func (h *handlers) actionOptions(lang, current string) []option {
	cat := h.srv.Catalog()
	opts := []option{{Value: "", Label: cat.T(lang, "audit.filter.any", nil), Selected: current == ""}}
	known := current == ""
	for _, g := range actionGroups {
		opts = append(opts, option{Value: g, Label: cat.T(lang, "audit.action_group."+strings.TrimSuffix(g, "."), nil),
			Selected: current == g})
		known = known || current == g
	}
	for _, a := range Actions {
		opts = append(opts, option{Value: a, Label: h.actionLabel(lang, a), Selected: current == a})
		known = known || current == a
	}
	if !known {
		// An action of another system, or one typed into the address.
		opts = append(opts, option{Value: current, Label: current, Selected: true})
	}
	return opts
}

func (h *handlers) outcomeOptions(lang, current string) []option {
	cat := h.srv.Catalog()
	return []option{
		{Value: "", Label: cat.T(lang, "audit.filter.any", nil), Selected: current == ""},
		{Value: selfaudit.Success, Label: cat.T(lang, "audit.outcome.success", nil), Selected: current == selfaudit.Success},
		{Value: selfaudit.Failure, Label: cat.T(lang, "audit.outcome.failure", nil), Selected: current == selfaudit.Failure},
	}
}
