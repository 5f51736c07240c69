package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// newToken makes an API token with scopes in facility (authz.AllFacilities
// for every one) and returns its secret.
func newToken(t testing.TB, e *apptest.Env, facility int64, scopes ...string) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"ingest"}
	}
	_, secret, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor,
		identity.NewToken{Name: fmt.Sprintf("ingest-test-%d-%d", facility, len(scopes)) + scopes[0], Scopes: scopes,
			Facility: facility})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// answer is a response read whole.
type answer struct {
	status int
	ctype  string
	header http.Header
	body   string
}

// post sends body to path with the given content type and bearer token
// (none when empty); extra headers are "Name: value".
func post(t testing.TB, e *apptest.Env, path, token, ctype, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), header: resp.Header, body: string(b)}
}

func (a answer) reply(t testing.TB) ingest.Reply {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r ingest.Reply
	if err := json.Unmarshal([]byte(a.body), &r); err != nil {
		t.Fatalf("reply %q: %v", a.body, err)
	}
	return r
}

func (a answer) problem(t testing.TB) web.Problem {
	t.Helper()
	var p web.Problem
	if a.ctype != "application/problem+json" || json.Unmarshal([]byte(a.body), &p) != nil {
		t.Fatalf("%d %q %s: want a problem", a.status, a.ctype, a.body)
	}
	return p
}

// ingested returns the events in the log not from anzen itself, in order.
func ingested(t testing.TB, e *apptest.Env) []audit.Event {
	t.Helper()
	all, err := e.App.Audit.ReadAfter(context.Background(), -1, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, ev := range all {
		if ev.Source != audit.SourceAnzen {
			out = append(out, ev)
		}
	}
	return out
}

func rejectedLines(r ingest.Reply) (lines []int, codes []string) {
	for _, rj := range r.Rejected {
		lines = append(lines, rj.Line)
		codes = append(codes, rj.Code)
	}
	return lines, codes
}

// mixedLines are NDJSON lines, good and bad, with the code of each bad one.
var mixedLines = []struct {
	line string
	code string // "" for a good line
}{
	{`{"time":"2026-04-01T09:15:00+09:00","source":"ehr-main","actor":{"id":"n0123","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-012","address":"10.1.2.3"},"action":"view","patient":{"id":"P0001234"},"object":{"type":"record","id":"R1"},"outcome":"success","purpose":"treatment","session":"s-1"}`, ""},
	{``, "-"}, // empty: skipped, not refused
	{`{"time":"yesterday","source":"ehr-main","action":"view"}`, "invalid-time"},
	{`{"time":"2026-04-01T09:16:00+09:00","source":"ehr-main","actor":{"id":"n0123","x_badge":"B-77"},"action":"VIEW","object":{"id":"R2"},"x_ward":{"floor":5,"name":"東病棟"}}`, ""},
	{`this is not json`, "invalid-json"},
	{`[1,2]`, "not-object"},
	{`{"time":"2026-04-01T09:17:00+09:00","action":"view"}`, "missing"},
	{`{"time":"2026-04-01T09:17:00+09:00","source":"ehr-main","action":"view record"}`, "invalid-event"},
	{`{"time":"2026-04-01T09:17:00+09:00","source":"ehr-main","action":"view","outcome":"ok"}`, "invalid-event"},
	{`{"time":"2026-04-01T09:18:00+09:00","source":"ehr-main","action":"logout","object":{"id":"R3"}}` + "\r", ""},
	{`{"time":"2026-04-01T09:18:00+09:00","source":"ehr-main","action":"view","x":"` + strings.Repeat("x", audit.MaxOriginal) + `"}`, "too-long"},
	{"{\"time\":\"2026-04-01T09:18:00+09:00\",\"source\":\"ehr-main\",\"action\":\"view\",\"actor\":{\"name\":\"\xff\"}}", "invalid-utf8"},
	{`{"time":"2026-04-01T09:19:00+09:00","source":"ehr-main","action":"view","actor":"n0123"}`, "wrong-type"},
	{`{"time":"2026-04-01T09:20:00+09:00","source":"pacs","action":"print","object":{"id":"R4"},"outcome":"failure"}`, ""},
}

func TestEvents_NDJSONTakesGoodLinesAndNamesEachBadOne(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		var body []string
		var wantLines []int
		var wantCodes []string
		var good []string
		for i, l := range mixedLines {
			body = append(body, l.line)
			switch l.code {
			case "":
				good = append(good, strings.TrimSpace(l.line))
			case "-":
			default:
				wantLines, wantCodes = append(wantLines, i+1), append(wantCodes, l.code)
			}
		}
		arrived := e.Clock.Now()
		a := post(t, e, ingest.EventsPath, token, "application/x-ndjson", strings.Join(body, "\n"),
			"Accept-Language: en")
		r := a.reply(t)
		lines, codes := rejectedLines(r)
		if r.Accepted != len(good) || !slices.Equal(lines, wantLines) || !slices.Equal(codes, wantCodes) {
			t.Fatalf("accepted %d, rejected %v %v; want %d, %v %v\n%s", r.Accepted, lines, codes, len(good),
				wantLines, wantCodes, a.body)
		}
		for _, rj := range r.Rejected {
			if rj.Error == "" || strings.Contains(rj.Error, "[ingest.") || strings.Contains(rj.Error, "<no value>") {
				t.Errorf("line %d: message %q", rj.Line, rj.Error)
			}
		}
		if !strings.Contains(r.Rejected[0].Error, `time "yesterday" is not an RFC 3339 time`) {
			t.Errorf("English message of line 3: %q", r.Rejected[0].Error)
		}

		evs := ingested(t, e)
		if len(evs) != len(good) {
			t.Fatalf("%d events in the log, want %d", len(evs), len(good))
		}
		for i, ev := range evs {
			if string(ev.Original) != good[i] {
				t.Errorf("event %d: original %.80q, want the line as sent", i, ev.Original)
			}
			if ev.Facility != e.Facility || !ev.Received.Equal(arrived) || ev.Format != audit.FormatJSON {
				t.Errorf("event %d: facility %d received %v format %q", i, ev.Facility, ev.Received, ev.Format)
			}
		}
		if evs[1].Action != "view" || !strings.Contains(string(evs[1].Original), `"x_ward":{"floor":5,"name":"東病棟"}`) {
			t.Errorf("unknown fields not kept, or action not folded: %+v", evs[1])
		}
		if ev := evs[0]; ev.Actor.Name != "山田 花子" || ev.Patient.ID != "P0001234" || ev.Purpose != "treatment" {
			t.Errorf("event 0 mapped as %+v", ev)
		}
		if evs[3].Outcome != audit.OutcomeFailure || evs[3].Source != "pacs" {
			t.Errorf("event 3: %+v", evs[3])
		}
	})
}

func TestEvents_JSONArrayNumbersElementsAndAnswersInTheRequestLanguage(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, authz.AllFacilities)
		body := `[
		{"time":"2026-04-01T09:15:00+09:00","source":"ehr-main","action":"login","actor":{"id":"n1"}},
		{"time":"2026-04-01T09:15:00+09:00","action":"view"},
		42,
		{"time":"2026-04-01T09:16:00+09:00","source":"ehr-main","action":"logout","actor":{"id":"n1"},"x":null}
	]`
		a := post(t, e, ingest.EventsPath, token, "application/json; charset=utf-8", body, "Accept-Language: ja")
		r := a.reply(t)
		lines, codes := rejectedLines(r)
		if r.Accepted != 2 || !slices.Equal(lines, []int{2, 3}) || !slices.Equal(codes, []string{"missing", "not-object"}) {
			t.Fatalf("%s", a.body)
		}
		if r.Rejected[0].Error != "source は必須です。" {
			t.Errorf("Japanese message %q", r.Rejected[0].Error)
		}
		evs := ingested(t, e)
		if len(evs) != 2 || evs[0].Action != "login" || evs[1].Action != "logout" || evs[0].Facility != 0 {
			t.Fatalf("events %+v", evs)
		}

		// One object alone is a batch of one; an empty array of none.
		r = post(t, e, ingest.EventsPath, token, "application/json",
			`{"time":"2026-04-01T09:17:00+09:00","source":"ehr-main","action":"view"}`).reply(t)
		if r.Accepted != 1 || len(r.Rejected) != 0 {
			t.Errorf("one object: %+v", r)
		}
		if r = post(t, e, ingest.EventsPath, token, "application/json", `[]`).reply(t); r.Accepted != 0 || r.Rejected == nil {
			t.Errorf("empty array: %+v (rejected must be [], not null)", r)
		}
		if r = post(t, e, ingest.EventsPath, token, "application/x-ndjson", ``).reply(t); r.Accepted != 0 {
			t.Errorf("empty NDJSON: %+v", r)
		}
	})
}

func TestEvents_FacilityComesFromTheToken(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		branch, err := e.App.Identity.CreateFacility(context.Background(), identity.SystemActor, identity.Facility{Code: "branch",
			NameJA: "分院", NameEN: "Branch clinic"})
		if err != nil {
			t.Fatal(err)
		}
		line := func(obj string, facility string) string {
			f := ""
			if facility != "" {
				f = `,"facility":` + facility
			}
			return `{"time":"2026-04-01T09:15:00+09:00","source":"ehr","action":"view","object":{"id":"` + obj + `"}` + f + `}`
		}
		main, other, none := fmt.Sprint(e.Facility), fmt.Sprint(branch.ID), "0"
		tests := []struct {
			name     string
			token    int64
			facility string // as the record names it; "" names none
			want     int64  // -1: refused
			code     string
		}{
			{"one facility, none named", e.Facility, "", e.Facility, ""},
			{"one facility, its own named", e.Facility, main, e.Facility, ""},
			{"one facility, another named", e.Facility, other, -1, "facility-forbidden"},
			{"one facility, none (0) named", e.Facility, none, -1, "facility-forbidden"},
			{"every facility, none named", authz.AllFacilities, "", 0, ""},
			{"every facility, one named", authz.AllFacilities, other, branch.ID, ""},
			{"every facility, 0 named", authz.AllFacilities, none, 0, ""},
			{"every facility, an unknown one named", authz.AllFacilities, "999", -1, "facility-unknown"},
			{"every facility, a negative one named", authz.AllFacilities, "-3", -1, "facility-unknown"},
		}
		for i, tt := range tests {
			obj := fmt.Sprintf("obj-%d", i)
			r := post(t, e, ingest.EventsPath, newToken(t, e, tt.token), "application/x-ndjson",
				line(obj, tt.facility)).reply(t)
			if tt.want < 0 {
				if r.Accepted != 0 || len(r.Rejected) != 1 || r.Rejected[0].Code != tt.code {
					t.Errorf("%s: %+v, want refused with %s", tt.name, r, tt.code)
				}
				continue
			}
			if r.Accepted != 1 {
				t.Errorf("%s: %+v", tt.name, r)
				continue
			}
			evs := ingested(t, e)
			if got := evs[len(evs)-1]; got.Object.ID != obj || got.Facility != tt.want {
				t.Errorf("%s: facility %d, want %d", tt.name, got.Facility, tt.want)
			}
		}
	})
}

func TestEvents_OnlyTokensOfScopeIngest(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		admin := e.CreateUser(t, "ingest-admin", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
		session := e.Login(t, admin)
		line := `{"time":"2026-04-01T09:15:00+09:00","source":"ehr","action":"view"}`
		readToken := newToken(t, e, authz.AllFacilities, "read")
		for _, path := range []string{ingest.EventsPath, ingest.FHIRPath} {
			for _, c := range []struct {
				name, token string
				status      int
				kind        string
			}{
				{"no token", "", http.StatusUnauthorized, "unauthenticated"},
				{"wrong token", "anz_" + strings.Repeat("A", 43), http.StatusUnauthorized, "unauthenticated"},
				{"token of scope read", readToken, http.StatusForbidden, "forbidden"},
			} {
				a := post(t, e, path, c.token, "application/x-ndjson", line)
				if p := a.problem(t); a.status != c.status || p.Type != web.ProblemTypePrefix+c.kind {
					t.Errorf("%s %s: %d %s, want %d %s", path, c.name, a.status, p.Type, c.status, c.kind)
				}
			}
			req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(line))
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := session.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s as a signed-in administrator: %d, want 403", path, resp.StatusCode)
			}
		}
		if evs := ingested(t, e); len(evs) != 0 {
			t.Errorf("refused callers stored %d events", len(evs))
		}
	})
}

func TestEvents_FoundInTheSearchIndexByPatientAndUser(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		var lines []string
		for i := range 50 {
			lines = append(lines, fmt.Sprintf(`{"time":"2026-04-01T09:%02d:00+09:00","source":"ehr-main","actor":{"id":"n%d"},"action":"view","patient":{"id":"P%04d"}}`,
				i, i%5, i%7))
		}
		if r := post(t, e, ingest.EventsPath, token, "application/x-ndjson", strings.Join(lines, "\n")).reply(t); r.Accepted != 50 {
			t.Fatalf("%+v", r)
		}
		ctx := context.Background()
		if _, err := e.App.Audit.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := e.App.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_index WHERE patient_id = ? AND actor_id = ?
		AND facility_id = ? AND source = 'ehr-main'`, "P0003", "n3", e.Facility).Scan(&n); err != nil {
			t.Fatal(err)
		}
		// i%7 == 3 and i%5 == 3: i = 3, 38.
		if n != 2 {
			t.Errorf("%d events of patient P0003 by n3 in the index, want 2", n)
		}
	})
}

func TestEvents_ABodyOverTheLimitSaysHowFarItGot(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		var b strings.Builder
		for i := 0; b.Len() <= int(e.App.Cfg.MaxBodyBytes); i++ {
			fmt.Fprintf(&b, `{"time":"2026-04-01T09:15:00+09:00","source":"ehr","action":"view","object":{"id":"o%06d"}}`+"\n", i)
		}
		// Sent without a Content-Length, so that anzen reads it until the limit.
		req, _ := http.NewRequest(http.MethodPost, e.URL+ingest.EventsPath, io.MultiReader(strings.NewReader(b.String())))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			web.Problem
			Accepted    int                `json:"accepted"`
			Rejected    []ingest.Rejection `json:"rejected"`
			ThroughLine int                `json:"through_line"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		evs := ingested(t, e)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || p.Type != web.ProblemTypePrefix+"body-too-large" ||
			p.Accepted == 0 || p.Accepted != p.ThroughLine || len(evs) != p.Accepted || p.Rejected == nil {
			t.Fatalf("%d %+v; %d events stored", resp.StatusCode, p, len(evs))
		}
		if last := evs[len(evs)-1].Object.ID; last != fmt.Sprintf("o%06d", p.ThroughLine-1) {
			t.Errorf("the last event stored is %s, through line %d", last, p.ThroughLine)
		}
	})
}

func TestMessages_EveryRejectCodeInBothLanguages(t *testing.T) {
	e := apptest.New(t, "sqlite")
	for _, code := range ingest.RejectCodes {
		id := (&ingest.RecordError{Code: code}).MessageID()
		for _, lang := range []string{"ja", "en"} {
			if !e.App.Catalog.Has(lang, id) {
				t.Errorf("%s: no message %s", lang, id)
			}
		}
	}
}

// eachDialect runs fn in parallel on a fresh anzen on each database.
func eachDialect(t *testing.T, fn func(t *testing.T, e *apptest.Env)) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, apptest.New(t, d))
		})
	}
}
