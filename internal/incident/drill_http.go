package incident

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The drills' pages (/incident/drills: the list, the form of a new
// drill, a drill with its lessons and their follow-up tasks) and API
// (/api/v1/incident/drills...).

func (h *handlers) registerDrills() {
	read, prep := web.Perm(PermRead), web.Perm(PermPrepare)
	h.srv.Handle(http.MethodGet, "/incident/drills", read, h.drillsPage)
	h.srv.Handle(http.MethodGet, "/incident/drills/new", prep, h.drillNewPage)
	h.srv.Handle(http.MethodPost, "/incident/drills", prep, h.drillPost)
	h.srv.Handle(http.MethodGet, "/incident/drills/{id}", read, h.drillPage)
	h.srv.Handle(http.MethodPost, "/incident/drills/{id}/lessons", prep, h.lessonPost)
	h.srv.Handle(http.MethodPost, "/incident/drills/{id}/lessons/{task}/done", prep, h.lessonDonePost)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/drills", read, h.apiDrills)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/drills", prep, h.apiDrillCreate)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/drills/{id}", read, h.apiDrill)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/drills/{id}/lessons", prep, h.apiLessonAdd)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/drills/{id}/lessons/{task}/done", prep, h.apiLessonDone)
}

// DrillNewJSON is the body of POST /api/v1/incident/drills.
type DrillNewJSON struct {
	HeldAt       time.Time       `json:"held_at"`
	Kind         string          `json:"kind"`
	Title        string          `json:"title"`
	Scenario     string          `json:"scenario,omitempty"`
	ScenarioKind string          `json:"scenario_kind,omitempty"`
	Participants []Participant   `json:"participants,omitempty"`
	Minutes      int64           `json:"minutes,omitempty"`
	Findings     string          `json:"findings,omitempty"`
	Lessons      []LessonNewJSON `json:"lessons,omitempty"`
}

// LessonNewJSON is a follow-up task as a request gives it.
type LessonNewJSON struct {
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner"`
	Due         *time.Time `json:"due,omitempty"`
}

// DrillJSON is a drill in the JSON API.
type DrillJSON struct {
	ID           int64         `json:"id,omitempty"`
	Facility     int64         `json:"facility,omitempty"`
	HeldAt       time.Time     `json:"held_at"`
	Kind         string        `json:"kind"`
	Title        string        `json:"title"`
	Scenario     string        `json:"scenario,omitempty"`
	ScenarioKind string        `json:"scenario_kind,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	Minutes      int64         `json:"minutes,omitempty"`
	Findings     string        `json:"findings,omitempty"`
	Lessons      []LessonJSON  `json:"lessons,omitempty"`
	Created      *time.Time    `json:"created,omitempty"`
	CreatedBy    string        `json:"created_by,omitempty"`
}

// LessonJSON is a drill's follow-up task in the JSON API.
type LessonJSON struct {
	ID          int64      `json:"id,omitempty"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner"`
	Due         *time.Time `json:"due,omitempty"`
	State       string     `json:"state,omitempty"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
	DoneBy      string     `json:"done_by,omitempty"`
}

func prepTimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func lessonJSON(l Lesson) LessonJSON {
	return LessonJSON{ID: l.ID, Title: l.Title, Description: l.Description, Owner: l.Owner, Due: prepTimePtr(l.Due), State: l.State,
		DoneAt: prepTimePtr(l.DoneAt), DoneBy: l.DoneBy}
}

func (j LessonNewJSON) lesson() Lesson {
	l := Lesson{Title: j.Title, Description: j.Description, Owner: j.Owner}
	if j.Due != nil {
		l.Due = j.Due.UTC()
	}
	return l
}

func drillJSON(d Drill) DrillJSON {
	j := DrillJSON{ID: d.ID, Facility: d.Facility, HeldAt: d.HeldAt, Kind: d.Kind, Title: d.Title, Scenario: d.Scenario,
		ScenarioKind: string(d.ScenarioKind), Participants: d.Participants, Minutes: d.Minutes, Findings: d.Findings,
		Created: prepTimePtr(d.Created), CreatedBy: d.CreatedBy}
	for _, l := range d.Lessons {
		j.Lessons = append(j.Lessons, lessonJSON(l))
	}
	return j
}

func (h *handlers) apiDrills(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	list, err := Drills(r.Context(), h.cfg.DB, false, []int64{f})
	if h.prepProblem(w, r, err) {
		return
	}
	out := struct {
		Drills []DrillJSON `json:"drills"`
	}{[]DrillJSON{}}
	for _, d := range list {
		out.Drills = append(out.Drills, drillJSON(d))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiDrill(w http.ResponseWriter, r *http.Request) {
	id := prepPathID(r, "id")
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	d, err := DrillByID(r.Context(), h.cfg.DB, all, ids, id)
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, drillJSON(d))
}

func (h *handlers) apiDrillCreate(w http.ResponseWriter, r *http.Request) {
	var body DrillNewJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	d := Drill{HeldAt: body.HeldAt.UTC(), Kind: body.Kind, Title: body.Title, Scenario: body.Scenario,
		ScenarioKind: Kind(body.ScenarioKind), Participants: body.Participants, Minutes: body.Minutes, Findings: body.Findings}
	for _, l := range body.Lessons {
		d.Lessons = append(d.Lessons, l.lesson())
	}
	d, err := CreateDrill(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, d, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	w.Header().Set("Location", "/api/v1/incident/drills/"+strconv.FormatInt(d.ID, 10))
	web.JSON(w, http.StatusCreated, drillJSON(d))
}

// drillFacility returns the facility of the drill of the path where the
// caller may prepare: db.ErrNotFound when there is no such drill.
func (h *handlers) drillFacility(r *http.Request) (int64, int64, error) {
	id := prepPathID(r, "id")
	all, ids := web.PrincipalOf(r).Facilities(PermPrepare)
	d, err := DrillByID(r.Context(), h.cfg.DB, all, ids, id)
	return d.Facility, id, err
}

func (h *handlers) apiLessonAdd(w http.ResponseWriter, r *http.Request) {
	var body LessonNewJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, id, err := h.drillFacility(r)
	if h.prepProblem(w, r, err) {
		return
	}
	l, err := AddLesson(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, body.lesson(), h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, lessonJSON(l))
}

func (h *handlers) apiLessonDone(w http.ResponseWriter, r *http.Request) {
	f, id, err := h.drillFacility(r)
	if h.prepProblem(w, r, err) {
		return
	}
	task := prepPathID(r, "task")
	if h.prepProblem(w, r, CompleteLesson(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, task, h.cfg.Clock.Now())) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// drillsView is what templates/drills.html sees.
type drillsView struct {
	Facility int64
	Query    string
	Drills   []Drill
	CanEdit  bool
}

func (h *handlers) drillsPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	list, err := Drills(r.Context(), h.cfg.DB, false, []int64{f})
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "incident/drills", &drillsView{Facility: f, Query: prepFacilityQuery(f), Drills: list,
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, f)})
}

// drillFormView is what templates/drill_new.html sees.
type drillFormView struct {
	Facility int64
	Query    string
	Form     map[string]string
	Lessons  []map[string]string
	Kinds    []string
	Incident []Kind
	Error    string
}

// drillLessonRows is how many lesson rows the new drill's form offers.
const drillLessonRows = 5

func (h *handlers) drillNewPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	form := map[string]string{"kind": "tabletop", "held_at": h.cfg.Clock.Now().In(h.srv.Location()).Format("2006-01-02T15:04")}
	h.renderDrillForm(w, r, http.StatusOK, f, form, nil, "")
}

func (h *handlers) renderDrillForm(w http.ResponseWriter, r *http.Request, status int, f int64, form map[string]string, lessons []map[string]string, msg string) {
	for len(lessons) < drillLessonRows {
		lessons = append(lessons, map[string]string{})
	}
	h.srv.Render(w, r, status, "incident/drill_new", &drillFormView{Facility: f, Query: prepFacilityQuery(f), Form: form,
		Lessons: lessons, Kinds: DrillKinds, Incident: Kinds, Error: msg})
}

// parseParticipants reads one participant a line, "name, role" (a
// Japanese comma or a tab also separates).
func parseParticipants(s string) []Participant {
	var out []Participant
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, role, _ := strings.Cut(strings.NewReplacer("、", ",", "，", ",", "\t", ",").Replace(line), ",")
		out = append(out, Participant{Name: strings.TrimSpace(name), Role: strings.TrimSpace(role)})
	}
	return out
}

// formLesson reads a lesson of a form: title, owner, description and a
// due date (the end of that day where the hospital is).
func (h *handlers) formLesson(m map[string]string) (Lesson, error) {
	l := Lesson{Title: m["title"], Owner: m["owner"], Description: m["description"]}
	if m["due"] != "" {
		day, err := time.ParseInLocation(time.DateOnly, m["due"], h.srv.Location())
		if err != nil {
			return l, prepErr("lessons", "incident.prep.error.date")
		}
		l.Due = day.AddDate(0, 0, 1).Add(-time.Minute).UTC()
	}
	return l, nil
}

func (h *handlers) drillPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	form := map[string]string{}
	for _, k := range []string{"held_at", "kind", "title", "scenario", "scenario_kind", "participants", "minutes", "findings"} {
		form[k] = r.PostFormValue(k)
	}
	d := Drill{Kind: form["kind"], Title: form["title"], Scenario: form["scenario"], ScenarioKind: Kind(form["scenario_kind"]),
		Participants: parseParticipants(form["participants"]), Findings: form["findings"]}
	var err error
	if d.HeldAt, err = time.ParseInLocation("2006-01-02T15:04", form["held_at"], h.srv.Location()); err != nil {
		err = prepErr("held_at", "incident.prep.error.date")
	} else if form["minutes"] != "" {
		if d.Minutes, err = strconv.ParseInt(strings.TrimSpace(form["minutes"]), 10, 64); err != nil {
			err = prepErr("minutes", "incident.prep.error.minutes")
		}
	}
	var lessons []map[string]string
	for i := range r.PostForm["lesson_title"] {
		m := map[string]string{}
		for _, k := range []string{"title", "owner", "due", "description"} {
			if v := r.PostForm["lesson_"+k]; i < len(v) {
				m[k] = strings.TrimSpace(v[i])
			}
		}
		lessons = append(lessons, m)
		if m["title"] == "" && m["owner"] == "" && m["description"] == "" {
			continue
		}
		if l, lerr := h.formLesson(m); lerr != nil && err == nil {
			err = lerr
		} else {
			d.Lessons = append(d.Lessons, l)
		}
	}
	if err == nil {
		d.HeldAt = d.HeldAt.UTC()
		d, err = CreateDrill(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, d, h.cfg.Clock.Now())
	}
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderDrillForm(w, r, http.StatusUnprocessableEntity, f, form, lessons, msg)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.drill.saved")
	http.Redirect(w, r, "/incident/drills/"+strconv.FormatInt(d.ID, 10), http.StatusSeeOther)
}

// drillView is what templates/drill.html sees.
type drillView struct {
	Drill   Drill
	Query   string
	Now     time.Time
	CanEdit bool
	Error   string
}

func (h *handlers) drillPage(w http.ResponseWriter, r *http.Request) {
	h.renderDrill(w, r, http.StatusOK, "")
}

func (h *handlers) renderDrill(w http.ResponseWriter, r *http.Request, status int, msg string) {
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	d, err := DrillByID(r.Context(), h.cfg.DB, all, ids, prepPathID(r, "id"))
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Render(w, r, status, "incident/drill", &drillView{Drill: d, Query: prepFacilityQuery(d.Facility), Now: h.cfg.Clock.Now(),
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, d.Facility), Error: msg})
}

func (h *handlers) lessonPost(w http.ResponseWriter, r *http.Request) {
	f, id, err := h.drillFacility(r)
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	l, err := h.formLesson(map[string]string{"title": r.PostFormValue("title"), "owner": r.PostFormValue("owner"),
		"due": r.PostFormValue("due"), "description": r.PostFormValue("description")})
	if err == nil {
		_, err = AddLesson(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, l, h.cfg.Clock.Now())
	}
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderDrill(w, r, http.StatusUnprocessableEntity, msg)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.lesson.saved")
	http.Redirect(w, r, "/incident/drills/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (h *handlers) lessonDonePost(w http.ResponseWriter, r *http.Request) {
	f, id, err := h.drillFacility(r)
	if err == nil {
		err = CompleteLesson(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, prepPathID(r, "task"), h.cfg.Clock.Now())
	}
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.lesson.done")
	http.Redirect(w, r, "/incident/drills/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}
