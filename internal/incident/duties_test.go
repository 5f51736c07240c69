package incident

import (
	"slices"
	"testing"
	"time"
)

func TestDuties(t *testing.T) {
	aware := time.Date(2026, 10, 31, 6, 30, 0, 0, time.UTC)
	day := 24 * time.Hour
	type want struct {
		to       Recipient
		after    time.Duration
		required bool
	}
	cases := []struct {
		name string
		inc  Incident
		want []want
	}{
		{"ransomware stopping the EHR, medical data may have leaked",
			Incident{Kind: Ransomware, Cyberattack: true, CareImpact: true, Leak: LeakPossible, MedicalData: true, Malicious: true, Crime: true, People: 85000},
			[]want{{ToVendor, time.Hour, true}, {ToMHLW, day, true}, {ToPPCPreliminary, 3 * day, true},
				{ToPPCFinal, 60 * day, true}, {ToPolice, day, true}, {ToIndividuals, 5 * day, true}}},
		{"one patient's record mailed to the wrong address",
			Incident{Kind: DataLeak, Leak: LeakConfirmed, MedicalData: true, People: 1},
			[]want{{ToPPCPreliminary, 3 * day, true}, {ToPPCFinal, 30 * day, true}, {ToIndividuals, 5 * day, true}}},
		{"a lost laptop with full-disk encryption",
			Incident{Kind: LostDevice, Leak: LeakPossible, MedicalData: true, Encrypted: true, People: 300}, nil},
		{"leak of 1,001 people's non-medical data",
			Incident{Kind: DataLeak, Leak: LeakConfirmed, People: 1001},
			[]want{{ToPPCPreliminary, 3 * day, true}, {ToPPCFinal, 30 * day, true}, {ToIndividuals, 5 * day, true}}},
		{"leak of 1,000 people's non-medical data", Incident{Kind: DataLeak, Leak: LeakConfirmed, People: 1000}, nil},
		{"an attack that touched nothing yet", Incident{Kind: UnauthorisedAccess, Cyberattack: true},
			[]want{{ToVendor, time.Hour, true}}},
		{"a failure that stopped care, no attack", Incident{Kind: SystemFailure, CareImpact: true},
			[]want{{ToMHLW, day, false}}},
		{"closed as a false positive", Incident{Kind: Ransomware, Cyberattack: true, CareImpact: true, State: Closed,
			Resolution: ResolutionFalsePositive}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.inc.AwareAt = aware
			got := Duties(c.inc)
			if len(got) != len(c.want) {
				t.Fatalf("got %d duties %+v, want %d", len(got), got, len(c.want))
			}
			for k, w := range c.want {
				g := got[k]
				if g.To != w.to || !g.Due.Equal(aware.Add(w.after)) || g.Required != w.required {
					t.Errorf("duty %d = %s due %s required %v, want %s due %s required %v", k, g.To, g.Due, g.Required,
						w.to, aware.Add(w.after), w.required)
				}
				if g.Why == "" {
					t.Errorf("duty %s says no reason", g.To)
				}
				if statutory := slices.Contains([]Recipient{ToPPCFinal}, g.To); g.Statutory != statutory {
					t.Errorf("duty %s statutory = %v", g.To, g.Statutory)
				}
			}
		})
	}
}
