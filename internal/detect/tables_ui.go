package detect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The reference tables as people and programs handle them: the page
// /detect/tables (each table with its rows, when and by whom it was
// loaded; a form to load one), and the API under /api/v1/detect/tables
// (list, load a CSV file, export one). They hold personal data (names,
// addresses, who is a VIP): reading them is for those who read the access
// log, loading them for administrators and the CISO.

// PermTablesRead lets a caller see and export the reference tables of the
// facilities where it is held.
var PermTablesRead = authz.Define(authz.Spec{
	Name:   "detect.tables.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read"},
})

// PermTablesLoad lets a caller replace the reference tables of the
// facilities where it is held.
var PermTablesLoad = authz.Define(authz.Spec{
	Name:   "detect.tables.load",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO},
	Scopes: []string{"manage"},
})

// TablesConfig is what RegisterTables needs.
type TablesConfig struct {
	DB       *db.DB
	Tables   *Tables
	Recorder selfaudit.Recorder
	Clock    clock.Clock
	// Facilities lists the ids of the facilities there are.
	Facilities func(ctx context.Context) ([]int64, error)
}

type tableHandlers struct {
	srv *web.Server
	TablesConfig
}

// RegisterTables adds the reference tables' page, API routes and
// navigation entry to srv.
func RegisterTables(srv *web.Server, c TablesConfig) {
	h := &tableHandlers{srv: srv, TablesConfig: c}
	read, load := web.Perm(PermTablesRead), web.Perm(PermTablesLoad)
	srv.Handle(http.MethodGet, "/detect/tables", read, h.page)
	srv.Handle(http.MethodPost, "/detect/tables", load, h.loadPost)
	srv.Handle(http.MethodGet, "/api/v1/detect/tables", read, h.apiList)
	srv.Handle(http.MethodGet, "/api/v1/detect/tables/{kind}", read, h.apiExport)
	srv.Handle(http.MethodPut, "/api/v1/detect/tables/{kind}", load, h.apiLoad)
	srv.AddNav(web.NavItem{Path: "/detect/tables", LabelID: "detect.tables.nav", Access: read, Order: 16})
}

// allowed returns the facilities where the caller holds p, in order.
func (h *tableHandlers) allowed(r *http.Request, p authz.Permission) ([]int64, error) {
	ids, err := h.Facilities(r.Context())
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, id := range ids {
		if web.PrincipalOf(r).CanIn(p, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// errFacility is a facility parameter that names none of the caller's.
var errFacility = errors.New("no such facility of the caller")

// facility reads the facility parameter: one where the caller holds p;
// when not given, the only one.
func (h *tableHandlers) facility(r *http.Request, p authz.Permission) (int64, error) {
	allowed, err := h.allowed(r, p)
	if err != nil {
		return 0, err
	}
	s := r.URL.Query().Get("facility")
	if s == "" && r.Method == http.MethodPost {
		s = r.PostFormValue("facility")
	}
	if s == "" {
		if len(allowed) == 1 {
			return allowed[0], nil
		}
		return 0, errFacility
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !slices.Contains(allowed, id) {
		return 0, errFacility
	}
	return id, nil
}

func loader(r *http.Request) Loader {
	p := web.PrincipalOf(r)
	return Loader{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}

// tablesView is what templates/tables.html sees as .Data.
type tablesView struct {
	Rows       []tableRowView
	Kinds      []kindOption
	Facilities []int64 // where the caller may load
	CanLoad    bool
	Error      string
	Done       string
}

type tableRowView struct {
	TableInfo
	KindLabel string
	Stored    bool // loaded at least once
}

type kindOption struct {
	Value, Label, Columns string
}

func (h *tableHandlers) view(r *http.Request) (*tablesView, error) {
	readable, err := h.allowed(r, PermTablesRead)
	if err != nil {
		return nil, err
	}
	infos, err := TableInfos(r.Context(), h.DB, false, readable)
	if err != nil {
		return nil, err
	}
	v := &tablesView{}
	if v.Facilities, err = h.allowed(r, PermTablesLoad); err != nil {
		return nil, err
	}
	v.CanLoad = len(v.Facilities) > 0
	for _, kind := range TableKinds {
		label := h.srv.T(r, "detect.tables.kind."+kind, nil)
		v.Kinds = append(v.Kinds, kindOption{Value: kind, Label: label, Columns: strings.Join(TableColumns(kind), ", ")})
	}
	// Every kind of every readable facility, loaded or not.
	for _, fac := range readable {
		for _, kind := range TableKinds {
			row := tableRowView{TableInfo: TableInfo{Facility: fac, Kind: kind}, KindLabel: h.srv.T(r, "detect.tables.kind."+kind, nil)}
			for _, i := range infos {
				if i.Facility == fac && i.Kind == kind {
					row.TableInfo, row.Stored = i, true
				}
			}
			v.Rows = append(v.Rows, row)
		}
	}
	return v, nil
}

func (h *tableHandlers) page(w http.ResponseWriter, r *http.Request) {
	v, err := h.view(r)
	if err != nil {
		h.srv.Log().Error("list the reference tables", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	h.srv.Render(w, r, http.StatusOK, "detect/tables", v)
}

// loadPost serves the page's form: a kind, a facility and a file.
func (h *tableHandlers) loadPost(w http.ResponseWriter, r *http.Request) {
	status, msg := http.StatusOK, ""
	var info TableInfo
	err := r.ParseMultipartForm(1 << 20)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, h.srv.T(r, "error.body_too_large", nil)
	case err != nil:
		status, msg = http.StatusBadRequest, h.srv.T(r, "detect.tables.error.no_file", nil)
	default:
		kind := r.PostFormValue("kind")
		fac, ferr := h.facility(r, PermTablesLoad)
		file, _, fileErr := r.FormFile("file")
		switch {
		case !ValidTableKind(kind):
			status, msg = http.StatusUnprocessableEntity, h.srv.T(r, "detect.tables.error.kind", nil)
		case ferr != nil:
			status, msg = http.StatusUnprocessableEntity, h.srv.T(r, "detect.tables.error.facility", nil)
		case fileErr != nil:
			status, msg = http.StatusUnprocessableEntity, h.srv.T(r, "detect.tables.error.no_file", nil)
		default:
			defer file.Close()
			info, err = h.Tables.Load(r.Context(), h.Recorder, fac, kind, file, r.PostFormValue("encoding"), loader(r), h.Clock.Now())
			status, msg = h.loadOutcome(r, err)
		}
	}
	if status == http.StatusOK {
		h.srv.Flash(w, "detect.tables.loaded")
		http.Redirect(w, r, "/detect/tables#table-"+strconv.FormatInt(info.Facility, 10)+"-"+info.Kind, http.StatusSeeOther)
		return
	}
	if status == http.StatusInternalServerError {
		h.srv.ErrorPage(w, r, status, "error.internal")
		return
	}
	v, err := h.view(r)
	if err != nil {
		h.srv.Log().Error("list the reference tables", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	v.Error = msg
	h.srv.Render(w, r, status, "detect/tables", v)
}

// loadOutcome is a load's status and message, in the caller's language:
// for a bad file, what is wrong at which line and column.
func (h *tableHandlers) loadOutcome(r *http.Request, err error) (int, string) {
	var te *TableError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.As(err, &te):
		data := map[string]any{"Line": te.Line, "Column": te.Column, "Max": maxTableValue, "MaxRows": maxTableRows}
		reason := h.srv.T(r, te.MsgID, data)
		switch {
		case te.Line == 0:
			return http.StatusUnprocessableEntity, reason
		case te.Column == "":
			data["Reason"] = reason
			return http.StatusUnprocessableEntity, h.srv.T(r, "detect.tables.error.at_line", data)
		}
		data["Reason"] = reason
		return http.StatusUnprocessableEntity, h.srv.T(r, "detect.tables.error.at_column", data)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, h.srv.T(r, "error.body_too_large", nil)
	}
	h.srv.Log().Error("load a reference table", "err", err)
	return http.StatusInternalServerError, h.srv.T(r, "error.internal", nil)
}

// TableInfosJSON is the answer of GET /api/v1/detect/tables.
type TableInfosJSON struct {
	Tables []TableInfo `json:"tables"`
}

func (h *tableHandlers) apiList(w http.ResponseWriter, r *http.Request) {
	readable, err := h.allowed(r, PermTablesRead)
	var infos []TableInfo
	if err == nil {
		infos, err = TableInfos(r.Context(), h.DB, false, readable)
	}
	if err != nil {
		h.srv.Log().Error("list the reference tables", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	if infos == nil {
		infos = []TableInfo{}
	}
	web.JSON(w, http.StatusOK, TableInfosJSON{Tables: infos})
}

// apiKind reads the kind in the path, or answers 404.
func (h *tableHandlers) apiKind(w http.ResponseWriter, r *http.Request) (string, bool) {
	kind := r.PathValue("kind")
	if !ValidTableKind(kind) {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return "", false
	}
	return kind, true
}

func (h *tableHandlers) apiFacility(w http.ResponseWriter, r *http.Request, p authz.Permission) (int64, bool) {
	fac, err := h.facility(r, p)
	switch {
	case errors.Is(err, errFacility):
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.tables.error.facility", nil)
		return 0, false
	case err != nil:
		h.srv.Log().Error("list the facilities", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return 0, false
	}
	return fac, true
}

// apiExport serves a stored table as CSV.
func (h *tableHandlers) apiExport(w http.ResponseWriter, r *http.Request) {
	// The query before the path: a bad parameter is 400 whatever the kind.
	fac, ok := h.apiFacility(w, r, PermTablesRead)
	if !ok {
		return
	}
	kind, ok := h.apiKind(w, r)
	if !ok {
		return
	}
	tb, err := ExportTable(r.Context(), h.DB, h.Recorder, fac, kind, loader(r), h.Clock.Now())
	switch {
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	case err != nil:
		h.srv.Log().Error("read a reference table", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%d-%s.csv"`, kind, fac,
		h.Clock.Now().Format("20060102")))
	if err := tb.WriteCSV(w); err != nil {
		h.srv.Log().Warn("export a reference table", "err", err)
	}
}

// apiLoad replaces a table with the CSV file of the request's body.
func (h *tableHandlers) apiLoad(w http.ResponseWriter, r *http.Request) {
	// The query before the path: a bad parameter is 400 whatever the kind.
	fac, ok := h.apiFacility(w, r, PermTablesLoad)
	if !ok {
		return
	}
	kind, ok := h.apiKind(w, r)
	if !ok {
		return
	}
	info, err := h.Tables.Load(r.Context(), h.Recorder, fac, kind, r.Body, r.URL.Query().Get("encoding"), loader(r), h.Clock.Now())
	status, msg := h.loadOutcome(r, err)
	switch status {
	case http.StatusOK:
		web.JSON(w, http.StatusOK, info)
	case http.StatusUnprocessableEntity:
		p := web.Problem{Type: web.ProblemTypePrefix + "invalid-table", Title: "Unprocessable Entity", Status: status,
			Detail: msg}
		var te *TableError
		if errors.As(err, &te) {
			p.Errors = []web.FieldError{{Field: tableErrorField(te), Message: p.Detail}}
		}
		h.srv.WriteProblem(w, p)
	case http.StatusRequestEntityTooLarge:
		h.srv.Problem(w, r, status, "body-too-large", "error.body_too_large", nil)
	default:
		h.srv.Problem(w, r, status, "internal", "error.internal", nil)
	}
}

// tableErrorField names where a file is wrong: "line 12, column user_id".
func tableErrorField(te *TableError) string {
	switch {
	case te.Line == 0:
		return "file"
	case te.Column == "":
		return "line " + strconv.Itoa(te.Line)
	}
	return "line " + strconv.Itoa(te.Line) + ", column " + te.Column
}
