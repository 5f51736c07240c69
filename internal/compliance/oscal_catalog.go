package compliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// This file exports a catalog (the guideline or a checklist) as an NIST
// OSCAL 1.0.6 catalog, so that vendors, auditors and GRC tools can read
// the MHLW items in the format they already take. The mapping:
//
//	chapter, section, topic / sheet, group → nested groups
//	C, D items, B items assessed, questions → controls
//	B items that explain (rationale)       → "overview" parts of their group
//	number                                 → the "label" prop
//	kind, revised, unconfirmed, v6, target,
//	since, anzen's controls                → props in anzen's namespace
//	summary in lang / in the other language → "statement" part / "alt-statement" part
//
// The types below cover the part of the OSCAL catalog model anzen fills;
// the tests validate the result against NIST's JSON Schema.

// OSCALNamespace qualifies the props and parts that are anzen's own.
const OSCALNamespace = "https://anzen.health/ns/oscal"

// OSCALVersion is the OSCAL version anzen's exports conform to.
const OSCALVersion = "1.0.6"

// oscalUUIDSpace is the name space of anzen's deterministic (version 5)
// OSCAL UUIDs: the same framework, data version and language give the
// same UUIDs, so two exports of one catalog compare equal.
var oscalUUIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(OSCALNamespace))

type oscalCatalogDoc struct {
	Catalog oscalCatalog `json:"catalog"`
}

type oscalCatalog struct {
	UUID       string           `json:"uuid"`
	Metadata   oscalMetadata    `json:"metadata"`
	Groups     []*oscalGroup    `json:"groups,omitempty"`
	BackMatter *oscalBackMatter `json:"back-matter,omitempty"`
}

type oscalMetadata struct {
	Title              string             `json:"title"`
	Published          string             `json:"published,omitempty"`
	LastModified       string             `json:"last-modified"`
	Version            string             `json:"version"`
	OSCALVersion       string             `json:"oscal-version"`
	Props              []oscalProp        `json:"props,omitempty"`
	Links              []oscalLink        `json:"links,omitempty"`
	Roles              []oscalRole        `json:"roles,omitempty"`
	Parties            []oscalParty       `json:"parties,omitempty"`
	ResponsibleParties []oscalResponsible `json:"responsible-parties,omitempty"`
	Remarks            string             `json:"remarks,omitempty"`
}

type oscalRole struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type oscalParty struct {
	UUID      string      `json:"uuid"`
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	ShortName string      `json:"short-name,omitempty"`
	Links     []oscalLink `json:"links,omitempty"`
}

type oscalResponsible struct {
	RoleID     string   `json:"role-id"`
	PartyUUIDs []string `json:"party-uuids"`
}

type oscalProp struct {
	Name  string `json:"name"`
	NS    string `json:"ns,omitempty"`
	Value string `json:"value"`
	Class string `json:"class,omitempty"`
}

type oscalLink struct {
	Href string `json:"href"`
	Rel  string `json:"rel,omitempty"`
	Text string `json:"text,omitempty"`
}

type oscalPart struct {
	ID    string       `json:"id,omitempty"`
	Name  string       `json:"name"`
	NS    string       `json:"ns,omitempty"`
	Class string       `json:"class,omitempty"`
	Title string       `json:"title,omitempty"`
	Props []oscalProp  `json:"props,omitempty"`
	Prose string       `json:"prose,omitempty"`
	Parts []*oscalPart `json:"parts,omitempty"`
}

type oscalGroup struct {
	ID       string          `json:"id,omitempty"`
	Class    string          `json:"class,omitempty"`
	Title    string          `json:"title"`
	Props    []oscalProp     `json:"props,omitempty"`
	Parts    []*oscalPart    `json:"parts,omitempty"`
	Groups   []*oscalGroup   `json:"groups,omitempty"`
	Controls []*oscalControl `json:"controls,omitempty"`
}

type oscalControl struct {
	ID    string       `json:"id"`
	Class string       `json:"class,omitempty"`
	Title string       `json:"title"`
	Props []oscalProp  `json:"props,omitempty"`
	Links []oscalLink  `json:"links,omitempty"`
	Parts []*oscalPart `json:"parts,omitempty"`
}

type oscalBackMatter struct {
	Resources []oscalResource `json:"resources"`
}

type oscalResource struct {
	UUID        string       `json:"uuid"`
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	RLinks      []oscalRLink `json:"rlinks,omitempty"`
}

type oscalRLink struct {
	Href string `json:"href"`
}

// OSCALCatalog returns fw as an OSCAL 1.0.6 catalog in JSON, its titles
// and statements in lang ("ja" or "en") with the other language beside
// them. lib, when given, adds to each item the anzen controls that answer
// it. now is the export's last-modified time.
func OSCALCatalog(fw *Framework, lib *Library, lang string, now time.Time) ([]byte, error) {
	if fw == nil {
		return nil, errors.New("oscal catalog: no framework")
	}
	if lang != "ja" && lang != "en" {
		return nil, fmt.Errorf("oscal catalog: language %q is neither ja nor en", lang)
	}
	other := "en"
	if lang == "en" {
		other = "ja"
	}
	x := &oscalExport{fw: fw, lib: lib, lang: lang, other: other, ids: map[string]string{},
		prefix: "gl", space: uuid.NewSHA1(oscalUUIDSpace, []byte(fw.ID+"@"+strconv.Itoa(fw.Version)+"/"+lang))}
	if fw.Kind == KindChecklist {
		x.prefix = "cl"
	}
	mhlw := x.uuid("party:publisher")
	source := x.uuid("resource:source")
	doc := oscalCatalogDoc{Catalog: oscalCatalog{
		UUID: x.uuid("catalog"),
		Metadata: oscalMetadata{
			Title:        fw.Name.In(lang),
			LastModified: now.UTC().Truncate(time.Second).Format(time.RFC3339),
			Version:      fmt.Sprintf("%s (data %d)", fw.Edition, fw.Version),
			OSCALVersion: OSCALVersion,
			Props: append([]oscalProp{
				{Name: "framework", NS: OSCALNamespace, Value: fw.ID},
				{Name: "framework-kind", NS: OSCALNamespace, Value: fw.Kind},
				{Name: "language", NS: OSCALNamespace, Value: lang},
			}, nonEmptyProp("edition", fw.Edition)...),
			Roles:              []oscalRole{{ID: "creator", Title: roleTitle(lang)}},
			ResponsibleParties: []oscalResponsible{{RoleID: "creator", PartyUUIDs: []string{mhlw}}},
			Remarks:            fw.Note.In(lang),
		},
	}}
	md := &doc.Catalog.Metadata
	if alt := exactly(fw.Name, other); alt != "" {
		md.Props = append(md.Props, oscalProp{Name: "alt-title", NS: OSCALNamespace, Value: alt, Class: other})
	}
	if p, ok := publishedTime(fw.Published); ok {
		md.Published = p
	}
	publisher := fw.Publisher.In(lang)
	if publisher == "" {
		publisher = (Text{JA: "厚生労働省", EN: "Ministry of Health, Labour and Welfare"}).In(lang)
	}
	md.Parties = []oscalParty{{UUID: mhlw, Type: "organization", Name: publisher, ShortName: "MHLW"}}
	if fw.Source != "" {
		md.Links = []oscalLink{{Href: fw.Source, Rel: "reference", Text: fw.Name.In(lang)}}
		md.Parties[0].Links = []oscalLink{{Href: "https://www.mhlw.go.jp/", Rel: "reference"}}
		doc.Catalog.BackMatter = &oscalBackMatter{Resources: []oscalResource{{UUID: source, Title: fw.Name.In(lang),
			RLinks: []oscalRLink{{Href: fw.Source}}}}}
		x.source = "#" + source
	}
	for _, it := range fw.Items {
		g, err := x.group(it)
		if err != nil {
			return nil, err
		}
		doc.Catalog.Groups = append(doc.Catalog.Groups, g)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// oscalExport is one export in progress.
type oscalExport struct {
	fw          *Framework
	lib         *Library
	lang, other string
	prefix      string
	space       uuid.UUID
	source      string            // "#<uuid>" of the back-matter resource, if any
	ids         map[string]string // OSCAL id → ref, to refuse two refs that map to one id
}

func (x *oscalExport) uuid(name string) string {
	return uuid.NewSHA1(x.space, []byte(name)).String()
}

// id turns a ref into an OSCAL token (oscalToken), refusing two refs
// that become the same id.
func (x *oscalExport) id(ref string) (string, error) {
	id := oscalToken(x.prefix, ref)
	if prev, dup := x.ids[id]; dup && prev != ref {
		return "", fmt.Errorf("oscal catalog: refs %s and %s both become id %s", prev, ref, id)
	}
	x.ids[id] = ref
	return id, nil
}

// oscalToken is the OSCAL id of an item's ref under prefix ("gl" for a
// guideline, "cl" for a checklist): "6.5-C-15" → "gl-6.5-c-15",
// "6.5-(1)" → "gl-6.5-1". Letters of any script are kept. The catalog
// and the assessment results name controls with it alike.
func oscalToken(prefix, ref string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('-')
	dash := true
	for _, r := range strings.ToLower(ref) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '.' || r == '_':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// props are an item's label and anzen's attributes of it.
func (x *oscalExport) props(it *Item) []oscalProp {
	var ps []oscalProp
	if it.Number != "" {
		ps = append(ps, oscalProp{Name: "label", Value: it.Number})
	}
	ps = append(ps, oscalProp{Name: "kind", NS: OSCALNamespace, Value: it.Kind})
	if it.Revised {
		ps = append(ps, oscalProp{Name: "revised", NS: OSCALNamespace, Value: "true"})
	}
	if it.Unconfirmed {
		ps = append(ps, oscalProp{Name: "unconfirmed", NS: OSCALNamespace, Value: "true"})
	}
	if it.Assess {
		ps = append(ps, oscalProp{Name: "assessed", NS: OSCALNamespace, Value: "true"})
	}
	ps = append(ps, nonEmptyProp("target", it.Target)...)
	ps = append(ps, nonEmptyProp("since", it.Since)...)
	for _, v := range it.V6 {
		val := strings.TrimSpace(v.Volume + " " + v.Chapter + " " + v.Item)
		ps = append(ps, oscalProp{Name: "v6", NS: OSCALNamespace, Value: val, Class: v.Volume})
	}
	if alt := exactly(it.Title, x.other); alt != "" {
		ps = append(ps, oscalProp{Name: "alt-title", NS: OSCALNamespace, Value: alt, Class: x.other})
	}
	return ps
}

// exactly is t in lang, without falling back to the other language.
func exactly(t Text, lang string) string {
	if lang == "en" {
		return strings.TrimSpace(t.EN)
	}
	return strings.TrimSpace(t.JA)
}

func nonEmptyProp(name, value string) []oscalProp {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	return []oscalProp{{Name: name, NS: OSCALNamespace, Value: strings.TrimSpace(value)}}
}

// group exports a heading with everything under it.
func (x *oscalExport) group(it *Item) (*oscalGroup, error) {
	id, err := x.id(it.Ref)
	if err != nil {
		return nil, err
	}
	g := &oscalGroup{ID: id, Class: it.Kind, Title: it.Title.In(x.lang), Props: x.props(it)}
	if it.Summary.In(x.lang) != "" {
		g.Parts = append(g.Parts, &oscalPart{ID: id + "_ovw", Name: "overview", Prose: it.Summary.In(x.lang)})
	}
	if err := x.fill(g, it.Children, nil); err != nil {
		return nil, err
	}
	return g, nil
}

// fill places items under g: headings as groups, assessed items as
// controls, rationale as overview parts (nested under into, when a
// rationale has sub-points).
func (x *oscalExport) fill(g *oscalGroup, items []*Item, into *oscalPart) error {
	for _, it := range items {
		switch {
		case it.Assessable():
			c, err := x.control(it)
			if err != nil {
				return err
			}
			g.Controls = append(g.Controls, c)
		case it.Kind == ItemB:
			id, err := x.id(it.Ref)
			if err != nil {
				return err
			}
			p := &oscalPart{ID: id, Name: "overview", Title: it.Title.In(x.lang), Props: x.props(it), Prose: it.Summary.In(x.lang)}
			if into == nil {
				g.Parts = append(g.Parts, p)
			} else {
				into.Parts = append(into.Parts, p)
			}
			if err := x.fill(g, it.Children, p); err != nil {
				return err
			}
		default:
			sub, err := x.group(it)
			if err != nil {
				return err
			}
			g.Groups = append(g.Groups, sub)
		}
	}
	return nil
}

// control exports an assessed item.
func (x *oscalExport) control(it *Item) (*oscalControl, error) {
	id, err := x.id(it.Ref)
	if err != nil {
		return nil, err
	}
	c := &oscalControl{ID: id, Class: it.Kind, Title: it.Title.In(x.lang), Props: x.props(it)}
	if x.lib != nil {
		for _, ctl := range x.lib.ControlsFor(x.fw.ID + ":" + it.Ref) {
			c.Props = append(c.Props, oscalProp{Name: "anzen-control", NS: OSCALNamespace, Value: ctl.ID})
		}
	}
	c.Parts = []*oscalPart{{ID: id + "_smt", Name: "statement", Prose: it.Summary.In(x.lang)}}
	if alt := exactly(it.Summary, x.other); alt != "" {
		c.Parts = append(c.Parts, &oscalPart{ID: id + "_smt." + x.other, Name: "alt-statement", NS: OSCALNamespace, Class: x.other, Prose: alt})
	}
	if x.source != "" {
		c.Links = []oscalLink{{Href: x.source, Rel: "reference"}}
	}
	return c, nil
}

// publishedTime turns "2024-05-13" or "2021-01" into an OSCAL date-time
// (midnight in Japan, where the text was published).
func publishedTime(s string) (string, bool) {
	for _, layout := range []string{"2006-01-02", "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02") + "T00:00:00+09:00", true
		}
	}
	return "", false
}

func roleTitle(lang string) string {
	return (Text{JA: "作成者", EN: "Creator"}).In(lang)
}
