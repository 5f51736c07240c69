package incident_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// prepParts are the schemas the preparation rooms' tests need.
var prepParts = []db.Migrations{audit.Migrations(), incident.Migrations()}

var prepActor = incident.Actor{UserID: 7, Login: "ciso01", Client: "10.0.0.9"}

// prepRecorded returns the events of action in the audit log.
func prepRecorded(t *testing.T, l *audit.Log, action string) []audit.Event {
	t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := l.ReadAfter(context.Background(), -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestPlaybooks_EveryKindHasABuiltInPlaybookInJapaneseAndEnglish(t *testing.T) {
	for _, k := range incident.Kinds {
		tasks := incident.BuiltinPlaybook(k)
		if len(tasks) < 3 {
			t.Errorf("%s: %d tasks", k, len(tasks))
		}
		phases := map[incident.State]bool{}
		for i, task := range tasks {
			phases[task.Phase] = true
			if task.TitleJA == "" || task.TitleEN == "" || task.DescJA == "" || task.DescEN == "" {
				t.Errorf("%s task %d lacks a language: %+v", k, i+1, task)
			}
			if !strings.ContainsFunc(task.TitleJA, func(r rune) bool { return r >= 0x3040 }) {
				t.Errorf("%s task %d: title_ja %q is not Japanese", k, i+1, task.TitleJA)
			}
			if task.Role != "" && !slices.Contains(incident.PlaybookRoles, task.Role) {
				t.Errorf("%s task %d: role %q", k, i+1, task.Role)
			}
		}
		if !phases[incident.Triage] || !phases[incident.Closed] {
			t.Errorf("%s: the playbook must start with triage and end with a review (phases %v)", k, phases)
		}
	}
	// The most detailed ones carry the guideline's steps and the lessons
	// of the attacks.
	var ransom strings.Builder
	for _, task := range incident.BuiltinPlaybook(incident.Ransomware) {
		ransom.WriteString(task.TitleJA + task.DescJA)
	}
	for _, want := range []string{"切り離す", "外部ネットワーク", "委託事業者", "オフラインバックアップ", "紙運用", "証拠を保全",
		"厚生労働省", "警察", "個人情報保護委員会", "段階的に復旧", "事後検証", "VPN"} {
		if !strings.Contains(ransom.String(), want) {
			t.Errorf("the ransomware playbook does not mention %s", want)
		}
	}
	for _, k := range []incident.Kind{incident.Ransomware, incident.TargetedMail, incident.LostDevice, incident.InsiderMisuse} {
		if n := len(incident.BuiltinPlaybook(k)); n < 8 {
			t.Errorf("%s: %d tasks, want a detailed playbook", k, n)
		}
	}
}

func TestPlaybookTasks_BuiltInUntilEditedPerFacilityThenReset(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		got, err := incident.PlaybookTasks(ctx, d, 1, incident.LostDevice)
		if err != nil || !slices.Equal(got, incident.BuiltinPlaybook(incident.LostDevice)) {
			t.Fatalf("built-in: %v %v", got, err)
		}
		edited := append(got[:2:2], incident.TaskTemplate{Phase: incident.Containment, TitleJA: "院内の持ち出し台帳を確認する",
			TitleEN: "Check the register", DueAfter: 90 * time.Minute, Role: "handler"})
		if err := incident.SavePlaybook(ctx, d, l, prepActor, 1, incident.LostDevice, edited, now); err != nil {
			t.Fatal(err)
		}
		got, err = incident.PlaybookTasks(ctx, d, 1, incident.LostDevice)
		if err != nil || len(got) != 3 || got[2].TitleJA != "院内の持ち出し台帳を確認する" || got[2].DueAfter != 90*time.Minute {
			t.Fatalf("edited: %+v %v", got, err)
		}
		// Inside a transaction too, and another facility keeps the built-in.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			other, err := incident.PlaybookTasks(ctx, tx, 2, incident.LostDevice)
			if err == nil && len(other) != len(incident.BuiltinPlaybook(incident.LostDevice)) {
				t.Errorf("facility 2 sees facility 1's playbook: %d tasks", len(other))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// A bad task changes nothing.
		bad := append(slices.Clone(edited), incident.TaskTemplate{Phase: "new", TitleJA: "x", TitleEN: "x"})
		var pe *incident.PrepError
		if err := incident.SavePlaybook(ctx, d, l, prepActor, 1, incident.LostDevice, bad, now); !errors.As(err, &pe) || pe.Field != "phase" {
			t.Fatalf("bad phase: %v", err)
		}
		if got, _ := incident.PlaybookTasks(ctx, d, 1, incident.LostDevice); len(got) != 3 {
			t.Fatalf("after a refused save: %d tasks", len(got))
		}
		dropped, err := incident.ResetPlaybook(ctx, d, l, prepActor, 1, incident.LostDevice, now.Add(time.Minute))
		if err != nil || !dropped {
			t.Fatal(dropped, err)
		}
		if got, _ := incident.PlaybookTasks(ctx, d, 1, incident.LostDevice); !slices.Equal(got, incident.BuiltinPlaybook(incident.LostDevice)) {
			t.Fatalf("after reset: %d tasks", len(got))
		}
		if _, err := incident.PlaybookTasks(ctx, d, 1, incident.Kind("zombie")); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown kind: %v", err)
		}
		if n := len(prepRecorded(t, l, incident.ActionPlaybookUpdate)); n != 1 {
			t.Errorf("%d update events, want 1", n)
		}
		if ev := prepRecorded(t, l, incident.ActionPlaybookReset); len(ev) != 1 || ev[0].Actor.ID != "ciso01" && ev[0].Actor.Name != "ciso01" {
			t.Errorf("reset events: %+v", ev)
		}
	})
}

func TestPlaybooks_YAMLExportImportRoundTrip(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		all, err := incident.Playbooks(ctx, d, 1)
		if err != nil || len(all) != len(incident.Kinds) {
			t.Fatal(len(all), err)
		}
		all[0].Tasks[0].TitleJA = "CSIRT を招集する（当院の手順）"
		all[0].Tasks[0].DueAfter = 3 * 24 * time.Hour
		all[0].Tasks[1].DueAfter = 90 * time.Minute
		yml, err := incident.MarshalPlaybooks(all[:2])
		if err != nil {
			t.Fatal(err)
		}
		kinds, err := incident.ImportPlaybooks(ctx, d, l, prepActor, 3, yml, now)
		if err != nil || !slices.Equal(kinds, []incident.Kind{all[0].Kind, all[1].Kind}) {
			t.Fatalf("import: %v %v\n%s", kinds, err, yml)
		}
		for _, want := range all[:2] {
			got, err := incident.PlaybookOf(ctx, d, 3, want.Kind)
			if err != nil || !got.Edited || !slices.Equal(got.Tasks, want.Tasks) {
				t.Errorf("%s after the round trip: %v edited=%v", want.Kind, err, got.Edited)
			}
		}
		if !strings.Contains(string(yml), "due: 3d") || !strings.Contains(string(yml), "due: 1h30m") {
			t.Errorf("due times are not written as people write them:\n%.600s", yml)
		}
		// A file with one bad playbook imports nothing.
		bad := strings.Replace(string(yml), "kind: "+string(all[1].Kind), "kind: zombie", 1)
		if _, err := incident.ImportPlaybooks(ctx, d, l, prepActor, 4, []byte(bad), now); err == nil {
			t.Fatal("a file with an unknown kind was imported")
		}
		if p, _ := incident.PlaybookOf(ctx, d, 4, all[0].Kind); p.Edited {
			t.Error("a refused file changed a playbook")
		}
		if n := len(prepRecorded(t, l, incident.ActionPlaybookImport)); n != 2 {
			t.Errorf("%d import events, want 2", n)
		}
	})
}

func TestParsePlaybooks_RefusesWhatItCannotUse(t *testing.T) {
	task := "    tasks:\n      - {phase: triage, title_ja: 確認する, title_en: Check}\n"
	for name, in := range map[string]string{
		"empty":           "",
		"no playbooks":    "playbooks: []\n",
		"unknown field":   "playbooks:\n  - kind: ddos\n    colour: red\n" + task,
		"kind twice":      "playbooks:\n  - kind: ddos\n" + task + "  - kind: ddos\n" + task,
		"no tasks":        "playbooks:\n  - kind: ddos\n    tasks: []\n",
		"bad due":         "playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, due: soon, title_ja: 確認, title_en: Check}\n",
		"negative due":    "playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, due: -1h, title_ja: 確認, title_en: Check}\n",
		"no english":      "playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, title_ja: 確認}\n",
		"unknown role":    "playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, role: boss, title_ja: 確認, title_en: Check}\n",
		"two documents":   "playbooks:\n  - kind: ddos\n" + task + "---\nplaybooks: []\n",
		"not a mapping":   "- 1\n- 2\n",
		"control in text": "playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, title_ja: \"確\\x01認\", title_en: Check}\n",
	} {
		if _, err := incident.ParsePlaybooks([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, err := incident.ParsePlaybooks([]byte("playbooks:\n  - kind: ddos\n" + task)); err != nil || len(got) != 1 {
		t.Errorf("a good file: %v %v", got, err)
	}
}
