package incident

import "time"

// The reporting duties: from the facts of an incident and the time the
// hospital became aware of it, who must be told and by when
// (guideline 6.10 C-5; ../shared/reference/guideline.md §9):
//
//   - the system vendor, immediately, when a cyberattack is suspected
//     (MHLW notice of 29 October 2018);
//   - MHLW's medical IT office, promptly, when a suspected attack has
//     impaired or may impair care, or has leaked or may leak personal
//     data (same notice); for a failure that is not an attack, as needed;
//   - the Personal Information Protection Commission, a preliminary
//     report promptly (the PPC's guidance: within about 3–5 days; anzen
//     aims at 3) and a final one within 30 days (60 when malicious; set by
//     the Enforcement Rules), when personal data has or may have leaked and the leak
//     is of medical (special care-required) data — one record is enough —,
//     or malicious, or of more than 1,000 people; unless the data was
//     under advanced encryption (APPI art. 26, Enforcement Rules art. 7–8);
//     the people affected are then told too;
//   - the police, when a crime is suspected.
//
// "Immediately" and "promptly" have no number in the texts: anzen's
// clocks use VendorWithin and MHLWWithin as its own targets and say so.

// Recipient names whom a duty is owed to.
type Recipient string

// The recipients.
const (
	ToVendor         Recipient = "vendor"
	ToMHLW           Recipient = "mhlw"
	ToPPCPreliminary Recipient = "ppc-preliminary"
	ToPPCFinal       Recipient = "ppc-final"
	ToPolice         Recipient = "police"
	ToIndividuals    Recipient = "individuals"
)

// Recipients lists every recipient in the order duties are shown.
var Recipients = []Recipient{ToVendor, ToMHLW, ToPPCPreliminary, ToPPCFinal, ToPolice, ToIndividuals}

// Reported reports whether anzen generates a report document for r (the
// others are a call or a notice the hospital writes itself).
func (r Recipient) Reported() bool {
	return r == ToMHLW || r == ToPPCPreliminary || r == ToPPCFinal || r == ToPolice
}

// The clocks' targets where the texts give no number, and the PPC's.
const (
	VendorWithin         = time.Hour          // "immediately": anzen's target
	MHLWWithin           = 24 * time.Hour     // "promptly": anzen's target
	PoliceWithin         = 24 * time.Hour     // anzen's target
	PPCPreliminaryWithin = 3 * 24 * time.Hour // "promptly", about 3–5 days in the PPC's guidance: anzen's target
	PPCFinalWithin       = 30 * 24 * time.Hour
	PPCFinalMalicious    = 60 * 24 * time.Hour
	IndividualsWithin    = 5 * 24 * time.Hour // "promptly", with the preliminary report: anzen's target
	manyPeople           = 1000
)

// Duty is one report the hospital owes.
type Duty struct {
	To Recipient
	// Required is false for a report "as needed" (MHLW, for a failure
	// that is not an attack): shown, not counted as overdue.
	Required bool
	Due      time.Time
	// Statutory is true when Due is set by law (the PPC's final report);
	// false when it is anzen's target for "immediately" or "promptly".
	Statutory bool
	// Why is the message id of the reason the duty applies.
	Why string
}

// PPCApplies reports whether the incident must be reported to the
// Personal Information Protection Commission.
func (i *Incident) PPCApplies() bool {
	if i.Leak == LeakNone || i.Leak == "" || i.Encrypted {
		return false
	}
	return i.MedicalData || i.Malicious || i.People > manyPeople
}

// Duties returns what must be reported about the incident, to whom and
// by when. A closed incident found to be a false positive owes nothing.
func Duties(i Incident) []Duty {
	if i.State == Closed && i.Resolution == ResolutionFalsePositive {
		return nil
	}
	at := i.AwareAt
	var out []Duty
	if i.Cyberattack {
		out = append(out, Duty{To: ToVendor, Required: true, Due: at.Add(VendorWithin), Why: "incident.duty.why.vendor"})
	}
	switch {
	case i.Cyberattack && (i.CareImpact || (i.Leak != LeakNone && i.Leak != "")):
		out = append(out, Duty{To: ToMHLW, Required: true, Due: at.Add(MHLWWithin), Why: "incident.duty.why.mhlw_attack"})
	case i.Kind == SystemFailure || i.CareImpact:
		out = append(out, Duty{To: ToMHLW, Required: false, Due: at.Add(MHLWWithin), Why: "incident.duty.why.mhlw_failure"})
	}
	if i.PPCApplies() {
		why := "incident.duty.why.ppc_medical"
		switch {
		case i.MedicalData:
		case i.Malicious:
			why = "incident.duty.why.ppc_malicious"
		default:
			why = "incident.duty.why.ppc_many"
		}
		final := PPCFinalWithin
		if i.Malicious {
			final = PPCFinalMalicious
		}
		out = append(out,
			Duty{To: ToPPCPreliminary, Required: true, Due: at.Add(PPCPreliminaryWithin), Why: why},
			Duty{To: ToPPCFinal, Required: true, Due: at.Add(final), Statutory: true, Why: why})
	}
	if i.Crime {
		out = append(out, Duty{To: ToPolice, Required: true, Due: at.Add(PoliceWithin), Why: "incident.duty.why.police"})
	}
	if i.PPCApplies() {
		out = append(out, Duty{To: ToIndividuals, Required: true, Due: at.Add(IndividualsWithin), Why: "incident.duty.why.individuals"})
	}
	return out
}

// The resolutions an incident is closed with.
const (
	ResolutionResolved      = "resolved"
	ResolutionFalsePositive = "false_positive"
	ResolutionDuplicate     = "duplicate"
	ResolutionOther         = "other"
)

// Resolutions lists them in the order forms show them.
var Resolutions = []string{ResolutionResolved, ResolutionFalsePositive, ResolutionDuplicate, ResolutionOther}
