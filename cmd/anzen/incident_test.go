package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/incident"
)

func TestIncidentCLI_CreateListShowJSON(t *testing.T) {
	c := newCLI(t, "sqlite")
	aware := "2026-04-01T08:30:00+09:00"
	r := c.mustRun("incident", "create", "--kind", "ransomware", "--title", "電子カルテ端末に身代金要求画面",
		"--aware-at", aware, "--medical-data", "--people", "1200", "--leak", "possible", "--cyberattack", "--care-impact",
		"--severity", "critical")
	first := strings.SplitN(r.out, "\n", 2)[0]
	id, err := strconv.ParseInt(first, 10, 64)
	if err != nil || id <= 0 {
		t.Fatalf("create printed %q, want the id on the first line", r.out)
	}
	if !strings.Contains(r.errOut, "INC-2026-") {
		t.Errorf("stderr %q: want the reference", r.errOut)
	}
	// The change is recorded as the CLI user.
	eventsBy(t, c.open(), incident.ActionCreate)

	r = c.mustRun("incident", "list", "--json")
	var list incident.IncidentsJSON
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Incidents) != 1 || list.Incidents[0].ID != id {
		t.Fatalf("list --json: %v %s", err, r.out)
	}
	if r = c.mustRun("incident", "list"); !strings.Contains(r.out, "電子カルテ端末") {
		t.Errorf("list: %s", r.out)
	}

	r = c.mustRun("incident", "show", first, "--json")
	var got incident.IncidentJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatal(err, r.out)
	}
	awareAt, _ := time.Parse(time.RFC3339, aware)
	if !got.AwareAt.Equal(awareAt) || !got.MedicalData || got.People != 1200 || got.Leak != incident.LeakPossible {
		t.Errorf("show: %+v", got)
	}
	due := map[incident.Recipient]time.Time{}
	for _, d := range got.Duties {
		due[d.To] = d.Due
	}
	for to, want := range map[incident.Recipient]time.Duration{incident.ToVendor: incident.VendorWithin,
		incident.ToMHLW: incident.MHLWWithin, incident.ToPPCPreliminary: incident.PPCPreliminaryWithin,
		incident.ToPPCFinal: incident.PPCFinalWithin} {
		if !due[to].Equal(awareAt.Add(want)) {
			t.Errorf("duty to %s due %v, want %v", to, due[to], awareAt.Add(want))
		}
	}
	if r = c.mustRun("incident", "show", got.Ref); !strings.Contains(r.out, "report to ppc-final") {
		t.Errorf("show by reference: %s", r.out)
	}
}

func TestIncidentCLI_BadInputFailsWithOneLine(t *testing.T) {
	c := newCLI(t, "sqlite")
	for _, args := range [][]string{
		{"incident", "create", "--title", "x"},
		{"incident", "create", "--kind", "fire", "--title", "x"},
		{"incident", "create", "--kind", "other", "--title", "x", "--aware-at", "yesterday"},
		{"incident", "create", "--kind", "other", "--title", "x", "--aware-at", "2999-01-01T00:00:00Z"},
		{"incident", "create", "--kind", "other", "--title", "x", "--leak", "maybe"},
		{"incident", "show", "abc"},
		{"incident", "show", "99"},
	} {
		r := c.run("", args...)
		if r.err == nil || strings.Contains(r.err.Error(), "\n") {
			t.Errorf("%v: %v, want one line", args, r.err)
		}
	}
	if r := c.mustRun("incident", "list", "--all"); strings.Count(r.out, "\n") != 1 {
		t.Errorf("refused creates stored something: %s", r.out)
	}
}
