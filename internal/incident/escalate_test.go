package incident

import (
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestEscalate_OpensOneIncidentPerAlert(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		esc := &Escalator{DB: d, Recorder: e.log, Clock: e.clk, Tags: func(string) []string {
			return []string{"attack.credential-access", "attack.t1110.003"}
		}}
		a := detect.Alert{ID: 77, Facility: 1, RuleID: "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a12", Level: sigma.LevelHigh,
			Title: "Failed logins to many accounts from one address (password spraying)", FirstTime: start.Add(-time.Hour)}
		by := detect.Reviewer{UserID: 7, Login: "csirt01", Client: "10.0.0.5"}
		first, err := esc.Escalate(ctx, a, by, "パスワードスプレー攻撃の疑い")
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		second, err := esc.Escalate(ctx, a, by, "again")
		if err != nil || second != first {
			t.Fatalf("second escalation %+v %v, want %+v", second, err, first)
		}
		list, _ := List(ctx, d, ListQuery{Scope: Scope{All: true}})
		if len(list) != 1 {
			t.Fatalf("%d incidents", len(list))
		}
		i := list[0]
		if first.Ref != i.Ref() || first.URL != "/incidents/1" || i.Kind != UnauthorisedAccess || i.Severity != High ||
			i.SourceAlert != 77 || !i.AwareAt.Equal(start) || !i.OccurredAt.Equal(start.Add(-time.Hour)) || i.CreatedBy != "csirt01" {
			t.Errorf("incident %+v, answer %+v", i, first)
		}
		if links, _ := Links(ctx, d, i.ID); len(links) != 1 || links[0].Kind != LinkAlert || links[0].Target != 77 {
			t.Errorf("links %+v", links)
		}
		if n := count(e.actions(t), ActionCreate); n != 1 {
			t.Errorf("create recorded %d times", n)
		}
	})
}

func TestGuessKind(t *testing.T) {
	tests := []struct {
		title string
		tags  []string
		want  Kind
	}{
		{"Many failed logins of one account", nil, UnauthorisedAccess},
		{"Account of retired staff used", []string{"attack.initial_access", "attack.t1078"}, UnauthorisedAccess},
		{"Mass printing or export of patient data by one user", []string{"attack.collection"}, InsiderMisuse},
		{"A user opened the record of a family member", []string{"attack.collection"}, InsiderMisuse},
		{"Something odd", nil, Other},
	}
	for _, tt := range tests {
		if got := GuessKind("rule", tt.title, tt.tags); got != tt.want {
			t.Errorf("%q %v: %s, want %s", tt.title, tt.tags, got, tt.want)
		}
	}
	if SeverityOf(sigma.LevelCritical) != Critical || SeverityOf(sigma.LevelInformational) != Low {
		t.Error("severity of levels")
	}
}

func TestRaise_StaffReportOpensANewIncident(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		nurse := Actor{UserID: 30, Login: "nurse01", Client: "10.2.0.9"}
		i, err := Raise(ctx, d, e.log, fac1, 1, nurse, StaffReport{Kind: LostDevice, Where: "3 階東病棟", What: "ノート PC が見当たりません",
			Phone: "内線 1234", NoticedAt: start.Add(-30 * time.Minute), Title: "職員からの報告：端末の紛失"}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if i.State != New || i.CreatedBy != "nurse01" || i.Kind != LostDevice || !i.AwareAt.Equal(start.Add(-30*time.Minute)) ||
			i.AffectedSystems != "3 階東病棟" {
			t.Errorf("%+v", i)
		}
		if want := "ノート PC が見当たりません\n\n場所 / where: 3 階東病棟\n連絡先 / phone: 内線 1234"; i.Summary != want {
			t.Errorf("summary %q, want %q", i.Summary, want)
		}
		if _, err := Raise(ctx, d, e.log, fac1, 1, nurse, StaffReport{Kind: LostDevice}, e.clk.Now()); !isField(err, "what") {
			t.Errorf("empty report: %v", err)
		}
		if _, err := Raise(ctx, d, e.log, fac1, 2, nurse, StaffReport{Kind: Other, What: "x"}, e.clk.Now()); !isField(err, "facility") {
			t.Errorf("another facility: %v", err)
		}
	})
}
