package compliance

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// A control's page: what it is and which requirements it answers, its
// checks with their latest result in the reader's language, its evidence
// with the SHA-256, dates and approval of each file, and the forms of its
// owner and state, an upload, the approval or rejection, and "run the
// checks now". A form refused shows the page again with the reason and
// what was typed.

// checkRow is one check of a control as the page shows it.
type checkRow struct {
	ID     string
	Title  string
	Run    *CheckRun
	Detail string
	Links  []linkRow
}

type linkRow struct{ Label, Href string }

// requirementRow is a requirement the control answers.
type requirementRow struct {
	Ref       string
	Framework string
	Item      *Item
	Where     Text // the edition and the section or sheet, such as "ガイドライン 5.1 ・ 6.5"
}

// requirementWhere names where an item sits, for a reader who sees items
// of several catalogs side by side: the guideline's edition and section,
// or the checklist's edition and sheet (a question has the same number on
// the hospital's and the pharmacy's sheet).
func requirementWhere(fw *Framework, it *Item) Text {
	if fw.Kind == KindChecklist {
		top := it.Top()
		return Text{JA: "チェックリスト " + fw.Edition + "・" + top.Title.JA, EN: "Checklist " + fw.Edition + " · " + top.Title.EN}
	}
	sec := it
	for sec.Parent() != nil && sec.Kind != ItemSection {
		sec = sec.Parent()
	}
	return Text{JA: "ガイドライン " + fw.Edition + "・" + sec.Number, EN: "Guideline " + fw.Edition + " · " + sec.Number}
}

// attestationRow is an attestation with its expiry level today.
type attestationRow struct {
	Attestation
	Expiry string
	Mine   bool
}

type controlView struct {
	Facility     int64
	State        *ControlState
	Setting      ControlSetting
	Requirements []requirementRow
	Checks       []checkRow
	Attestations []attestationRow
	Error        string // a message id
	Field        string
	Form         map[string]string // what was typed in the refused form
	Impls        []string
	Today        time.Time
}

// controlView builds the page of control id for the facility.
func (h *handlers) controlView(r *http.Request, f int64, id string) (*controlView, error) {
	c := h.s.lib.Control(id)
	if c == nil {
		return nil, db.ErrNotFound
	}
	cs, err := h.controlState(r, f, id)
	if err != nil {
		return nil, err
	}
	settings, err := controlSettings(r.Context(), h.s.cfg.DB, f)
	if err != nil {
		return nil, err
	}
	set, ok := settings[id]
	if !ok {
		set.Impl = ImplNotStarted
	}
	lang := h.srv.Lang(r)
	today := h.s.Today(h.s.cfg.Clock.Now())
	v := &controlView{Facility: f, State: cs, Setting: set, Form: map[string]string{}, Today: today,
		Impls: []string{ImplNotStarted, ImplInProgress, ImplImplemented, ImplNotApplicable}}
	for _, req := range c.Requirements {
		fw, it, err := h.s.lib.Resolve(req)
		if err == nil {
			v.Requirements = append(v.Requirements, requirementRow{Ref: req, Framework: fw.ID, Item: it,
				Where: requirementWhere(fw, it)})
		}
	}
	runs := map[string]*CheckRun{}
	for i := range cs.Checks {
		runs[cs.Checks[i].CheckID] = &cs.Checks[i]
	}
	for _, cid := range c.Checks {
		row := checkRow{ID: cid, Title: cid, Run: runs[cid]}
		if chk, ok := h.s.checks[cid]; ok {
			row.Title = h.translate(lang, chk.TitleID, nil)
		}
		if row.Run != nil && row.Run.DetailID != "" {
			row.Detail = h.translate(lang, row.Run.DetailID, row.Run.Data)
			for _, l := range row.Run.Links {
				row.Links = append(row.Links, linkRow{Label: h.translate(lang, l.LabelID, nil), Href: l.Href})
			}
		}
		v.Checks = append(v.Checks, row)
	}
	login := actorOf(r).Login
	for _, a := range cs.Attestations {
		v.Attestations = append(v.Attestations, attestationRow{Attestation: a, Expiry: ExpiryLevel(a.ExpiresOn, today),
			Mine: a.UploadedBy == login})
	}
	return v, nil
}

func (h *handlers) controlPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	v, err := h.controlView(r, f, r.PathValue("id"))
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/control", v)
}

// refused shows the control's page again with the reason a form was
// refused and what was typed (422; 409 for a conflict, such as approving
// one's own upload); false when err is not a refusal.
func (h *handlers) refused(w http.ResponseWriter, r *http.Request, f int64, id string, err error, form map[string]string) bool {
	var ce *Error
	if !errors.As(err, &ce) {
		return false
	}
	status := http.StatusUnprocessableEntity
	if ce.Conflict {
		status = http.StatusConflict
	}
	v, verr := h.controlView(r, f, id)
	if h.pageError(w, r, verr) {
		return true
	}
	v.Error, v.Field, v.Form = ce.MsgID, ce.Field, form
	h.srv.Render(w, r, status, "compliance/control", v)
	return true
}

func (h *handlers) controlPost(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	id := r.PathValue("id")
	set := ControlSetting{Owner: r.PostFormValue("owner"), Impl: r.PostFormValue("implementation"), Note: r.PostFormValue("note")}
	_, err := h.s.SetControl(r.Context(), actorOf(r), f, id, set)
	if h.refused(w, r, f, id, err, map[string]string{"owner": set.Owner, "implementation": set.Impl, "note": set.Note}) ||
		h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "compliance.control.saved")
	http.Redirect(w, r, withFacility("/compliance/controls/"+id, f), http.StatusSeeOther)
}

func (h *handlers) attestPost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	file, fh, ferr := r.FormFile("file")
	var mbe *http.MaxBytesError
	if errors.As(ferr, &mbe) {
		h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
		return
	}
	f, ok := pageFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	var (
		content []byte
		name    string
		err     error
	)
	if ferr == nil {
		defer file.Close()
		if content, err = io.ReadAll(file); err != nil {
			h.srv.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
			return
		}
		name = fh.Filename
	}
	form := map[string]string{}
	if r.MultipartForm != nil {
		for k, vs := range r.MultipartForm.Value {
			if len(vs) > 0 {
				form[k] = vs[0]
			}
		}
	}
	form["control_id"] = id
	n, err := attestationFromForm(mapValues(form), name)
	if err == nil {
		if ferr != nil {
			err = invalid("file", "compliance.error.file_empty")
		} else {
			_, err = h.s.Attest(r.Context(), actorOf(r), f, n, content)
		}
	}
	if h.refused(w, r, f, id, err, form) || h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "compliance.attestation.uploaded")
	http.Redirect(w, r, withFacility("/compliance/controls/"+id, f)+"#attestations", http.StatusSeeOther)
}

func mapValues(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

func (h *handlers) approvePost(w http.ResponseWriter, r *http.Request) { h.decidePost(w, r, true) }
func (h *handlers) rejectPost(w http.ResponseWriter, r *http.Request)  { h.decidePost(w, r, false) }

func (h *handlers) decidePost(w http.ResponseWriter, r *http.Request, approve bool) {
	f, ok := pageFacility(h.srv, w, r, PermApprove)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	a, err := h.s.Decide(r.Context(), actorOf(r), f, id, approve, r.PostFormValue("reason"))
	if err != nil {
		if at, gerr := h.s.Attestation(r.Context(), f, id); gerr == nil &&
			h.refused(w, r, f, at.ControlID, err, map[string]string{"reason": r.PostFormValue("reason")}) {
			return
		}
		h.pageError(w, r, err)
		return
	}
	msg := "compliance.attestation.rejected"
	if approve {
		msg = "compliance.attestation.approved"
	}
	h.srv.Flash(w, msg)
	http.Redirect(w, r, withFacility("/compliance/controls/"+a.ControlID, f)+"#attestations", http.StatusSeeOther)
}

func (h *handlers) attestationDownload(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	a, content, err := h.s.DownloadAttestation(r.Context(), actorOf(r), f, id)
	if h.pageError(w, r, err) {
		return
	}
	writeAttestation(w, a, content)
}
