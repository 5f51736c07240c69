package compliance

import (
	"slices"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

func TestControlReadiness_TheRuleOfEveryCheckAndEveryPieceOfEvidence(t *testing.T) {
	today := day("2026-06-01")
	ctl := &Control{ID: "c", Checks: []string{"a", "b"}, Evidence: []EvidenceSpec{{ID: "rule", ValidFor: 365}}}
	checksOnly := &Control{ID: "k", Checks: []string{"a"}}
	evidenceOnly := &Control{ID: "e", Evidence: []EvidenceSpec{{ID: "rule"}}}
	run := func(s check.Status) *CheckRun { return &CheckRun{Status: s} }
	pass := map[string]*CheckRun{"a": run(check.Pass), "b": run(check.NotApplicable)}
	approved := func(exp string) Attestation {
		a := Attestation{EvidenceID: "rule", State: AttestApproved, EffectiveOn: day("2026-01-01")}
		if exp != "" {
			a.ExpiresOn = dayp(exp)
		}
		return a
	}
	tests := []struct {
		name    string
		c       *Control
		impl    string
		runs    map[string]*CheckRun
		atts    []Attestation
		want    string
		reason  string
		missing int
	}{
		{"every check passes (na counts) and the evidence is approved and in date", ctl, ImplImplemented, pass,
			[]Attestation{approved("2027-01-01")}, Ready, "", 0},
		{"evidence without expiry is in date", evidenceOnly, "", nil, []Attestation{approved("")}, Ready, "", 0},
		{"not applicable excludes it, whatever else", ctl, ImplNotApplicable,
			map[string]*CheckRun{"a": run(check.Fail)}, nil, Excluded, "", 0},
		{"nothing ran and nothing attested", ctl, ImplNotStarted, nil, nil, NotAssessed, "", 1},
		{"a failing check", ctl, "", map[string]*CheckRun{"a": run(check.Fail), "b": run(check.Pass)},
			[]Attestation{approved("2027-01-01")}, NotReady, ReasonCheckFailed, 0},
		{"a check that could not run", checksOnly, "", map[string]*CheckRun{"a": {Status: check.Pass, Error: "timeout"}},
			nil, NotReady, ReasonCheckError, 0},
		{"a warning", checksOnly, "", map[string]*CheckRun{"a": run(check.Warning)}, nil, Attention, ReasonCheckWarning, 0},
		{"a check that has not run yet while the other has", ctl, "", map[string]*CheckRun{"a": run(check.Pass)},
			[]Attestation{approved("2027-01-01")}, Attention, ReasonCheckNotRun, 0},
		{"evidence missing", ctl, "", pass, nil, NotReady, ReasonEvidenceMissing, 1},
		{"evidence expired (on its expiry date)", ctl, "", pass, []Attestation{approved("2026-06-01")}, NotReady, ReasonEvidenceExpired, 1},
		{"evidence near expiry", ctl, "", pass, []Attestation{approved("2026-06-30")}, Attention, ReasonEvidenceNear, 0},
		{"evidence 31 days from expiry is in date", ctl, "", pass, []Attestation{approved("2026-07-02")}, Ready, "", 0},
		{"evidence awaiting approval", ctl, "", pass, []Attestation{{EvidenceID: "rule", State: AttestPending,
			EffectiveOn: day("2026-05-01")}}, Attention, ReasonEvidencePending, 1},
		{"only a rejected upload", ctl, "", pass, []Attestation{{EvidenceID: "rule", State: AttestRejected,
			EffectiveOn: day("2026-05-01")}}, NotReady, ReasonEvidenceRejected, 1},
		{"an expired one renewed", ctl, "", pass, []Attestation{approved("2026-05-01"), approved("2027-05-01")}, Ready, "", 0},
		{"a renewal awaiting approval after expiry", ctl, "", pass, []Attestation{approved("2026-05-01"),
			{EvidenceID: "rule", State: AttestPending, EffectiveOn: day("2026-05-01")}}, Attention, ReasonEvidencePending, 1},
		{"evidence of another spec does not count", ctl, "", pass, []Attestation{{EvidenceID: "other", State: AttestApproved,
			EffectiveOn: day("2026-01-01")}}, NotReady, ReasonEvidenceMissing, 1},
		{"evidence not yet in effect does not count", evidenceOnly, "", nil, []Attestation{{EvidenceID: "rule",
			State: AttestApproved, EffectiveOn: day("2026-07-01")}}, NotReady, ReasonEvidenceMissing, 1},
		{"an unknown status is not a pass", checksOnly, "", map[string]*CheckRun{"a": run("maybe")}, nil, NotReady, ReasonCheckError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing, reasons := ControlReadiness(tt.c, tt.impl, tt.runs, tt.atts, today)
			if got != tt.want {
				t.Errorf("readiness %s, want %s (reasons %v)", got, tt.want, reasons)
			}
			if tt.reason != "" && !slices.Contains(reasons, tt.reason) {
				t.Errorf("reasons %v lack %s", reasons, tt.reason)
			}
			if tt.want == Ready && len(reasons) != 0 {
				t.Errorf("ready with reasons %v", reasons)
			}
			if len(missing) != tt.missing {
				t.Errorf("%d missing specs, want %d", len(missing), tt.missing)
			}
		})
	}
}

func TestRequirementReadiness_TakesTheWorstControl(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, NotAssessed},
		{[]string{Ready, Ready}, Ready},
		{[]string{Ready, Attention}, Attention},
		{[]string{Attention, NotReady, Ready}, NotReady},
		{[]string{Excluded, Ready}, Ready},
		{[]string{Excluded, Excluded}, Excluded},
		{[]string{Ready, NotAssessed}, NotAssessed},
	}
	for _, tt := range tests {
		if got := RequirementReadiness(tt.in); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestExpiryLevel(t *testing.T) {
	today := day("2026-06-01")
	for exp, want := range map[string]string{"2026-05-31": Expired, "2026-06-01": Expired, "2026-06-02": NearExpiry,
		"2026-07-01": NearExpiry, "2026-07-02": InDate} {
		if got := ExpiryLevel(dayp(exp), today); got != want {
			t.Errorf("expiring %s: %s, want %s", exp, got, want)
		}
	}
	if ExpiryLevel(nil, today) != InDate {
		t.Error("evidence without expiry is not in date")
	}
}

func TestFiscalYear(t *testing.T) {
	for d, want := range map[string]int{"2026-03-31": 2025, "2026-04-01": 2026, "2027-03-31": 2026, "2026-12-31": 2026} {
		if got := FiscalYear(day(d)); got != want {
			t.Errorf("%s: fiscal year %d, want %d", d, got, want)
		}
	}
	_ = time.Now
}
