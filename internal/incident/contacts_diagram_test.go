package incident_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// diagramOrg is a busy facility's organisation: both officers, a CSIRT of
// nine, two on call, six vendors and every standard authority.
func diagramOrg() incident.OrgData {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	o := incident.OrgData{Facility: incident.Facility{ID: 1, Code: "H1", NameJA: "さくら総合病院", NameEN: "Sakura General Hospital"}, Now: now}
	o.Officers = []incident.Officer{
		{Facility: 1, Role: incident.CISO, Person: incident.Person{Name: "山田 太郎", Title: "副院長", PhoneMobile: "090-1111-2222"}},
		{Facility: 1, Role: incident.SecurityManager, Person: incident.Person{Name: "高橋 恵子", Title: "医療情報部長", PhoneOffice: "内線 2001"}},
	}
	roles := [][]incident.CSIRTRole{{incident.RoleCommander}, {incident.RolePoC, incident.RoleIT}, {incident.RoleManager},
		{incident.RoleHandler}, {incident.RoleLegal}, {incident.RolePR}, {incident.RoleMedical}, {incident.RoleIT}, {incident.RoleHandler}}
	names := []string{"鈴木 一郎", "佐藤 花子", "田中 次郎", "伊藤 三郎", "渡辺 法子", "小林 広報", "加藤 看護", "吉田 情報", "山本 四郎"}
	for i, r := range roles {
		o.Members = append(o.Members, incident.Member{ID: int64(i + 1), Facility: 1, Roles: r,
			Person: incident.Person{Name: names[i], Department: "情報システム課", PhoneMobile: fmt.Sprintf("080-0000-%04d", i)}})
	}
	o.Members[0].Deputy = 3
	o.OnCall = []incident.Shift{{Facility: 1, Tier: incident.Primary, Member: o.Members[1]}, {Facility: 1, Tier: incident.Secondary, Member: o.Members[7]}}
	for i := range 6 {
		o.Contacts = append(o.Contacts, incident.Contact{Facility: 1, Kind: incident.ContactVendor, Organisation: fmt.Sprintf("ベンダー%d株式会社", i+1),
			System: "電子カルテ", Person: "保守窓口", Phone: fmt.Sprintf("0120-111-%03d", i)})
	}
	for _, a := range incident.StandardAuthorities {
		o.Contacts = append(o.Contacts, incident.Contact{Facility: 1, Kind: a.Kind, Standard: a.Key, Organisation: a.Organisation})
	}
	o.Contacts[6].Phone = "03-5253-1111"
	o.Contacts = append(o.Contacts, incident.Contact{Facility: 1, Kind: incident.ContactInsurer, Organisation: "さくら損害保険", Phone: "0120-222-333"})
	return o
}

// jaTr is a translator that answers the message id, for tests that look
// at the layout rather than the words.
func jaTr(id string, data map[string]any) string {
	if f, ok := data["Facility"]; ok {
		return id + " " + fmt.Sprint(f)
	}
	return id
}

func TestContactsDocument_PrintsOnOneA4PageWithTheNamesAndPhonesInTheText(t *testing.T) {
	r := pdftest.Renderer(t)
	o := diagramOrg()
	doc, err := incident.ContactsDocument(o, jaTr, "ja", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "<svg") || strings.Contains(string(doc), "<script") {
		t.Fatalf("document: %.300s", doc)
	}
	out, err := r.Render(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if n := pdftest.Pages(t, out); n != 1 {
		t.Fatalf("%d pages, want 1", n)
	}
	text := strings.ReplaceAll(pdftest.Text(t, out), " ", "")
	for _, want := range []string{"さくら総合病院", "山田太郎", "090-1111-2222", "佐藤花子", "080-0000-0001", "鈴木一郎", "ベンダー6株式会社",
		"0120-111-005", "個人情報保護委員会", "03-5253-1111", "さくら損害保険", "渡辺法子"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
}

func TestContactsDiagram_EscapesTextAndMarksWhatLacksAPhone(t *testing.T) {
	o := diagramOrg()
	o.Contacts = append(o.Contacts, incident.Contact{Kind: incident.ContactVendor, Organisation: `<script>alert(1)</script> & "co"`, Phone: "1-2-3"})
	svg := string(o.Diagram(jaTr).SVG())
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Fatalf("not escaped: %s", svg)
	}
	// Six authorities still lack a phone: each box says so, in red.
	if n := strings.Count(svg, `fill="#b3261e">incident.org.no_phone`); n != len(incident.StandardAuthorities)-1 {
		t.Errorf("%d boxes marked without a phone, want %d", n, len(incident.StandardAuthorities)-1)
	}
	// With nobody named, the chain says so rather than drawing empty boxes.
	empty := incident.OrgData{Facility: incident.Facility{ID: 2}}
	short := func(id string, _ map[string]any) string { return id[strings.LastIndex(id, ".")+1:] }
	if svg := string(empty.Diagram(short).SVG()); strings.Count(svg, `fill="#b3261e">nobody`) != 2 || strings.Count(svg, "not_named") != 2 {
		t.Errorf("empty organisation: %s", svg)
	}
}
