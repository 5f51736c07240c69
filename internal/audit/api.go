package audit

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// SearchResponse is the body of GET /api/v1/audit/security-events. Next is
// the value of the before parameter that fetches the following (older)
// page, or null on the last page.
type SearchResponse struct {
	Events []Entry `json:"events"`
	Next   *int64  `json:"next"`
}

// paramError names the query parameter that could not be read.
type paramError struct {
	Param string
	Err   error
}

func (e *paramError) Error() string { return "parameter " + e.Param + ": " + e.Err.Error() }

// parseFilter reads the search parameters shared by the API, the page and
// the CSV export: from, to, actor, action, outcome, target, client, limit
// and before. from and to are RFC 3339 times; with dates true they may also
// be dates (YYYY-MM-DD) in loc, to then meaning the end of that day. The
// facility scope is left for the caller to set.
func parseFilter(q url.Values, dates bool, loc *time.Location) (Filter, *paramError) {
	var f Filter
	if perr := checkTextParams(q, filterParams); perr != nil {
		return f, perr
	}
	var perr *paramError
	if f.From, f.To, perr = parseTimeRange(q, dates, loc); perr != nil {
		return f, perr
	}
	f.ActorLogin = strings.TrimSpace(q.Get("actor"))
	f.Action = strings.TrimSpace(q.Get("action"))
	f.Target = strings.TrimSpace(q.Get("target"))
	f.ClientAddr = strings.TrimSpace(q.Get("client"))
	switch f.Outcome = q.Get("outcome"); f.Outcome {
	case "", selfaudit.Success, selfaudit.Failure:
	default:
		return f, &paramError{"outcome", fmt.Errorf("%q is neither %s nor %s", f.Outcome, selfaudit.Success, selfaudit.Failure)}
	}
	if f.Limit, f.Before, perr = parsePaging(q); perr != nil {
		return f, perr
	}
	return f, nil
}

func parseTime(v string, dates, end bool, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if dates {
		if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
			if end {
				d = d.AddDate(0, 0, 1)
			}
			return d.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", v)
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (such as 2026-04-01T09:00:00+09:00)", v)
}

// scope sets f's facility scope to where p may read security events.
func scope(f *Filter, p *authz.Principal) {
	f.AllFacilities, f.Facilities = p.Facilities(PermRead)
}

// recordSearch records that the caller of r searched (via "api" or "page")
// or exported (via "csv") the security events with f. It is called after
// the search and before any result is sent, so that no one reads the log
// unrecorded, and a search does not find its own record. The record belongs
// to the one facility searched, or to none (system-wide) for a wider search.
func (h *handlers) recordSearch(r *http.Request, f Filter, via string) error {
	p := web.PrincipalOf(r)
	e := selfaudit.Event{
		Action:     ActionSearch,
		Target:     "audit:security_events",
		Outcome:    selfaudit.Success,
		ClientAddr: web.ClientAddr(r),
		Detail:     filterDetail(f),
	}
	e.Detail["via"] = via
	if p != nil {
		e.ActorID, e.ActorLogin = p.UserID, p.Login
		if p.TokenID != 0 {
			e.Detail["token"] = strconv.FormatInt(p.TokenID, 10)
		}
	}
	if !f.AllFacilities && len(f.Facilities) == 1 {
		e.Facility = f.Facilities[0]
	}
	return h.log.Record(r.Context(), nil, e)
}

// filterDetail describes f for the record of a search; empty criteria are
// left out.
func filterDetail(f Filter) map[string]string {
	d := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	if !f.From.IsZero() {
		d["from"] = f.From.Format(time.RFC3339Nano)
	}
	if !f.To.IsZero() {
		d["to"] = f.To.Format(time.RFC3339Nano)
	}
	set("actor", f.ActorLogin)
	set("action", f.Action)
	set("outcome", f.Outcome)
	set("target", f.Target)
	set("client", f.ClientAddr)
	if f.Before > 0 {
		d["before"] = strconv.FormatInt(f.Before, 10)
	}
	if f.Limit > 0 {
		d["limit"] = strconv.Itoa(f.Limit)
	}
	if f.AllFacilities {
		d["facilities"] = "all"
	} else {
		ids := make([]string, len(f.Facilities))
		for i, id := range f.Facilities {
			ids[i] = strconv.FormatInt(id, 10)
		}
		d["facilities"] = strings.Join(ids, ",")
	}
	return d
}

// apiSearch serves GET /api/v1/audit/security-events. Its query
// parameters, all optional: from and to (RFC 3339; from inclusive, to
// exclusive), actor (exact login), action (exact, or a prefix ending in
// "." such as "login."), outcome (success or failure), target (part of
// it), client (exact address), limit (1 to MaxLimit, default DefaultLimit)
// and before (the next value of the previous page). The answer is a
// SearchResponse; a bad parameter is a 400 problem of type
// invalid-parameter.
func (h *handlers) apiSearch(w http.ResponseWriter, r *http.Request) {
	f, perr := parseFilter(r.URL.Query(), false, h.loc)
	if perr != nil {
		h.paramProblem(w, r, perr)
		return
	}
	scope(&f, web.PrincipalOf(r))
	entries, next, err := h.log.Search(r.Context(), f)
	if err == nil {
		err = h.recordSearch(r, f, "api")
	}
	if err != nil {
		h.srv.Log().Error("search security events", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	resp := SearchResponse{Events: entries}
	if next != 0 {
		resp.Next = &next
	}
	web.JSON(w, http.StatusOK, resp)
}
