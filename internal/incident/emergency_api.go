package incident

import (
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The JSON API of the emergency rules and the emergency accounts
// (openapi_org.json): /api/v1/incident/emergency-rules (read by all
// staff, written with PermOrgManage) and
// /api/v1/incident/emergency-accounts (read with PermRead, changed with
// PermOrgManage).

func (h *handlers) registerEmergencyAPI() {
	manage := web.Perm(PermOrgManage)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/emergency-rules", web.Perm(PermContactsRead), h.apiRules)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/emergency-rules", manage, h.apiSetRules)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/emergency-accounts", web.Perm(PermRead), h.apiAccounts)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/emergency-accounts", manage, h.apiCreateAccount)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/emergency-accounts/{id}/changed", manage, h.apiAccountChanged)
}

// RulesJSON is one version of the emergency rules in the API.
type RulesJSON struct {
	Facility       int64     `json:"facility"`
	Version        int64     `json:"version"`
	Criteria       []string  `json:"criteria"`
	Declarer       string    `json:"declarer"`
	Deputy         string    `json:"deputy"`
	Steps          string    `json:"steps"`
	ReturnCriteria string    `json:"return_criteria"`
	ReturnSteps    string    `json:"return_steps"`
	Reconcile      string    `json:"reconcile"`
	Created        time.Time `json:"created"`
	CreatedBy      string    `json:"created_by"`
}

// RulesListJSON is the answer of GET /api/v1/incident/emergency-rules:
// the rules in force (null before the first) and every version, newest
// first.
type RulesListJSON struct {
	Facility int64       `json:"facility"`
	Current  *RulesJSON  `json:"current"`
	Versions []RulesJSON `json:"versions"`
}

// AccountJSON is an emergency account in the API.
type AccountJSON struct {
	ID        int64      `json:"id"`
	Facility  int64      `json:"facility"`
	System    string     `json:"system"`
	Source    string     `json:"source"`
	Account   string     `json:"account"`
	Location  string     `json:"location"`
	Custodian string     `json:"custodian"`
	State     string     `json:"state"`
	Overdue   bool       `json:"overdue"`
	SealedAt  time.Time  `json:"sealed_at"`
	FirstUse  *time.Time `json:"first_use,omitempty"`
	LastUse   *time.Time `json:"last_use,omitempty"`
	Uses      int64      `json:"uses"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
	ChangedBy string     `json:"changed_by,omitempty"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by"`
}

// AccountsJSON is the answer of GET /api/v1/incident/emergency-accounts.
type AccountsJSON struct {
	Accounts []AccountJSON `json:"accounts"`
}

// ChangedJSON is the body of POST .../emergency-accounts/{id}/changed.
type ChangedJSON struct {
	ChangedAt *time.Time `json:"changed_at,omitempty"`
}

func rulesJSON(r EmergencyRules) RulesJSON {
	return RulesJSON{Facility: r.Facility, Version: r.Version, Criteria: r.Criteria, Declarer: r.Declarer, Deputy: r.Deputy,
		Steps: r.Steps, ReturnCriteria: r.ReturnCriteria, ReturnSteps: r.ReturnSteps, Reconcile: r.Reconcile, Created: r.Created,
		CreatedBy: r.CreatedBy}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func accountJSON(a EmergencyAccount, now time.Time) AccountJSON {
	return AccountJSON{ID: a.ID, Facility: a.Facility, System: a.System, Source: a.Source, Account: a.Account, Location: a.Location,
		Custodian: a.Custodian, State: string(a.State), Overdue: a.Overdue(now), SealedAt: a.SealedAt, FirstUse: optTime(a.FirstUse),
		LastUse: optTime(a.LastUse), Uses: a.Uses, ChangedAt: optTime(a.ChangedAt), ChangedBy: a.ChangedBy, Created: a.Created,
		CreatedBy: a.CreatedBy}
}

func (h *handlers) apiRules(w http.ResponseWriter, r *http.Request) {
	f, _, err := h.orgFacility(r, orgScope(r, PermContactsRead))
	if h.orgProblem(w, r, err) {
		return
	}
	versions, err := RulesVersions(r.Context(), h.cfg.DB, f.ID)
	if h.orgProblem(w, r, err) {
		return
	}
	out := RulesListJSON{Facility: f.ID, Versions: []RulesJSON{}}
	for _, v := range versions {
		out.Versions = append(out.Versions, rulesJSON(v))
	}
	if len(out.Versions) > 0 {
		out.Current = &out.Versions[0]
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiSetRules(w http.ResponseWriter, r *http.Request) {
	var in RulesInput
	if !h.decode(w, r, &in) {
		return
	}
	rules, err := SetEmergencyRules(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, rulesJSON(rules))
	}
}

func (h *handlers) apiAccounts(w http.ResponseWriter, r *http.Request) {
	sc := orgScope(r, PermRead)
	var f int64
	if s := r.URL.Query().Get("facility"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			h.orgProblem(w, r, errBadFacility)
			return
		}
		f = id
	}
	list, err := Accounts(r.Context(), h.cfg.DB, sc, f)
	if h.orgProblem(w, r, err) {
		return
	}
	now := h.cfg.Clock.Now()
	out := AccountsJSON{Accounts: []AccountJSON{}}
	for _, a := range list {
		out.Accounts = append(out.Accounts, accountJSON(a, now))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiCreateAccount(w http.ResponseWriter, r *http.Request) {
	var in AccountInput
	if !h.decode(w, r, &in) {
		return
	}
	now := h.cfg.Clock.Now()
	a, err := CreateAccount(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, now)
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusCreated, accountJSON(a, now))
	}
}

func (h *handlers) apiAccountChanged(w http.ResponseWriter, r *http.Request) {
	var body ChangedJSON
	if r.ContentLength != 0 && !h.decode(w, r, &body) {
		return
	}
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	now := h.cfg.Clock.Now()
	changed := now
	if body.ChangedAt != nil {
		changed = body.ChangedAt.UTC()
	}
	a, err := RecordChange(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, changed, now)
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, accountJSON(a, now))
	}
}
