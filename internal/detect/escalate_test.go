package detect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// fakeIncidents is an incident part that numbers the incidents it opens
// and can be told to fail or to answer a bad URL.
type fakeIncidents struct {
	mu     sync.Mutex
	opened []int64 // the alerts
	fail   error
	url    string
}

func (f *fakeIncidents) Escalate(_ context.Context, a detect.Alert, by detect.Reviewer, comment string) (detect.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return detect.Incident{}, f.fail
	}
	f.opened = append(f.opened, a.ID)
	url := f.url
	if url == "" {
		url = fmt.Sprintf("/incidents/%d", len(f.opened))
	}
	return detect.Incident{Ref: fmt.Sprintf("INC-2026-%04d", len(f.opened)), URL: url}, nil
}

// breakGlassAlerts raises n break-glass alerts of facility 1 (one user
// each) and returns them, newest first.
func breakGlassAlerts(t *testing.T, d *db.DB, l *audit.Log, n int) []detect.Alert {
	t.Helper()
	var events []audit.Event
	for i := range n {
		events = append(events, breakGlassBy(fmt.Sprintf("d-%d", i), "10.0.0.1", 1, i))
	}
	if _, err := l.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	drain(t, newEngine(t, d, l))
	alerts, err := detect.Alerts(context.Background(), d, n)
	if err != nil || len(alerts) != n {
		t.Fatalf("%d alerts: %v", len(alerts), err)
	}
	return alerts
}

func TestEscalate_OnceIntoAnIncidentRecordedAndKeptWithTheAlert(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start.Add(time.Hour)
		l := audit.New(d, clock.NewFrozen(now))
		alerts := breakGlassAlerts(t, d, l, 3)
		inc := &fakeIncidents{}
		by := detect.Reviewer{UserID: 3, Login: "csirt01", Client: "192.0.2.9"}
		every := detect.AlertQuery{AllFacilities: true}

		got, err := detect.EscalateAlert(ctx, d, l, inc, every, alerts[0].ID, by, "患者情報の持ち出しの疑い", now)
		if err != nil || got.Ref != "INC-2026-0001" || got.URL != "/incidents/1" {
			t.Fatalf("escalate: %+v %v", got, err)
		}
		// Again: the same incident, and the incident part is not asked.
		again, err := detect.EscalateAlert(ctx, d, l, inc, every, alerts[0].ID, by, "", now)
		if err != nil || again != got || len(inc.opened) != 1 {
			t.Fatalf("escalated again: %+v %v, %d opened", again, err, len(inc.opened))
		}
		if stored, ok, err := detect.AlertIncident(ctx, d, alerts[0].ID); !ok || err != nil || stored != got {
			t.Errorf("stored %+v %v %v", stored, ok, err)
		}
		notes, _ := detect.Notes(ctx, d, alerts[0].ID)
		if len(notes) != 1 || !strings.Contains(notes[0].Comment, "INC-2026-0001") || !strings.Contains(notes[0].Comment, "持ち出し") {
			t.Errorf("history %+v", notes)
		}
		recs, _, err := l.Search(ctx, audit.Filter{Action: detect.ActionEscalate, AllFacilities: true})
		if err != nil || len(recs) != 1 || recs[0].Detail["incident"] != "INC-2026-0001" || recs[0].ActorLogin != "csirt01" ||
			recs[0].Target != fmt.Sprintf("alert:%d", alerts[0].ID) || recs[0].Facility != 1 {
			t.Errorf("audit log %+v %v", recs, err)
		}

		// Another facility's reviewer does not find the alert, and no
		// incident is opened.
		if _, err := detect.EscalateAlert(ctx, d, l, inc, detect.AlertQuery{Facilities: []int64{2}}, alerts[1].ID, by, "", now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("another facility: %v", err)
		}
		// A failing incident part, or one answering a URL that is no
		// link, changes nothing.
		inc.fail = errors.New("the roster is being edited")
		if _, err := detect.EscalateAlert(ctx, d, l, inc, every, alerts[1].ID, by, "", now); err == nil {
			t.Error("a failed escalation succeeded")
		}
		inc.fail, inc.url = nil, "javascript:alert(1)"
		if _, err := detect.EscalateAlert(ctx, d, l, inc, every, alerts[2].ID, by, "", now); err == nil {
			t.Error("a javascript: URL was kept")
		}
		var re *detect.ReviewError
		if _, err := detect.EscalateAlert(ctx, d, l, inc, every, alerts[1].ID, by, strings.Repeat("あ", 2001), now); !errors.As(err, &re) {
			t.Errorf("a comment too long: %v", err)
		}
		for _, a := range alerts[1:] {
			if _, ok, _ := detect.AlertIncident(ctx, d, a.ID); ok {
				t.Errorf("alert %d has an incident", a.ID)
			}
		}
		if recs, _, _ := l.Search(ctx, audit.Filter{Action: detect.ActionEscalate, AllFacilities: true}); len(recs) != 1 {
			t.Errorf("%d escalations in the audit log", len(recs))
		}
	})
}

// csirtAuth signs every request in as a CSIRT member of facility 1.
type csirtAuth struct{}

func (csirtAuth) Authenticate(http.ResponseWriter, *http.Request) (*authz.Principal, web.Stage, error) {
	return &authz.Principal{UserID: 3, Login: "csirt01", Grants: []authz.Grant{{Role: authz.CSIRT, Facility: 1}}}, web.StageFull, nil
}

// TestEscalate_TheButtonAndTheRouteExistOnlyWithAnEscalator registers
// the pages without and with an incident part.
func TestEscalate_TheButtonAndTheRouteExistOnlyWithAnEscalator(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		a := breakGlassAlerts(t, d, l, 1)[0]
		cat := i18n.New()
		if err := cat.Add(web.Locales()); err != nil {
			t.Fatal(err)
		}
		if err := cat.Add(detect.Locales()); err != nil {
			t.Fatal(err)
		}
		serve := func(opts ...detect.RegisterOption) (*web.Server, http.Handler) {
			srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: time.UTC, Log: discard})
			if err := detect.Register(srv, d, newEngine(t, d, l), l, opts...); err != nil {
				t.Fatal(err)
			}
			srv.SetAuthenticator(csirtAuth{})
			return srv, srv.Handler()
		}
		do := func(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			if body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		page := fmt.Sprintf("/alerts/%d", a.ID)
		api := fmt.Sprintf("/api/v1/detect/alerts/%d/escalate", a.ID)

		srv, h := serve()
		for _, rt := range srv.Routes() {
			if strings.Contains(rt.Pattern, "escalate") {
				t.Errorf("without an incident part: %s %s", rt.Method, rt.Pattern)
			}
		}
		if w := do(h, "GET", page, ""); w.Code != http.StatusOK || strings.Contains(w.Body.String(), "escalate-form") {
			t.Errorf("without an incident part the page: %d, form shown %v", w.Code, strings.Contains(w.Body.String(), "escalate-form"))
		}
		if w := do(h, "POST", api, ""); w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("without an incident part POST %s: %d", api, w.Code)
		}

		inc := &fakeIncidents{}
		_, h = serve(detect.WithEscalator(inc, detect.PermAlertsReview))
		if w := do(h, "GET", page, ""); !strings.Contains(w.Body.String(), `action="/alerts/escalate/`+fmt.Sprint(a.ID)+`"`) {
			t.Errorf("with an incident part the page offers no escalation:\n%s", w.Body.String())
		}
		if w := do(h, "POST", api, `{"commentary": "x"}`); w.Code != http.StatusBadRequest {
			t.Errorf("an unknown field: %d", w.Code)
		}
		inc.fail = errors.New("down")
		if w := do(h, "POST", api, ""); w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "escalation-failed") {
			t.Errorf("a failing incident part: %d %s", w.Code, w.Body.String())
		}
		inc.fail = nil
		for range 2 {
			w := do(h, "POST", api, `{"comment": "CSIRT 招集"}`)
			var got detect.IncidentJSON
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK || got.Ref != "INC-2026-0001" || got.AlertID != a.ID {
				t.Fatalf("POST %s: %d %s", api, w.Code, w.Body.String())
			}
		}
		if w := do(h, "GET", page, ""); !strings.Contains(w.Body.String(), `<a href="/incidents/1" id="alert-incident-link">INC-2026-0001</a>`) ||
			strings.Contains(w.Body.String(), "escalate-form") {
			t.Errorf("the escalated alert's page:\n%s", w.Body.String())
		}
		if len(inc.opened) != 1 {
			t.Errorf("%d incidents opened", len(inc.opened))
		}
	})
}
