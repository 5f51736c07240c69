package incident

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The organisation's pages: the contact diagram with the organisation
// every member of staff may read (/incident/contacts), its one-page print
// (/incident/contacts/print) and PDF (/incident/contacts.pdf); the forms
// that keep it (org_pages.go); the emergency rules and accounts
// (emergency_ui.go). Their API is in org_api.go and emergency_api.go.

// registerOrg adds the organisation's pages, API routes, navigation
// entry and dashboard card.
func (h *handlers) registerOrg() {
	read := web.Perm(PermContactsRead)
	h.srv.Handle(http.MethodGet, "/incident/contacts", read, h.contactsPage)
	h.srv.Handle(http.MethodGet, "/incident/contacts/print", read, h.contactsPrint)
	h.srv.Handle(http.MethodGet, "/incident/contacts.pdf", read, h.contactsPDF)
	h.registerOrgPages()
	h.registerEmergencyPages()
	h.registerOrgAPI()
	h.registerEmergencyAPI()
	h.srv.AddNav(web.NavItem{Path: "/incident/contacts", LabelID: "incident.org.nav", Access: read, Order: 41})
	h.srv.AddCard(web.Card{ID: "incident-org", TitleID: "incident.org.card.title", Access: web.Perm(PermRead), Order: 41, Stats: h.orgCard})
}

// orgScope is where the caller holds p.
func orgScope(r *http.Request, p authz.Permission) Scope {
	all, ids := web.PrincipalOf(r).Facilities(p)
	return Scope{All: all, Facilities: ids}
}

// orgActor is who makes a change.
func orgActor(r *http.Request) Actor {
	p := web.PrincipalOf(r)
	return Actor{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}

// errBadFacility is a facility parameter that is not a number.
var errBadFacility = errors.New("facility is not a number")

// orgFacilities returns the facilities within sc, named when the part was
// given Config.Facilities.
func (h *handlers) orgFacilities(ctx context.Context, sc Scope) ([]Facility, error) {
	var all []Facility
	if h.cfg.Facilities != nil {
		list, err := h.cfg.Facilities(ctx)
		if err != nil {
			return nil, err
		}
		all = list
	} else {
		for _, id := range sc.Facilities {
			all = append(all, Facility{ID: id})
		}
	}
	var out []Facility
	for _, f := range all {
		if sc.Has(f.ID) {
			out = append(out, f)
		}
	}
	return out, nil
}

// orgFacility returns the facility a page or a read shows: ?facility=
// when given (db.ErrNotFound when it is outside sc, errBadFacility when it
// is not a number), else the caller's own when within sc, else the first
// of sc; with the facilities within sc.
func (h *handlers) orgFacility(r *http.Request, sc Scope) (Facility, []Facility, error) {
	list, err := h.orgFacilities(r.Context(), sc)
	if err != nil {
		return Facility{}, nil, err
	}
	want := web.PrincipalOf(r).Facility
	if s := r.URL.Query().Get("facility"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return Facility{}, list, errBadFacility
		}
		if !sc.Has(id) {
			return Facility{}, list, db.ErrNotFound
		}
		want = id
	}
	if i := slices.IndexFunc(list, func(f Facility) bool { return f.ID == want }); i >= 0 {
		return list[i], list, nil
	}
	if sc.Has(want) {
		return Facility{ID: want}, list, nil
	}
	if len(list) > 0 {
		return list[0], list, nil
	}
	return Facility{}, list, db.ErrNotFound
}

// orgPageFacility is orgFacility for a page: it answers the error page
// itself and reports whether the page may go on.
func (h *handlers) orgPageFacility(w http.ResponseWriter, r *http.Request, sc Scope) (Facility, []Facility, bool) {
	f, list, err := h.orgFacility(r, sc)
	switch {
	case errors.Is(err, errBadFacility), errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case err != nil:
		h.orgFail(w, r, err)
	default:
		return f, list, true
	}
	return f, list, false
}

// orgFail answers an unexpected error on a page.
func (h *handlers) orgFail(w http.ResponseWriter, r *http.Request, err error) {
	h.srv.Log().Error("incident organisation", "path", r.URL.Path, "err", err)
	h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
}

// tr is the translator of the request's language.
func (h *handlers) tr(r *http.Request) Tr {
	return func(id string, data map[string]any) string { return h.srv.T(r, id, data) }
}

// memberView is a member as the pages show it.
type memberView struct {
	Member
	RoleLabels []string
	DeputyName string
	CanEdit    bool
}

// contactsView is what templates/contacts.html sees.
type contactsView struct {
	Facility   Facility
	Name       string
	Facilities []Facility
	Diagram    template.HTML
	Officers   []Officer
	Missing    []OfficerRole
	Members    []memberView
	OnCall     []Shift
	Contacts   []Contact
	NoPhone    int
	CanManage  bool
	HasPDF     bool
}

func (h *handlers) memberViews(r *http.Request, o *OrgData) []memberView {
	var out []memberView
	for _, m := range o.Members {
		v := memberView{Member: m}
		for _, role := range m.Roles {
			v.RoleLabels = append(v.RoleLabels, h.srv.T(r, "incident.org.role."+string(role), nil))
		}
		if d, ok := o.member(m.Deputy); ok {
			v.DeputyName = d.Name
		}
		out = append(out, v)
	}
	return out
}

func (h *handlers) contactsPage(w http.ResponseWriter, r *http.Request) {
	f, list, ok := h.orgPageFacility(w, r, orgScope(r, PermContactsRead))
	if !ok {
		return
	}
	o, err := LoadOrg(r.Context(), h.cfg.DB, f, h.cfg.Clock.Now())
	if err != nil {
		h.orgFail(w, r, err)
		return
	}
	v := &contactsView{Facility: f, Name: f.Name(h.srv.Lang(r)), Facilities: list, Officers: o.Officers, Members: h.memberViews(r, &o),
		OnCall: o.OnCall, Contacts: o.Contacts, NoPhone: o.MissingPhones(), HasPDF: h.cfg.PDF != nil,
		CanManage: web.PrincipalOf(r).CanIn(PermOrgManage, f.ID)}
	for _, role := range OfficerRoles {
		if !slices.ContainsFunc(o.Officers, func(of Officer) bool { return of.Role == role }) {
			v.Missing = append(v.Missing, role)
		}
	}
	d := o.Diagram(h.tr(r))
	d.Title = h.srv.T(r, "incident.org.diagram_title", map[string]any{"Facility": v.Name})
	v.Diagram = d.SVG()
	h.srv.Render(w, r, http.StatusOK, "incident/contacts", v)
}

// contactsDocument renders the printable diagram of the request's
// facility, answering errors itself.
func (h *handlers) contactsDocument(w http.ResponseWriter, r *http.Request) ([]byte, Facility, bool) {
	f, _, ok := h.orgPageFacility(w, r, orgScope(r, PermContactsRead))
	if !ok {
		return nil, f, false
	}
	o, err := LoadOrg(r.Context(), h.cfg.DB, f, h.cfg.Clock.Now())
	if err != nil {
		h.orgFail(w, r, err)
		return nil, f, false
	}
	doc, err := ContactsDocument(o, h.tr(r), h.srv.Lang(r), h.cfg.Location)
	if err != nil {
		h.orgFail(w, r, err)
		return nil, f, false
	}
	return doc, f, true
}

func (h *handlers) contactsPrint(w http.ResponseWriter, r *http.Request) {
	doc, _, ok := h.contactsDocument(w, r)
	if !ok {
		return
	}
	// The document has its own inline style, which the site's policy
	// (style-src 'self') would refuse.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(doc)
}

func (h *handlers) contactsPDF(w http.ResponseWriter, r *http.Request) {
	if h.cfg.PDF == nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "incident.org.no_pdf")
		return
	}
	doc, f, ok := h.contactsDocument(w, r)
	if !ok {
		return
	}
	pdf, err := h.cfg.PDF.Render(r.Context(), doc)
	if err != nil {
		h.orgFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="contacts-`+strconv.FormatInt(f.ID, 10)+`.pdf"`)
	_, _ = w.Write(pdf)
}

// orgCard fills the dashboard card: emergency accounts to be changed,
// external contacts without a phone.
func (h *handlers) orgCard(r *http.Request) ([]web.Stat, error) {
	sc := orgScope(r, PermRead)
	accounts, err := Accounts(r.Context(), h.cfg.DB, sc, 0)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Clock.Now()
	used, overdue := 0, 0
	for _, a := range accounts {
		if a.State == AccountUsed {
			used++
			if a.Overdue(now) {
				overdue++
			}
		}
	}
	st := web.Stat{LabelID: "incident.org.card.accounts", Value: strconv.Itoa(used), Level: "ok", Link: "/incident/emergency"}
	switch {
	case overdue > 0:
		st.Level = "bad"
	case used > 0:
		st.Level = "warn"
	}
	var stats = []web.Stat{st}
	fs, err := h.orgFacilities(r.Context(), sc)
	if err != nil {
		return stats, err
	}
	missing := 0
	for _, f := range fs {
		list, err := Contacts(r.Context(), h.cfg.DB, f.ID)
		if err != nil {
			return stats, err
		}
		for _, c := range list {
			if c.NoPhone() {
				missing++
			}
		}
	}
	ms := web.Stat{LabelID: "incident.org.card.no_phone", Value: strconv.Itoa(missing), Level: "ok", Link: "/incident/contacts"}
	if missing > 0 {
		ms.Level = "warn"
	}
	return append(stats, ms), nil
}
