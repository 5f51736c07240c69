package audit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

const eventsAPI = "/api/v1/audit/events"

// serve sends r as p to the audit part on a fresh web server (with the
// dashboard at /) and returns the response.
func (ts *testServer) serve(p *authz.Principal, r *http.Request) *httptest.ResponseRecorder {
	ts.t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		ts.t.Fatal(err)
	}
	srv := web.NewServer(web.Options{Catalog: catalog(ts.t), DefaultLang: "ja", Location: tokyo})
	if err := audit.Register(srv, ts.log); err != nil {
		ts.t.Fatal(err)
	}
	srv.Handle(http.MethodGet, "/{$}", web.SignedIn, srv.Dashboard)
	srv.SetAuthenticator(fakeAuth{p})
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	return w
}

// get sends a GET of target as p, in lang when given.
func (ts *testServer) get(p *authz.Principal, target, lang string) *httptest.ResponseRecorder {
	ts.t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	return ts.serve(p, r)
}

func decodeEvents(t *testing.T, w *httptest.ResponseRecorder) audit.EventsResponse {
	t.Helper()
	okStatus(t, w.Code, w.Body.String())
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"events", "next", "index_behind"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("answer has no %s: %s", k, w.Body)
		}
	}
	var resp audit.EventsResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func eventSeqs(es []audit.EventJSON) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// problemOf decodes a problem answer and checks its status and type.
func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int, kind string) web.Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p web.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != web.ProblemTypePrefix+kind || p.Status != status || p.Detail == "" {
		t.Errorf("problem = %+v, want %s", p, kind)
	}
	return p
}

func TestEventsAPI_FiltersScopesAndPages(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ts := &testServer{t: t, log: newAccessLog(t, d).log}
		first := decodeEvents(t, ts.get(cisoAll, eventsAPI, ""))
		if got := eventSeqs(first.Events); !slices.Equal(got, []int64{8, 7, 6, 5, 4, 3, 2, 1, 0}) ||
			first.Next != nil || first.IndexBehind != 0 {
			t.Fatalf("first search: %v next %v behind %d", got, first.Next, first.IndexBehind)
		}
		jst := time.FixedZone("JST", 9*3600)
		tests := []struct {
			name  string
			p     *authz.Principal
			query url.Values
			want  []int64
		}{
			{"patient", cisoAll, url.Values{"patient": {"P001"}}, []int64{8, 6, 4, 3, 1, 0}},
			{"patient in facility 1", aud1, url.Values{"patient": {"P001"}}, []int64{6, 3, 1, 0}},
			{"actor and action", cisoAll, url.Values{"actor": {"d001"}, "action": {"VIEW"}}, []int64{0}},
			{"action prefix", cisoAll, url.Values{"action": {"e*"}}, []int64{7, 6}},
			{"source and outcome", cisoAll, url.Values{"source": {"ehr-main"}, "outcome": {"failure"}}, []int64{3}},
			{"free text", cisoAll, url.Values{"q": {"閲覧 佐藤"}}, []int64{1}},
			{"times in another zone", cisoAll, url.Values{"source": {"ehr-main"},
				"from": {t0.Add(2 * time.Minute).In(jst).Format(time.RFC3339)}, "to": {t0.Add(4 * time.Minute).Format(time.RFC3339)}},
				[]int64{3, 2}},
			{"facility 2 token", &authz.Principal{UserID: 5, Login: "bot", TokenID: 9, Scopes: []string{"read"}, TokenFacility: 2},
				url.Values{"patient": {"P001"}}, []int64{4}},
			{"grants in two facilities", user("two", grant(authz.CSIRT, 2), grant(authz.Auditor, 1), grant(authz.Staff, 3)),
				url.Values{"patient": {"P001"}}, []int64{6, 4, 3, 1, 0}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := decodeEvents(t, ts.get(tt.p, eventsAPI+"?"+tt.query.Encode(), ""))
				if got := eventSeqs(resp.Events); !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}

		q := url.Values{"patient": {"P001"}, "limit": {"4"}}
		resp := decodeEvents(t, ts.get(cisoAll, eventsAPI+"?"+q.Encode(), ""))
		if resp.Next == nil || *resp.Next != 3 || len(resp.Events) != 4 {
			t.Fatalf("first page: %v next %v", eventSeqs(resp.Events), resp.Next)
		}
		q.Set("before", strconv.FormatInt(*resp.Next, 10))
		resp = decodeEvents(t, ts.get(cisoAll, eventsAPI+"?"+q.Encode(), ""))
		if got := eventSeqs(resp.Events); !slices.Equal(got, []int64{1, 0}) || resp.Next != nil {
			t.Errorf("last page: %v next %v", got, resp.Next)
		}

		// Every search was recorded, with what it asked and for which scope.
		recs := readRecords(t, ts.log, "api")
		if len(recs) != 1+len(tests)+2 {
			t.Fatalf("%d searches recorded, want %d", len(recs), 1+len(tests)+2)
		}
		last := recs[0]
		if last.Detail["patient"] != "P001" || last.Detail["before"] != "3" || last.Detail["limit"] != "4" ||
			last.Detail["facilities"] != "all" || last.ActorLogin != "ciso" || last.Target != "audit:events" || last.Facility != 0 {
			t.Errorf("record of the last search = %+v", last)
		}
		for _, r := range recs {
			if r.Detail["q"] == "閲覧 佐藤" {
				return
			}
		}
		t.Errorf("the free-text search is not recorded with its text: %+v", recs)
	})
}

func TestEventsAPI_ShowsEveryFieldAndTheOriginal(t *testing.T) {
	ts := &testServer{t: t, log: newAccessLog(t, dbtest.SQLite(t, parts...)).log}
	resp := decodeEvents(t, ts.get(cisoAll, eventsAPI+"?source=ehr-main&limit=3", ""))
	byseq := map[int64]audit.EventJSON{}
	for _, e := range resp.Events {
		byseq[e.Seq] = e
	}
	skewed, binary := byseq[6], byseq[7]
	want := accessEvents()[6]
	if !skewed.Time.Equal(want.Time) || !skewed.Received.Equal(want.Received) || skewed.Facility != 1 ||
		skewed.Actor != want.Actor || skewed.Patient != want.Patient || skewed.Object != want.Object ||
		skewed.Action != "emergency_access" || skewed.Outcome != "success" || skewed.Purpose != "treatment" ||
		skewed.Session != "s-d001" || skewed.Format != "json" || !slices.Equal(skewed.Flags, []string{"clock_skew"}) ||
		skewed.Original != string(want.Original) || skewed.OriginalEncoding != "utf-8" {
		t.Errorf("event 6 = %+v", skewed)
	}
	if binary.OriginalEncoding != "base64" || binary.Original != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 'x', 0}) ||
		binary.Flags == nil || len(binary.Flags) != 0 || binary.Outcome != "unknown" {
		t.Errorf("event 7 = %+v", binary)
	}
}

func TestEventsAPI_RefusesBadParametersAndRecordsNothing(t *testing.T) {
	ts := &testServer{t: t, log: newAccessLog(t, dbtest.SQLite(t, parts...)).log}
	tests := []struct{ query, param string }{
		{"from=yesterday", "from"},
		{"from=2026-04-01", "from"}, // the API takes RFC 3339 times, not dates
		{"to=2026-04-01T09:00:00", "to"},
		{"from=2026-04-02T00:00:00Z&to=2026-04-01T00:00:00Z", "to"},
		{"outcome=ok", "outcome"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"before=0", "before"},
		{"before=x", "before"},
		{"patient=" + strings.Repeat("x", audit.MaxFieldLen+1), "patient"},
		{"q=%FF", "q"},
		{"actor=a%00b", "actor"},
		{"source=" + strings.Repeat("あ", audit.MaxFieldLen+1), "source"},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 40)], func(t *testing.T) {
			p := problemOf(t, ts.get(cisoAll, eventsAPI+"?"+tt.query, "en"), http.StatusBadRequest, "invalid-parameter")
			if !strings.Contains(p.Detail, tt.param) {
				t.Errorf("detail %q does not name %s", p.Detail, tt.param)
			}
		})
	}
	if recs := readRecords(t, ts.log, "api"); len(recs) != 0 {
		t.Errorf("refused searches were recorded: %+v", recs)
	}
}

func TestEventAPI_OneEventWithinTheCallersFacilities(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ts := &testServer{t: t, log: newAccessLog(t, d).log}
		w := ts.get(aud1, eventsAPI+"/3", "")
		okStatus(t, w.Code, w.Body.String())
		var e audit.EventJSON
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != 3 || e.Action != "print" || e.Outcome != "failure" || e.Actor.Department != "外科" {
			t.Errorf("event 3 = %+v", e)
		}
		for _, path := range []string{"/4", "/8", "/9", "/-1", "/x", "/99999999999999999999"} {
			problemOf(t, ts.get(aud1, eventsAPI+path, "en"), http.StatusNotFound, "event-not-found")
		}
		if w := ts.get(cisoAll, eventsAPI+"/8", ""); w.Code != http.StatusOK {
			t.Errorf("every-facility reader gets event 8 with %d", w.Code)
		}
		if _, err := d.ExecContext(context.Background(), `DELETE FROM audit_log WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		problemOf(t, ts.get(aud1, eventsAPI+"/2", "ja"), http.StatusGone, "archived")

		recs := readRecords(t, ts.log, "api-event")
		if len(recs) != 2 || recs[1].Detail["seq"] != "3" || recs[1].Target != "audit:event/3" || recs[1].Facility != 1 ||
			recs[1].ActorLogin != "aud1" || recs[0].Detail["seq"] != "8" || recs[0].Facility != 0 {
			t.Errorf("records = %+v", recs)
		}
	})
}

func TestProofAPI_ProvesAgainstTheCheckpointOrSaysWhenItWill(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d)
		ts := &testServer{t: t, log: f.log}
		// No checkpoint yet: the next is due one interval from now, 09:11 in Tokyo.
		p := problemOf(t, ts.get(aud1, eventsAPI+"/3/proof", "en"), http.StatusConflict, "not-checkpointed")
		if !strings.Contains(p.Detail, "2026-04-01T09:11:00+09:00") {
			t.Errorf("detail %q does not say when the next checkpoint is due", p.Detail)
		}
		if _, err := f.log.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		keys, err := f.signer.VerifierKeys(ctx, mustOrigin(t, f.log))
		if err != nil {
			t.Fatal(err)
		}
		for _, seq := range []int64{0, 3, 7} {
			w := ts.get(aud1, eventsAPI+"/"+strconv.FormatInt(seq, 10)+"/proof", "")
			okStatus(t, w.Code, w.Body.String())
			var pr audit.Proof
			if err := json.Unmarshal(w.Body.Bytes(), &pr); err != nil {
				t.Fatal(err)
			}
			ev, err := audit.CheckProof(&pr, keys...)
			if err != nil {
				t.Fatalf("proof of %d does not check: %v", seq, err)
			}
			if ev.Seq != seq || ev.Action != accessEvents()[seq].Action || pr.TreeSize != 9 {
				t.Errorf("proof of %d shows %+v at size %d", seq, ev, pr.TreeSize)
			}
			if !slices.Equal(pr.VerifierKeys, keys) {
				t.Errorf("proof gives keys %v, want %v", pr.VerifierKeys, keys)
			}
		}
		// A proof does not check with another log's key.
		w := ts.get(aud1, eventsAPI+"/0/proof", "")
		var pr audit.Proof
		_ = json.Unmarshal(w.Body.Bytes(), &pr)
		other, _ := newAccessLogKey(t, mustOrigin(t, f.log))
		if _, err := audit.CheckProof(&pr, other); err == nil {
			t.Errorf("a proof checks with a stranger's key")
		}

		problemOf(t, ts.get(aud1, eventsAPI+"/4/proof", ""), http.StatusNotFound, "event-not-found")
		if _, err := f.log.Append(ctx, manyEvents(1)); err != nil {
			t.Fatal(err)
		}
		problemOf(t, ts.get(aud1, eventsAPI+"/9/proof", ""), http.StatusConflict, "not-checkpointed")
		if _, err := d.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 5`); err != nil {
			t.Fatal(err)
		}
		problemOf(t, ts.get(cisoAll, eventsAPI+"/5/proof", ""), http.StatusGone, "archived")
		if recs := readRecords(t, f.log, "api-proof"); len(recs) != 4 {
			t.Errorf("%d proofs recorded, want 4", len(recs))
		}
	})
}

func mustOrigin(t *testing.T, l *audit.Log) string {
	t.Helper()
	o, err := l.Origin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCheckpointAPI_SignedNoteOrJSON(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d)
		ts := &testServer{t: t, log: f.log}
		const path = "/api/v1/audit/checkpoint"
		p := problemOf(t, ts.get(aud1, path, "ja"), http.StatusNotFound, "no-checkpoint")
		if !strings.Contains(p.Detail, "2026-04-01T09:11:00+09:00") {
			t.Errorf("detail %q does not say when the first checkpoint is due", p.Detail)
		}
		cp, err := f.log.SignCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		origin := mustOrigin(t, f.log)
		keys, err := f.signer.VerifierKeys(ctx, origin)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := audit.Verifiers(keys...)
		if err != nil {
			t.Fatal(err)
		}

		w := ts.get(aud1, path, "")
		okStatus(t, w.Code, w.Body.String())
		if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		got, err := audit.OpenCheckpoint(w.Body.Bytes(), origin, vs...)
		if err != nil {
			t.Fatalf("the served checkpoint does not verify: %v\n%s", err, w.Body)
		}
		if got.Size != 9 || string(got.Hash) != string(cp.Root) || w.Body.String() != cp.Note {
			t.Errorf("checkpoint says size %d; want 9 and the stored root", got.Size)
		}

		for _, accept := range []string{"application/json", "text/plain;q=0.5, application/json", "application/*, application/json;q=0.9"} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Accept", accept)
			w := ts.serve(&authz.Principal{UserID: 5, Login: "witness", TokenID: 7, Scopes: []string{"read"}, TokenFacility: 2}, r)
			okStatus(t, w.Code, w.Body.String())
			var j audit.CheckpointJSON
			if err := json.Unmarshal(w.Body.Bytes(), &j); err != nil {
				t.Fatalf("Accept %q: %v: %s", accept, err, w.Body)
			}
			if j.Origin != origin || j.Size != 9 || string(j.Root) != string(cp.Root) || j.Note != cp.Note ||
				!slices.Equal(j.VerifierKeys, keys) || !j.SignedAt.Equal(f.clock.Now()) {
				t.Errorf("Accept %q: %+v", accept, j)
			}
		}
		for _, accept := range []string{"", "text/plain", "*/*", "application/json;q=0, text/plain", "text/plain, application/json;q=0.5"} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Accept", accept)
			if w := ts.serve(aud1, r); w.Body.String() != cp.Note {
				t.Errorf("Accept %q got %s", accept, w.Body)
			}
		}
		// Reading the checkpoint is not a read of events: witnesses poll it,
		// and recording each poll would grow the log it watches.
		size, _ := f.log.Size(ctx)
		if _, err := f.log.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if after, _ := f.log.Size(ctx); after != size || size != 9 {
			t.Errorf("reading the checkpoint added events: %d → %d", size, after)
		}
		for _, p := range []*authz.Principal{user("staff", grant(authz.Staff, 1)),
			{UserID: 5, Login: "bot", TokenID: 9, Scopes: []string{"ingest"}}} {
			if w := ts.get(p, path, ""); w.Code != http.StatusForbidden {
				t.Errorf("%s reads the checkpoint: %d", p.Login, w.Code)
			}
		}
	})
}

// newAccessLogKey returns the verifier key, named origin, of a checkpoint
// key that is not the log's.
func newAccessLogKey(t *testing.T, origin string) (string, error) {
	t.Helper()
	keys, err := audittest.NewSigner().VerifierKeys(context.Background(), origin)
	if err != nil {
		return "", err
	}
	return keys[0], nil
}
