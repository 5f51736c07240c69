package incident

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Generating a report: its fields (the draft's, else anzen's from the
// incident) with the facts of its head, as a whole printable HTML
// document (templates/print/report.html, which cfg.PDF turns into a PDF
// and a browser prints), and as labelled plain text to paste into the PPC's
// and MHLW's web forms. Japanese first; English on request.

// FacilityNames names facilities (the identity part keeps them;
// internal/app passes it in).
type FacilityNames interface {
	// FacilityName returns the name of facility id in lang ("ja" or "en").
	FacilityName(ctx context.Context, id int64, lang string) (string, error)
}

// Translator gives messages in a language (i18n.Catalog).
type Translator interface {
	T(lang, id string, data any) string
}

// ReportField is one field of a report as generated.
type ReportField struct {
	Key, Label string
	Value      string
	// Drafted is true when the text is the CSIRT's, false when anzen
	// filled it from the incident.
	Drafted bool
}

// ReportHead is a fact the report states at its top.
type ReportHead struct{ Label, Value string }

// Report is one report document, ready to print or paste.
type Report struct {
	Incident  Incident
	Ref       string
	To        Recipient
	Lang      string
	Title     string
	Facility  string
	Generated time.Time
	Head      []ReportHead
	Fields    []ReportField
	// Owed is false when the incident's facts owe no such report (it may
	// still be generated, with a note that says so).
	Owed  bool
	Draft Draft
}

// ReportInput is what BuildReport reads besides the incident.
type ReportInput struct {
	T        Translator
	Names    FacilityNames // nil: the facility's number
	Location *time.Location
	Lang     string
	Now      time.Time
}

// BuildReport gathers the report to to about inc (which the caller has
// read within its scope): its draft, submissions and evidence, and the
// facility's name.
func BuildReport(ctx context.Context, q db.Querier, inc Incident, to Recipient, in ReportInput) (Report, error) {
	if !to.Reported() {
		return Report{}, &ReportError{"recipient", "incident.report.error.recipient"}
	}
	if in.Lang != "en" {
		in.Lang = "ja"
	}
	if in.Location == nil {
		in.Location = japan
	}
	draft, err := ReadDraft(ctx, q, inc.ID, to)
	if err != nil {
		return Report{}, err
	}
	subs, err := Submissions(ctx, q, inc.ID)
	if err != nil {
		return Report{}, err
	}
	var evidence []string
	if to == ToPolice {
		if evidence, err = evidenceList(ctx, q, inc.ID); err != nil {
			return Report{}, err
		}
	}
	facility := ""
	if in.Names != nil {
		if facility, err = in.Names.FacilityName(ctx, inc.Facility, in.Lang); err != nil {
			return Report{}, fmt.Errorf("name facility %d: %w", inc.Facility, err)
		}
	}
	if facility == "" {
		facility = in.T.T(in.Lang, "incident.report.facility_number", map[string]any{"ID": inc.Facility})
	}
	r := Report{Incident: inc, Ref: inc.Ref(), To: to, Lang: in.Lang, Facility: facility, Generated: in.Now, Draft: draft,
		Title: in.T.T(in.Lang, "incident.report.doc."+string(to), nil)}
	for _, d := range Duties(inc) {
		r.Owed = r.Owed || d.To == to
	}
	p := prefiller{t: in.T, lang: in.Lang, loc: in.Location, inc: inc, subs: subs, evidence: evidence}
	r.Head = []ReportHead{
		{p.l("incident.report.head.facility"), facility},
		{p.l("incident.report.head.ref"), r.Ref},
		{p.l("incident.report.head.kind"), p.l("incident.report.kind." + string(inc.Kind))},
		{p.l("incident.report.head.aware_at"), p.time(inc.AwareAt)},
		{p.l("incident.report.head.occurred_at"), p.time(inc.OccurredAt)},
		{p.l("incident.report.head.generated"), p.time(in.Now)},
	}
	for _, k := range ReportFields(to) {
		f := ReportField{Key: k, Label: p.l("incident.report.field." + k)}
		if v, ok := draft.Fields[k]; ok {
			f.Value, f.Drafted = v, true
		} else {
			f.Value = p.fill(k)
		}
		r.Fields = append(r.Fields, f)
	}
	return r, nil
}

// prefiller writes a field's first text from the incident.
type prefiller struct {
	t        Translator
	lang     string
	loc      *time.Location
	inc      Incident
	subs     []Submission
	evidence []string
}

func (p prefiller) l(id string) string { return p.t.T(p.lang, id, nil) }

func (p prefiller) time(t time.Time) string {
	if t.IsZero() {
		return p.l("incident.report.unknown")
	}
	return t.In(p.loc).Format("2006-01-02 15:04") + " (" + t.In(p.loc).Format("MST") + ")"
}

func (p prefiller) yes(b bool) string {
	if b {
		return p.l("incident.report.yes")
	}
	return p.l("incident.report.no")
}

func lines(s ...string) string {
	var out []string
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return strings.Join(out, "\n")
}

// fill returns anzen's text for field k.
func (p prefiller) fill(k string) string {
	i := p.inc
	switch k {
	case "contact":
		if i.Commander == "" {
			return ""
		}
		return p.t.T(p.lang, "incident.report.prefill.commander", map[string]any{"Login": i.Commander})
	case "overview", "what_happened":
		return lines(i.Title, i.Summary)
	case "systems":
		return i.AffectedSystems
	case "data_items":
		medical := ""
		if i.MedicalData {
			medical = p.l("incident.report.prefill.medical")
		}
		return lines(i.AffectedData, medical)
	case "people":
		if i.People <= 0 {
			return p.l("incident.report.unknown")
		}
		return p.t.T(p.lang, "incident.report.prefill.people", map[string]any{"Count": strconv.FormatInt(i.People, 10)})
	case "cause":
		var s []string
		s = append(s, p.l("incident.report.kind."+string(i.Kind)))
		if i.Cyberattack {
			s = append(s, p.l("incident.report.prefill.cyberattack"))
		}
		if i.Malicious {
			s = append(s, p.l("incident.report.prefill.malicious"))
		}
		return lines(s...)
	case "care_impact":
		return p.yes(i.CareImpact)
	case "response_status":
		return p.l("incident.report.state." + string(i.State))
	case "personal_data":
		return lines(p.l("incident.report.leak."+string(i.Leak)), p.fill("data_items"), p.fill("people"))
	case "damage":
		return lines(i.AffectedSystems, i.AffectedData)
	case "evidence":
		return lines(p.evidence...)
	case "individuals_response":
		return p.submitted(ToIndividuals)
	case "notified":
		var s []string
		for _, to := range []Recipient{ToVendor, ToMHLW, ToPPCPreliminary, ToPPCFinal, ToPolice} {
			if x := p.submitted(to); x != "" {
				s = append(s, p.l("incident.duty.to."+string(to))+": "+x)
			}
		}
		if len(s) == 0 {
			return p.l("incident.report.prefill.none_yet")
		}
		return lines(s...)
	}
	return ""
}

// submitted writes the submissions to to, one a line.
func (p prefiller) submitted(to Recipient) string {
	var s []string
	for _, x := range p.subs {
		if x.To != to || x.Status != Submitted {
			continue
		}
		line := p.time(x.At) + " " + p.l("incident.report.channel."+x.Channel)
		if x.Reference != "" {
			line += " (" + p.t.T(p.lang, "incident.report.prefill.reference", map[string]any{"Ref": x.Reference}) + ")"
		}
		s = append(s, line)
	}
	return strings.Join(s, "; ")
}

// Text writes the report as labelled plain text, to paste into a web
// form field by field.
func (r Report) Text(t Translator) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n\n", r.Title, strings.Repeat("=", 40))
	for _, h := range r.Head {
		fmt.Fprintf(&b, "%s: %s\n", h.Label, h.Value)
	}
	if !r.Owed {
		fmt.Fprintf(&b, "\n%s\n", t.T(r.Lang, "incident.report.not_owed", nil))
	}
	for _, f := range r.Fields {
		v := f.Value
		if v == "" {
			v = t.T(r.Lang, "incident.report.empty", nil)
		}
		fmt.Fprintf(&b, "\n■ %s\n%s\n", f.Label, v)
	}
	return b.String()
}

//go:embed templates/_print.html templates/print/*.html
var printFS embed.FS

var printTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"splitLines": func(s string) []string { return strings.Split(s, "\n") },
}).ParseFS(printFS, "templates/_print.html", "templates/print/*.html"))

// printView is what templates/print/report.html sees.
type printView struct {
	Report
	t Translator
}

// T translates a message id into the report's language.
func (v printView) T(id string) string { return v.t.T(v.Lang, id, nil) }

// HTML writes the report as a whole printable HTML document.
func (r Report) HTML(t Translator) ([]byte, error) {
	var buf bytes.Buffer
	if err := printTemplates.ExecuteTemplate(&buf, "report-doc", printView{Report: r, t: t}); err != nil {
		return nil, fmt.Errorf("write the %s report of %s: %w", r.To, r.Ref, err)
	}
	return buf.Bytes(), nil
}
