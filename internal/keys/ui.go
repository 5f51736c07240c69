package keys

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The key service's pages: the list of keys with the warning about signing
// keys outside an HSM and the form that creates a key (this file); a key's
// detail with its versions, actions, grants and usage chart (ui_key.go,
// ui_grants.go); the navigation entry and the dashboard card. Every change
// goes through the Service, which records it in the audit log in the same
// transaction; a form that succeeds redirects with a flash message, one
// with bad input shows the page again with a translated message beside each
// field (422) and changes nothing.

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

func init() { registrations = append(registrations, (*handlers).registerPages) }

func (h *handlers) registerPages() error {
	pages, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return err
	}
	if err := h.srv.AddPages("keys", pages); err != nil {
		return fmt.Errorf("keys pages: %w", err)
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return err
	}
	h.srv.AddStatic("keys", static)
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	s := h.srv
	s.Handle("GET", "/keys", read, h.keysPage)
	s.Handle("POST", "/keys", manage, h.keyCreate)
	s.Handle("GET", "/keys/{name}", read, h.keyPage)
	s.Handle("POST", "/keys/{name}/rotate", manage, h.keyRotate)
	s.Handle("POST", "/keys/{name}/versions/{version}/disable", manage, h.versionState(false))
	s.Handle("POST", "/keys/{name}/versions/{version}/enable", manage, h.versionState(true))
	s.Handle("POST", "/keys/{name}/min-decrypt-version", manage, h.keyMinVersion)
	s.Handle("POST", "/keys/{name}/grants", manage, h.keyGrants)
	s.AddNav(web.NavItem{Path: "/keys", LabelID: "nav.keys", Access: read, Order: 85})
	s.AddCard(web.Card{ID: "keys", TitleID: "keys.card.title", Access: read, Order: 40, Stats: h.keysCard})
	return nil
}

// NeedsHSM reports whether keys of the purpose sign, so that the guideline
// (6.11 B-1 ④ D) asks for their private keys to be held in a storage
// device that meets its requirements.
func (p Purpose) NeedsHSM() bool { return p == PurposeSigning || p == PurposeAuditCheckpoint }

// SoftwareSigningVersions lists the versions of a signing key whose private
// key is held in software rather than in an HSM (a destroyed version holds
// nothing); nil for keys of other purposes.
func (k *Key) SoftwareSigningVersions() []int {
	if !k.Purpose.NeedsHSM() {
		return nil
	}
	var out []int
	for _, v := range k.Versions {
		if v.State != Destroyed && !v.InHSM {
			out = append(out, v.Version)
		}
	}
	return out
}

// Overdue reports whether the key's rotation date has passed at now while
// its newest version is still active: the keys RotateDue rotates. A key
// that stays overdue means the rotation job is not running or failing.
func (k *Key) Overdue(now time.Time) bool {
	next := k.NextRotation()
	return !next.IsZero() && !now.Before(next) && k.Latest().State == Active
}

// msgID turns a value such as "audit-checkpoint" into the last part of a
// message id ("audit_checkpoint").
func msgID(prefix, value string) string {
	return prefix + strings.NewReplacer("-", "_", ".", "_").Replace(value)
}

// pageOption is one choice of a <select> or one checkbox.
type pageOption struct {
	Value, Label string
	Selected     bool
}

// keyRow is a key as the list (and the head of its detail page) shows it.
type keyRow struct {
	Name, Owner        string
	Purpose, Algorithm string // translated
	Versions           int
	Active             int    // the active version; 0 when none is
	State              string // translated state of the active version, or of the newest when none is active
	Root               string // translated root of the active (or newest) version
	InHSM              bool
	NextRotation       time.Time
	Overdue            bool
	Soft               []int  // signing versions held in software
	SoftText           string // the same as "v1, v2"
}

func (h *handlers) keyRow(r *http.Request, k *Key, now time.Time) keyRow {
	row := keyRow{Name: k.Name, Owner: k.Owner, Versions: len(k.Versions), NextRotation: k.NextRotation(),
		Overdue: k.Overdue(now), Soft: k.SoftwareSigningVersions(),
		Purpose:   h.srv.T(r, msgID("keys.purpose.", string(k.Purpose)), nil),
		Algorithm: h.srv.T(r, msgID("keys.algorithm.", string(k.Algorithm)), nil)}
	shown := k.Latest()
	if n, err := activeVersion(k); err == nil {
		row.Active, shown = n, k.Version(n)
	}
	if shown != nil {
		row.State = h.srv.T(r, msgID("keys.state.", string(shown.State)), nil)
		row.Root = h.srv.T(r, msgID("keys.root.", shown.Root), nil)
		row.InHSM = shown.InHSM
	}
	vs := make([]string, len(row.Soft))
	for i, n := range row.Soft {
		vs[i] = h.srv.T(r, "keys.page.version_n", map[string]any{"N": n})
	}
	row.SoftText = strings.Join(vs, ", ")
	return row
}

// keyForm is the create form as typed.
type keyForm struct {
	Name, Purpose, Algorithm, Owner, RotationDays string
}

// keysView is what templates/keys.html sees as .Data.
type keysView struct {
	Rows      []keyRow
	Soft      []keyRow // signing keys with versions outside an HSM
	Sealed    bool
	CanManage bool
	Form      keyForm
	Fields    map[string]string
	Purposes  []pageOption
	// SigningAlgorithms and OtherAlgorithms are the two groups of the
	// algorithm choice: which purposes take which is checked on submit.
	SigningAlgorithms, OtherAlgorithms []pageOption
}

func (h *handlers) keysPage(w http.ResponseWriter, r *http.Request) {
	h.renderKeys(w, r, http.StatusOK, keyForm{Purpose: string(PurposeStorage), RotationDays: "365"}, nil)
}

func (h *handlers) renderKeys(w http.ResponseWriter, r *http.Request, status int, f keyForm, fields map[string]string) {
	keys, err := h.svc.List(r.Context())
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	now := h.svc.clock.Now()
	v := keysView{Form: f, Fields: fields, CanManage: web.PrincipalOf(r).Can(PermManage)}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	_, err = h.svc.Root()
	v.Sealed = errors.Is(err, ErrSealed)
	for _, k := range keys {
		row := h.keyRow(r, k, now)
		v.Rows = append(v.Rows, row)
		if len(row.Soft) > 0 {
			v.Soft = append(v.Soft, row)
		}
	}
	if v.CanManage {
		v.Purposes = append(v.Purposes, pageOption{Value: "", Label: h.srv.T(r, "keys.page.new.purpose_choose", nil),
			Selected: f.Purpose == ""})
		for _, p := range Purposes {
			v.Purposes = append(v.Purposes, pageOption{Value: string(p), Selected: string(p) == f.Purpose,
				Label: h.srv.T(r, msgID("keys.purpose.", string(p)), nil)})
		}
		for _, a := range Algorithms {
			o := pageOption{Value: string(a), Selected: string(a) == f.Algorithm,
				Label: h.srv.T(r, msgID("keys.algorithm.", string(a)), nil)}
			if a.Signing() {
				v.SigningAlgorithms = append(v.SigningAlgorithms, o)
			} else {
				v.OtherAlgorithms = append(v.OtherAlgorithms, o)
			}
		}
	}
	h.srv.Render(w, r, status, "keys/keys", v)
}

// pageFields renames the service's field names to the form's.
var pageFields = map[string]string{"rotation": "rotation_days"}

func (h *handlers) keyCreate(w http.ResponseWriter, r *http.Request) {
	f := keyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Purpose: r.PostFormValue("purpose"),
		Algorithm: r.PostFormValue("algorithm"), Owner: strings.TrimSpace(r.PostFormValue("owner")),
		RotationDays: strings.TrimSpace(r.PostFormValue("rotation_days"))}
	fields := map[string]string{}
	days, err := strconv.Atoi(f.RotationDays)
	if err != nil || days < 0 || days > maxRotationDays {
		fields["rotation_days"], days = "keys.validation.rotation_days", 0
	}
	nk := NewKey{Name: f.Name, Purpose: Purpose(f.Purpose), Algorithm: Algorithm(f.Algorithm), Owner: f.Owner,
		RotationPeriod: time.Duration(days) * 24 * time.Hour}
	// Check everything first, so that the form points out every mistake at
	// once rather than one per submission.
	if err := nk.validate(); err != nil {
		addFields(fields, err)
	}
	if len(fields) == 0 {
		k, err := h.svc.Create(r.Context(), actorOf(r), nk)
		if err == nil {
			h.srv.Flash(w, "keys.flash.created")
			http.Redirect(w, r, "/keys/"+url.PathEscape(k.Name), http.StatusSeeOther)
			return
		}
		if !addFields(fields, err) {
			h.pageError(w, r, err)
			return
		}
	}
	h.renderKeys(w, r, http.StatusUnprocessableEntity, f, fields)
}

// addFields adds the invalid fields of a ValidationError to fields, under
// the form's names, and reports whether err was one.
func addFields(fields map[string]string, err error) bool {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for f, msg := range ve.Fields {
		if n, ok := pageFields[f]; ok {
			f = n
		}
		if _, set := fields[f]; !set {
			fields[f] = msg
		}
	}
	return true
}

// pageError shows a failure of the key service as a translated error page.
func (h *handlers) pageError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "keys.error.not_found")
	case errors.Is(err, ErrSealed):
		h.srv.ErrorPage(w, r, http.StatusServiceUnavailable, "keys.error.sealed")
	case errors.Is(err, ErrVersion):
		h.srv.ErrorPage(w, r, http.StatusConflict, "keys.error.version")
	default:
		h.srv.Log().Error("keys page", "path", r.URL.Path, "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	}
}

// keysCard fills the dashboard card: keys past their rotation date,
// signing keys with versions outside an HSM, and all keys.
func (h *handlers) keysCard(r *http.Request) ([]web.Stat, error) {
	keys, err := h.svc.List(r.Context())
	if err != nil {
		return nil, err
	}
	now := h.svc.clock.Now()
	overdue, soft := 0, 0
	for _, k := range keys {
		if k.Overdue(now) {
			overdue++
		}
		if len(k.SoftwareSigningVersions()) > 0 {
			soft++
		}
	}
	level := func(n int, bad string) string {
		if n > 0 {
			return bad
		}
		return "ok"
	}
	return []web.Stat{
		{LabelID: "keys.card.overdue", Value: strconv.Itoa(overdue), Level: level(overdue, "bad"), Link: "/keys"},
		{LabelID: "keys.card.soft_signing", Value: strconv.Itoa(soft), Level: level(soft, "warn"), Link: "/keys#hsm-warning"},
		{LabelID: "keys.card.total", Value: strconv.Itoa(len(keys)), Link: "/keys"},
	}, nil
}

// versionOf reads the {version} of the route; 0 when it is not a number.
func versionOf(r *http.Request) int {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// keyURL is the detail page of the key named in the route.
func keyURL(r *http.Request) string { return "/keys/" + url.PathEscape(r.PathValue("name")) }

// sortedOps lists ops in the order of Operations.
func sortedOps(ops []Operation) []Operation {
	out := slices.Clone(ops)
	slices.SortFunc(out, func(a, b Operation) int {
		return slices.Index(Operations, a) - slices.Index(Operations, b)
	})
	return out
}
