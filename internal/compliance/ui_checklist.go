package compliance

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The checklist's page: each sheet of the MHLW cybersecurity checklist as
// the form has it, each question with はい/いいえ, the date checked, the
// target date and a note. A plain HTML form: "save" on a question saves
// that one, "save the sheet" saves every question answered. A refused
// answer shows the page again with its reason beside the question and
// everything typed kept; nothing is stored until every answer is right.

// questionRow is one question of the form.
type questionRow struct {
	Item   *Item
	Group  *Item
	Answer *Answer
	Typed  *FormAnswer
	Err    string
}

// sheetView is a sheet of the checklist.
type sheetView struct {
	Sheet     *Item
	Questions []questionRow
}

type checklistView struct {
	Facility   int64
	Framework  *Framework
	Frameworks []*Framework
	// Tabs are every sheet of the form; Sheet is the one shown (a
	// hospital answers its own sheet, a pharmacy its own, vendors theirs).
	Tabs   []*Item
	Sheet  string
	Sheets []sheetView
	Today  time.Time
	Error  string
	Counts map[string]int // yes, no, unanswered
}

func (h *handlers) registerChecklistPages() {
	h.srv.Handle(http.MethodGet, "/compliance/checklist", web.Perm(PermRead), h.checklistPage)
	h.srv.Handle(http.MethodPost, "/compliance/checklist", web.Perm(PermAttest), h.checklistPost)
}

// checklistOf is the checklist a request names (?framework=), else the
// newest.
func (h *handlers) checklistOf(r *http.Request) *Framework {
	id := r.URL.Query().Get("framework")
	if r.Method == http.MethodPost && r.PostFormValue("framework") != "" {
		id = r.PostFormValue("framework")
	}
	if id == "" {
		return h.s.lib.Checklist()
	}
	if fw := h.s.lib.Framework(id); fw != nil && fw.Kind == KindChecklist {
		return fw
	}
	return nil
}

// sheetOf is the sheet of fw a request names (?sheet=, or the form's
// field), else the medical institution's sheet, else the first; "" when
// fw has no sheets.
func sheetOf(r *http.Request, fw *Framework) string {
	want := r.URL.Query().Get("sheet")
	if r.Method == http.MethodPost && r.PostFormValue("sheet") != "" {
		want = r.PostFormValue("sheet")
	}
	first := ""
	for _, it := range fw.Items {
		if it.Kind != ItemSheet {
			continue
		}
		if it.Ref == want {
			return want
		}
		if first == "" || (want == "" && it.Ref == "hospital") {
			first = it.Ref
		}
	}
	return first
}

func (h *handlers) checklistView(r *http.Request, f int64, fw *Framework, typed map[string]*FormAnswer) (*checklistView, error) {
	ans, err := h.s.Answers(r.Context(), f, fw.ID)
	if err != nil {
		return nil, err
	}
	byRef := map[string]*Answer{}
	for i := range ans {
		byRef[ans[i].Ref] = &ans[i]
	}
	v := &checklistView{Facility: f, Framework: fw, Today: h.s.Today(h.s.cfg.Clock.Now()), Sheet: sheetOf(r, fw),
		Counts: map[string]int{AnswerYes: 0, AnswerNo: 0, "unanswered": 0}}
	for _, x := range h.s.lib.Frameworks {
		if x.Kind == KindChecklist {
			v.Frameworks = append(v.Frameworks, x)
		}
	}
	var cur *sheetView
	var group *Item
	fw.Walk(func(it *Item, depth int) bool {
		if it.Kind == ItemSheet {
			v.Tabs = append(v.Tabs, it)
			if it.Ref != v.Sheet {
				return false
			}
		}
		switch {
		case it.Kind == ItemSheet || (depth == 0 && it.Kind != ItemQuestion):
			v.Sheets = append(v.Sheets, sheetView{Sheet: it})
			cur = &v.Sheets[len(v.Sheets)-1]
		case it.Kind == ItemQuestion:
			if cur == nil {
				v.Sheets = append(v.Sheets, sheetView{Sheet: &Item{Ref: fw.ID, Title: fw.Name}})
				cur = &v.Sheets[len(v.Sheets)-1]
			}
			q := questionRow{Item: it, Group: group, Answer: byRef[it.Ref], Typed: typed[it.Ref]}
			if q.Typed != nil {
				q.Err = q.Typed.Err
			}
			if q.Answer != nil {
				v.Counts[q.Answer.Value]++
			} else {
				v.Counts["unanswered"]++
			}
			cur.Questions = append(cur.Questions, q)
		default:
			group = it
		}
		return true
	})
	return v, nil
}

func (h *handlers) checklistPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	fw := h.checklistOf(r)
	if fw == nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "compliance.error.checklist")
		return
	}
	v, err := h.checklistView(r, f, fw, nil)
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "compliance/checklist", v)
}

func (h *handlers) checklistPost(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	fw := h.checklistOf(r)
	if fw == nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "compliance.error.checklist")
		return
	}
	in, typed, ok := answersFromForm(r.PostForm, fw)
	var err error
	switch {
	case !ok:
		err = invalid("answers", "compliance.error.form")
	case len(in) == 0:
		err = invalid("answers", "compliance.error.no_answers")
	default:
		_, err = h.s.SetAnswers(r.Context(), actorOf(r), f, in)
	}
	var ae *AnswerError
	if errors.As(err, &ae) {
		if t := typed[ae.Ref]; t != nil {
			t.Err = ae.Err.MsgID
		}
		err = invalid("answers", "compliance.error.form")
	}
	var ce *Error
	if errors.As(err, &ce) {
		v, verr := h.checklistView(r, f, fw, typed)
		if h.pageError(w, r, verr) {
			return
		}
		v.Error = ce.MsgID
		h.srv.Render(w, r, http.StatusUnprocessableEntity, "compliance/checklist", v)
		return
	}
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "compliance.checklist.saved")
	next := withFacility("/compliance/checklist", f) + "&framework=" + url.QueryEscape(fw.ID)
	if sh := sheetOf(r, fw); sh != "" {
		next += "&sheet=" + url.QueryEscape(sh)
	}
	if only := r.PostFormValue("only"); only != "" && fw.Item(only) != nil {
		next += "#q-" + only
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
