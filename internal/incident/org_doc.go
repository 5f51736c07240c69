package incident

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// What the contact diagram is drawn from, and the printable document
// (one A4 page) that the page /incident/contacts/print, the PDF and the
// command `anzen incident contacts` share, so that the paper pinned up
// is the same whichever way it was printed.

// Facility is a facility as the organisation's pages name it.
type Facility struct {
	ID     int64
	Code   string
	NameJA string
	NameEN string
}

// Facilities lists the facilities (the identity part keeps them); it
// names them on the contact diagram and on reports (FacilityNames).
type Facilities func(ctx context.Context) ([]Facility, error)

// FacilityName returns the name of facility id in lang; "" for a facility
// it does not know.
func (fs Facilities) FacilityName(ctx context.Context, id int64, lang string) (string, error) {
	list, err := fs(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range list {
		if f.ID == id {
			return f.Name(lang), nil
		}
	}
	return "", nil
}

// Name returns the facility's name in lang, or its code.
func (f Facility) Name(lang string) string {
	switch {
	case lang == "en" && f.NameEN != "":
		return f.NameEN
	case f.NameJA != "":
		return f.NameJA
	case f.Code != "":
		return f.Code
	}
	return fmt.Sprintf("#%d", f.ID)
}

// Tr translates a message id with its data, in one language.
type Tr func(id string, data map[string]any) string

// OrgData is a facility's emergency organisation at one time.
type OrgData struct {
	Facility Facility
	Officers []Officer
	Members  []Member
	OnCall   []Shift
	Contacts []Contact
	Now      time.Time
}

// LoadOrg reads facility f's organisation, with who is on call at now.
func LoadOrg(ctx context.Context, q db.Querier, f Facility, now time.Time) (OrgData, error) {
	o := OrgData{Facility: f, Now: now}
	var err error
	if o.Officers, err = Officers(ctx, q, f.ID); err != nil {
		return o, err
	}
	if o.Members, err = Members(ctx, q, f.ID); err != nil {
		return o, err
	}
	if o.OnCall, err = OnCallAt(ctx, q, f.ID, now); err != nil {
		return o, err
	}
	o.Contacts, err = Contacts(ctx, q, f.ID)
	return o, err
}

// MissingPhones counts the external contacts still without a phone.
func (o *OrgData) MissingPhones() int {
	n := 0
	for _, c := range o.Contacts {
		if c.NoPhone() {
			n++
		}
	}
	return n
}

// member returns the member id, if any.
func (o *OrgData) member(id int64) (Member, bool) {
	i := slices.IndexFunc(o.Members, func(m Member) bool { return m.ID == id })
	if i < 0 {
		return Member{}, false
	}
	return o.Members[i], true
}

// personLines are a person's lines in a box: the name (bold, with the
// title or department) and the phones, or a warning when there are none.
func personLines(tr Tr, name, sub string, phones []string, mail string) []DiagramLine {
	n := name
	if sub != "" {
		n += "（" + sub + "）"
	}
	lines := []DiagramLine{{Text: n, Bold: true}}
	if len(phones) == 0 {
		lines = append(lines, DiagramLine{Text: tr("incident.org.no_phone", nil), Warn: true})
	} else {
		lines = append(lines, DiagramLine{Text: "☎ " + strings.Join(phones, " / ")})
	}
	if mail != "" {
		lines = append(lines, DiagramLine{Text: mail})
	}
	return lines
}

// membersWith returns the lines of the members holding any of roles, with
// who is on call now marked.
func (o *OrgData) membersWith(tr Tr, roles ...CSIRTRole) []DiagramLine {
	var lines []DiagramLine
	for _, m := range o.Members {
		if !slices.ContainsFunc(roles, m.Has) {
			continue
		}
		sub := m.Department
		lines = append(lines, personLines(tr, m.Name, sub, m.Phones(), "")...)
		if d, ok := o.member(m.Deputy); ok {
			lines = append(lines, DiagramLine{Text: tr("incident.org.deputy_line", map[string]any{"Name": d.Name,
				"Phone": strings.Join(d.Phones(), " / ")})})
		}
	}
	if len(lines) == 0 {
		lines = append(lines, DiagramLine{Text: tr("incident.org.nobody", nil), Warn: true})
	}
	return lines
}

// Diagram lays out the organisation as the contact diagram, in the
// language of tr.
func (o *OrgData) Diagram(tr Tr) Diagram {
	d := Diagram{Title: tr("incident.org.diagram_title", map[string]any{"Facility": o.Facility.Name("")}),
		LeftLabel: tr("incident.org.diagram.vendors", nil), RightLabel: tr("incident.org.diagram.authorities", nil)}
	discover := DiagramBox{Heading: tr("incident.org.diagram.discoverer", nil),
		Lines: []DiagramLine{{Text: tr("incident.org.diagram.discoverer_1", nil)}, {Text: tr("incident.org.diagram.discoverer_2", nil)}}}
	poc := DiagramBox{Heading: tr("incident.org.diagram.poc", nil)}
	if len(o.OnCall) > 0 {
		for _, s := range o.OnCall {
			poc.Lines = append(poc.Lines, personLines(tr, s.Member.Name, tr("incident.org.tier."+string(s.Tier), nil), s.Member.Phones(), "")...)
		}
	}
	poc.Lines = append(poc.Lines, o.membersWith(tr, RolePoC, RoleIT)...)
	commander := DiagramBox{Heading: tr("incident.org.diagram.commander", nil), Lines: o.membersWith(tr, RoleCommander, RoleManager)}
	top := DiagramBox{Heading: tr("incident.org.diagram.officers", nil)}
	for _, role := range OfficerRoles {
		i := slices.IndexFunc(o.Officers, func(of Officer) bool { return of.Role == role })
		label := tr("incident.org.officer."+string(role), nil)
		if i < 0 {
			top.Lines = append(top.Lines, DiagramLine{Text: label + "：" + tr("incident.org.not_named", nil), Warn: true})
			continue
		}
		of := o.Officers[i]
		top.Lines = append(top.Lines, DiagramLine{Text: label})
		top.Lines = append(top.Lines, personLines(tr, of.Name, of.Title, of.Phones(), "")...)
	}
	top.Lines = append(top.Lines, DiagramLine{Text: tr("incident.org.diagram.director", nil)})
	d.Chain = []DiagramBox{discover, poc, commander, top}
	d.Arrows = []string{tr("incident.org.diagram.arrow_1", nil), tr("incident.org.diagram.arrow_2", nil), tr("incident.org.diagram.arrow_3", nil)}

	// The rest of the CSIRT, below the chain.
	others := DiagramBox{Heading: tr("incident.org.diagram.csirt", nil)}
	for _, m := range o.Members {
		if m.Has(RolePoC) || m.Has(RoleIT) || m.Has(RoleCommander) || m.Has(RoleManager) {
			continue
		}
		var labels []string
		for _, r := range m.Roles {
			labels = append(labels, tr("incident.org.role."+string(r), nil))
		}
		others.Lines = append(others.Lines, personLines(tr, m.Name, strings.Join(labels, "・"), m.Phones(), "")...)
	}
	if len(others.Lines) > 0 {
		d.Below = append(d.Below, others)
	}
	for _, c := range o.Contacts {
		box := DiagramBox{Heading: c.Organisation}
		if c.System != "" {
			box.Lines = append(box.Lines, DiagramLine{Text: tr("incident.org.system_line", map[string]any{"System": c.System})})
		}
		name := c.Person
		if name == "" {
			name = tr("incident.org.kind."+string(c.Kind), nil)
		}
		box.Lines = append(box.Lines, personLines(tr, name, "", c.Phones(), "")...)
		switch {
		case c.Kind == ContactVendor:
			d.Left = append(d.Left, box)
		case slices.Contains(authorityKinds, c.Kind):
			d.Right = append(d.Right, box)
		case c.Kind == ContactInsurer:
			d.Below = append(d.Below, box)
		default:
			d.Left = append(d.Left, box)
		}
	}
	return d
}

// contactsPrintView is what templates/_contacts_print.html sees.
type contactsPrintView struct {
	tr        Tr
	Lang      string
	Facility  string
	Generated string
	Diagram   template.HTML
	Missing   int
}

// T translates a message id; args are name/value pairs.
func (v *contactsPrintView) T(id string, args ...any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		data[fmt.Sprint(args[i])] = args[i+1]
	}
	return v.tr(id, data)
}

var contactsPrintTemplates = template.Must(template.ParseFS(templatesFS, "templates/_print.html", "templates/_contacts_print.html"))

// ContactsDocument writes the contact diagram of o as a whole printable
// HTML document of one A4 page, in lang, with dates where loc is.
func ContactsDocument(o OrgData, tr Tr, lang string, loc *time.Location) ([]byte, error) {
	if loc == nil {
		loc = japan
	}
	v := &contactsPrintView{tr: tr, Lang: lang, Facility: o.Facility.Name(lang), Generated: o.Now.In(loc).Format("2006-01-02 15:04"),
		Missing: o.MissingPhones()}
	d := o.Diagram(tr)
	d.Title = tr("incident.org.diagram_title", map[string]any{"Facility": v.Facility})
	v.Diagram = d.SVG()
	var b bytes.Buffer
	if err := contactsPrintTemplates.ExecuteTemplate(&b, "contacts-print", v); err != nil {
		return nil, fmt.Errorf("contact diagram: %w", err)
	}
	return b.Bytes(), nil
}
