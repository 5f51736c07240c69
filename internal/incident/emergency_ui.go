package incident

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The emergency page (/incident/emergency): the emergency rules, which
// every member of staff may read, with their earlier versions; the
// register of emergency accounts, for those who read incidents (where a
// sealed credential is kept is not for everyone), with a used account
// marked to be changed, and overdue after ChangeGrace; and, for those who
// keep the organisation, the forms that write a new version of the rules,
// add an account and record that a used one was changed and sealed again.

func (h *handlers) registerEmergencyPages() {
	manage := web.Perm(PermOrgManage)
	h.srv.Handle(http.MethodGet, "/incident/emergency", web.Perm(PermContactsRead), h.emergencyPage)
	h.srv.Handle(http.MethodPost, "/incident/emergency/rules", manage, h.rulesPost)
	h.srv.Handle(http.MethodPost, "/incident/emergency/accounts", manage, h.accountPost)
	h.srv.Handle(http.MethodPost, "/incident/emergency/accounts/{id}/changed", manage, h.accountChangedPost)
}

// accountView is an account as the page shows it.
type accountView struct {
	EmergencyAccount
	Overdue bool
}

// emergencyView is what templates/emergency.html sees.
type emergencyView struct {
	Facility     Facility
	Name         string
	Facilities   []Facility
	Rules        *EmergencyRules
	Old          []EmergencyRules
	Draft        RulesInput // the form's values
	CriteriaText string
	ShowAccounts bool
	Accounts     []accountView
	CanManage    bool
	Error        string
	ErrField     string
	FormName     string
	Today        string
	Account      AccountInput
}

func (h *handlers) emergencyPage(w http.ResponseWriter, r *http.Request) {
	h.renderEmergency(w, r, http.StatusOK, "", nil, nil, nil)
}

func (h *handlers) renderEmergency(w http.ResponseWriter, r *http.Request, status int, form string, err error, draft *RulesInput, acc *AccountInput) {
	f, list, ok := h.orgPageFacility(w, r, orgScope(r, PermContactsRead))
	if !ok {
		return
	}
	now := h.cfg.Clock.Now()
	p := web.PrincipalOf(r)
	v := &emergencyView{Facility: f, Name: f.Name(h.srv.Lang(r)), Facilities: list, CanManage: p.CanIn(PermOrgManage, f.ID),
		ShowAccounts: p.CanIn(PermRead, f.ID) || p.CanIn(PermOrgManage, f.ID), FormName: form,
		Today: now.In(h.srv.Location()).Format("2006-01-02")}
	versions, lerr := RulesVersions(r.Context(), h.cfg.DB, f.ID)
	if lerr != nil {
		h.orgFail(w, r, lerr)
		return
	}
	if len(versions) > 0 {
		v.Rules, v.Old = &versions[0], versions[1:]
		c := versions[0]
		v.Draft = RulesInput{Criteria: c.Criteria, Declarer: c.Declarer, Deputy: c.Deputy, Steps: c.Steps,
			ReturnCriteria: c.ReturnCriteria, ReturnSteps: c.ReturnSteps, Reconcile: c.Reconcile}
	}
	if draft != nil {
		v.Draft = *draft
	}
	if acc != nil {
		v.Account = *acc
	}
	v.CriteriaText = strings.Join(v.Draft.Criteria, "\n")
	if v.ShowAccounts {
		accounts, lerr := Accounts(r.Context(), h.cfg.DB, Scope{Facilities: []int64{f.ID}}, f.ID)
		if lerr != nil {
			h.orgFail(w, r, lerr)
			return
		}
		for _, a := range accounts {
			v.Accounts = append(v.Accounts, accountView{EmergencyAccount: a, Overdue: a.Overdue(now)})
		}
	}
	if oe, ok := IsOrgError(err); ok {
		v.Error, v.ErrField = h.srv.T(r, oe.MsgID, map[string]any{"Max": MaxCriteria}), oe.Field
	}
	h.srv.Render(w, r, status, "incident/emergency", v)
}

// emergencyDone answers a form of the emergency page.
func (h *handlers) emergencyDone(w http.ResponseWriter, r *http.Request, form string, err error, draft *RulesInput, acc *AccountInput) {
	f := formFacility(r)
	q := r.URL.Query()
	if f > 0 {
		q.Set("facility", strconv.FormatInt(f, 10))
		r.URL.RawQuery = q.Encode()
	}
	if _, ok := IsOrgError(err); ok {
		h.renderEmergency(w, r, http.StatusUnprocessableEntity, form, err, draft, acc)
		return
	}
	if err != nil {
		h.orgDone(w, r, form, err, "")
		return
	}
	h.srv.Flash(w, "incident.org.saved")
	to := "/incident/emergency"
	if f > 0 {
		to += "?facility=" + strconv.FormatInt(f, 10)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *handlers) rulesPost(w http.ResponseWriter, r *http.Request) {
	in := RulesInput{Facility: formFacility(r), Criteria: strings.Split(r.PostFormValue("criteria"), "\n"),
		Declarer: r.PostFormValue("declarer"), Deputy: r.PostFormValue("deputy"), Steps: r.PostFormValue("steps"),
		ReturnCriteria: r.PostFormValue("return_criteria"), ReturnSteps: r.PostFormValue("return_steps"),
		Reconcile: r.PostFormValue("reconcile")}
	for i, c := range in.Criteria {
		in.Criteria[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c), "・"))
	}
	_, err := SetEmergencyRules(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	h.emergencyDone(w, r, "rules", err, &in, nil)
}

func (h *handlers) accountPost(w http.ResponseWriter, r *http.Request) {
	in := AccountInput{Facility: formFacility(r), System: r.PostFormValue("system"), Source: r.PostFormValue("source"),
		Account: r.PostFormValue("account"), Location: r.PostFormValue("location"), Custodian: r.PostFormValue("custodian")}
	_, err := CreateAccount(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	h.emergencyDone(w, r, "account", err, nil, &in)
}

func (h *handlers) accountChangedPost(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Clock.Now()
	changed := now
	if s := strings.TrimSpace(r.PostFormValue("changed_at")); s != "" {
		if changed = h.localTime(s); changed.IsZero() {
			h.emergencyDone(w, r, "changed", &OrgError{"changed_at", "incident.org.error.changed_at"}, nil, nil)
			return
		}
	}
	_, err := RecordChange(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), orgPathID(r), changed, now)
	h.emergencyDone(w, r, "changed", err, nil, nil)
}
