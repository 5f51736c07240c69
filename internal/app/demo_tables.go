package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The demo's reference tables (detect's staff roster, patient
// attributes, flagged patients, care teams and maintenance windows) for
// the main hospital, and a few accesses they make stand out: a nurse
// opening her own record, a doctor his wife's, a VIP's record opened, the
// retired nurse's account used, a surgeon opening a patient no one of
// his department cares for, a vendor working at night.

// demoAddress is a fictional address of the n-th household of a town.
func demoAddress(town string, n int) string {
	return fmt.Sprintf("東京都架空区%s%d丁目%d番%d号", town, 1+n%5, 1+n%30, 1+n%17)
}

// demoTables loads the tables for facility main and writes the accesses
// that show them.
func (a *App) demoTables(ctx context.Context, staff []demoPerson, now time.Time, main int64) error {
	loc := a.Cfg.Location()
	day := func(d int) string { return now.In(loc).AddDate(0, 0, d).Format(time.DateOnly) }
	nurse, doctor, surgeon, retired := staff[12], staff[0], staff[1], staff[14]
	// Patients the week's ordinary traffic never opens (it picks among the
	// first demoPatientCount), so that only the accesses below stand out.
	ownID, wifeID := demoPatient(demoPatientCount).ID, demoPatient(demoPatientCount+1).ID
	vip, lonely := demoPatient(demoPatientCount+2).ID, demoPatient(demoPatientCount+3).ID
	var roster strings.Builder
	roster.WriteString("user_id,name,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\n")
	for i, p := range staff {
		if i%9 == 8 && p.role == authz.Staff {
			continue // the clinic's
		}
		family, _, _ := strings.Cut(p.name, " ")
		patient, end, vendor, company := "", "", "0", ""
		switch p.login {
		case nurse.login:
			patient = ownID
		case retired.login:
			end = day(-2)
		}
		if p.role == authz.Vendor {
			vendor, company, family = "1", strings.TrimSuffix(p.dept, "（委託）"), ""
		}
		fmt.Fprintf(&roster, "%s,%s,%s,%s,%s,%s,%s,,%s,%s\n", p.login, p.name, family, demoAddress("西町", i), p.dept, patient, end, vendor, company)
	}
	var patients, care strings.Builder
	patients.WriteString("patient_id,family_name,address,department\n")
	care.WriteString("patient_id,user_id,department,from,to\n")
	doctorFamily, _, _ := strings.Cut(doctor.name, " ")
	for n := range demoPatientCount + 4 {
		id := demoPatient(n).ID
		fam, addr, dept := demoFamily[(n*5)%len(demoFamily)].kanji, demoAddress("本町", n), demoDepartments[n%6]
		if id == lonely {
			dept = "整形外科"
		}
		if id == wifeID {
			// The doctor's wife: his family name, his address written another way.
			fam, addr = doctorFamily, strings.NewReplacer("丁目", "-", "番", "-", "号", "").Replace(demoAddress("西町", 0))
		}
		fmt.Fprintf(&patients, "%s,%s,%s,%s\n", id, fam, addr, dept)
		for _, d := range demoDepartments {
			if id == lonely && d != "整形外科" {
				continue // cared for by orthopaedics only
			}
			fmt.Fprintf(&care, "%s,,%s,%s,\n", id, d, day(-30))
		}
	}
	files := []struct{ kind, text string }{
		{detect.TableStaff, roster.String()},
		{detect.TablePatients, patients.String()},
		{detect.TableFlagged, "list,patient_id,note\nVIP," + vip + ",地元の著名人\n職員患者," + ownID + ",看護部の職員\n"},
		{detect.TableCareTeam, care.String()},
		{detect.TableMaintenance, "vendor,weekdays,start_time,end_time\n電子カルテ保守,火・木,13:00,17:00\nPACS保守,水,10:00,12:00\nネットワーク保守,月,09:00,18:00\n"},
	}
	by := detect.Loader{Login: identity.SystemActor.Login, Client: "local"}
	for _, f := range files {
		if _, err := a.Tables.Load(ctx, a.Audit, main, f.kind, strings.NewReader(f.text), "utf-8", by, now); err != nil {
			return fmt.Errorf("demo table %s: %w", f.kind, err)
		}
	}
	// Yesterday's accesses the tables make stand out.
	base := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
	other := staff[5]
	access := func(p demoPerson, hour int, action, patient string) audit.Event {
		at := base.Add(time.Duration(hour)*time.Hour + 17*time.Minute)
		e := audit.Event{Seq: -1, Time: at, Received: at.Add(80 * time.Millisecond), Facility: main, Source: "ehr-main",
			Actor: audit.Actor{ID: p.login, Name: p.name, Profession: string(p.prof), Department: p.dept,
				Terminal: "WS-ehr-07", Address: "10.20.3.41"},
			Action: action, Outcome: audit.OutcomeSuccess, Purpose: "treatment", Format: audit.FormatJSON}
		if patient != "" {
			e.Patient, e.Object = audit.Patient{ID: patient}, audit.Object{Type: "record", ID: "re-00000001"}
		}
		e.Original = demoOriginal(&e)
		return e
	}
	vendor := staff[len(staff)-3]
	events := []audit.Event{
		access(nurse, 10, "view", ownID), access(doctor, 11, "view", wifeID), access(other, 13, "view", vip),
		access(retired, 9, "login", ""), access(retired, 9, "view", demoPatient(40).ID),
		access(surgeon, 15, "view", lonely), access(vendor, 2, "login", ""),
	}
	if _, err := a.Audit.Append(ctx, events); err != nil {
		return fmt.Errorf("demo accesses: %w", err)
	}
	return nil
}
