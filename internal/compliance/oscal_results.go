package compliance

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// The OSCAL assessment results (NIST OSCAL 1.0.6): a facility's State as
// one result whose findings are the guideline's items (satisfied when
// ready) and whose observations are the evidence — each check's last run
// (method TEST), each attestation with its file's SHA-256 (EXAMINE) and
// each answer to the checklist (INTERVIEW). Auditors and group-wide GRC
// tools read it without knowing anzen. UUIDs are name-based (version 5)
// on the facility, the moment and the item, so the same State always
// gives the same document.

// oscalResultsSpace is the UUID namespace of anzen's assessment results.
var oscalResultsSpace = uuid.MustParse("6f1d3c1e-5f0a-4c39-9d0b-3f1f6a0b2c71")

type (
	oscalEvidence struct {
		Href        string      `json:"href,omitempty"`
		Description string      `json:"description"`
		Props       []oscalProp `json:"props,omitempty"`
	}
	oscalObservation struct {
		UUID             string          `json:"uuid"`
		Title            string          `json:"title,omitempty"`
		Description      string          `json:"description"`
		Props            []oscalProp     `json:"props,omitempty"`
		Methods          []string        `json:"methods"`
		Types            []string        `json:"types,omitempty"`
		RelevantEvidence []oscalEvidence `json:"relevant-evidence,omitempty"`
		Collected        string          `json:"collected"`
		Expires          string          `json:"expires,omitempty"`
	}
	oscalStatus struct {
		State  string `json:"state"`
		Reason string `json:"reason,omitempty"`
	}
	oscalTarget struct {
		Type     string      `json:"type"`
		TargetID string      `json:"target-id"`
		Title    string      `json:"title,omitempty"`
		Status   oscalStatus `json:"status"`
	}
	oscalRelated struct {
		ObservationUUID string `json:"observation-uuid"`
	}
	oscalFinding struct {
		UUID                string         `json:"uuid"`
		Title               string         `json:"title"`
		Description         string         `json:"description"`
		Props               []oscalProp    `json:"props,omitempty"`
		Target              oscalTarget    `json:"target"`
		RelatedObservations []oscalRelated `json:"related-observations,omitempty"`
	}
	oscalControlRef struct {
		ControlID string `json:"control-id"`
	}
	oscalSelection struct {
		Description     string            `json:"description,omitempty"`
		IncludeControls []oscalControlRef `json:"include-controls,omitempty"`
		ExcludeControls []oscalControlRef `json:"exclude-controls,omitempty"`
	}
	oscalResult struct {
		UUID             string `json:"uuid"`
		Title            string `json:"title"`
		Description      string `json:"description"`
		Start            string `json:"start"`
		End              string `json:"end,omitempty"`
		Props            []oscalProp
		ReviewedControls struct {
			ControlSelections []oscalSelection `json:"control-selections"`
		} `json:"reviewed-controls"`
		Observations []oscalObservation `json:"observations,omitempty"`
		Findings     []oscalFinding     `json:"findings,omitempty"`
	}
)

// OSCALResults writes st as an OSCAL 1.0.6 assessment-results document
// (JSON) generated at now.
func OSCALResults(st *State, lib *Library, now time.Time) ([]byte, error) {
	if st == nil || lib == nil {
		return nil, fmt.Errorf("OSCAL results: no state or library")
	}
	fw := lib.Framework(st.Framework)
	if fw == nil {
		fw = lib.Guideline()
	}
	if fw == nil {
		return nil, fmt.Errorf("OSCAL results: the library has no guideline")
	}
	at := st.At
	if at.IsZero() {
		at = now
	}
	id := func(parts ...string) string {
		return uuid.NewSHA1(oscalResultsSpace, []byte(strconv.FormatInt(st.Facility, 10)+"|"+at.UTC().Format(time.RFC3339Nano)+"|"+
			strings.Join(parts, "|"))).String()
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	facility := st.FacilityName.JA
	if facility == "" {
		facility = "facility " + strconv.FormatInt(st.Facility, 10)
	}

	res := oscalResult{UUID: id("result"), Start: stamp(at), End: stamp(at),
		Title:       "医療情報システムの安全管理 評価結果 (" + facility + ")",
		Description: fmt.Sprintf("anzen: %s — readiness of every assessable item as of %s (checks on their schedule, attestations, checklist answers)", fw.Name.EN, stamp(at)),
		Props: []oscalProp{{Name: "facility", NS: OSCALNamespace, Value: strconv.FormatInt(st.Facility, 10)},
			{Name: "framework", NS: OSCALNamespace, Value: fw.ID}}}

	// Observations: each control's evidence, remembered by control.
	byControl := map[string][]string{}
	for _, cs := range st.Controls {
		if cs == nil || cs.Control == nil {
			continue
		}
		c := cs.Control
		for _, r := range cs.Checks {
			o := oscalObservation{UUID: id("check", c.ID, r.CheckID), Title: r.CheckID, Methods: []string{"TEST"},
				Types: []string{"control-objective"}, Collected: stamp(reportNonZero(r.RanAt, at)),
				Description: fmt.Sprintf("Check %s for control %s (%s): %s", r.CheckID, c.ID, c.Title.EN, reportStatusWord(r)),
				Props: []oscalProp{{Name: "check-id", NS: OSCALNamespace, Value: r.CheckID},
					{Name: "check-status", NS: OSCALNamespace, Value: reportStatusWord(r)}}}
			if r.DetailID != "" {
				o.Props = append(o.Props, oscalProp{Name: "detail-id", NS: OSCALNamespace, Value: r.DetailID})
			}
			keys := make([]string, 0, len(r.Data))
			for k := range r.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if v := fmt.Sprint(r.Data[k]); v != "" && isOSCALToken(k) {
					o.Props = append(o.Props, oscalProp{Name: "data-" + k, NS: OSCALNamespace, Value: v})
				}
			}
			if r.Error != "" {
				o.Props = append(o.Props, oscalProp{Name: "error", NS: OSCALNamespace, Value: r.Error})
			}
			for _, l := range r.Links {
				if l.Href != "" {
					o.RelevantEvidence = append(o.RelevantEvidence, oscalEvidence{Href: l.Href, Description: l.LabelID})
				}
			}
			res.Observations = append(res.Observations, o)
			byControl[c.ID] = append(byControl[c.ID], o.UUID)
		}
		for _, a := range cs.Attestations {
			o := oscalObservation{UUID: id("attestation", strconv.FormatInt(a.ID, 10)), Title: a.Title,
				Methods: []string{"EXAMINE"}, Types: []string{"control-objective"}, Collected: stamp(a.UploadedAt),
				Description: fmt.Sprintf("Attestation %q for control %s (%s), effective %s, %s", a.Title, c.ID, c.Title.EN,
					a.EffectiveOn.UTC().Format(time.DateOnly), a.State),
				Props: []oscalProp{{Name: "attestation-state", NS: OSCALNamespace, Value: reportOr(a.State, AttestPending)},
					{Name: "effective-on", NS: OSCALNamespace, Value: a.EffectiveOn.UTC().Format(time.DateOnly)},
					{Name: "expiry", NS: OSCALNamespace, Value: reportExpiry(a, at)},
					{Name: "uploaded-by", NS: OSCALNamespace, Value: reportOr(a.UploadedBy, "-")}},
				RelevantEvidence: []oscalEvidence{{Description: reportOr(a.FileName, a.Title),
					Props: []oscalProp{{Name: "sha256", NS: OSCALNamespace, Value: reportOr(a.SHA256, "-")}}}}}
			if a.ExpiresOn != nil {
				o.Expires = stamp(*a.ExpiresOn)
			}
			if a.State == AttestApproved && a.DecidedBy != "" {
				o.Props = append(o.Props, oscalProp{Name: "approved-by", NS: OSCALNamespace, Value: a.DecidedBy})
			}
			res.Observations = append(res.Observations, o)
			if a.State == AttestApproved {
				byControl[c.ID] = append(byControl[c.ID], o.UUID)
			}
		}
	}
	for _, a := range st.Answers {
		if a.Value != AnswerYes && a.Value != AnswerNo {
			continue
		}
		o := oscalObservation{UUID: id("answer", a.Framework, a.Ref), Title: a.Framework + ":" + a.Ref,
			Methods: []string{"INTERVIEW"}, Collected: stamp(reportNonZero(a.AnsweredAt, a.CheckedOn)),
			Description: fmt.Sprintf("Checklist %s item %s answered %s on %s", a.Framework, a.Ref, a.Value,
				a.CheckedOn.UTC().Format(time.DateOnly)),
			Props: []oscalProp{{Name: "checklist-answer", NS: OSCALNamespace, Value: a.Value},
				{Name: "checked-on", NS: OSCALNamespace, Value: a.CheckedOn.UTC().Format(time.DateOnly)}}}
		if a.TargetOn != nil {
			o.Props = append(o.Props, oscalProp{Name: "target-on", NS: OSCALNamespace, Value: a.TargetOn.UTC().Format(time.DateOnly)})
		}
		res.Observations = append(res.Observations, o)
	}

	// Findings: one per assessed item of the guideline.
	var include, exclude []oscalControlRef
	for _, rq := range st.Requirements {
		if rq == nil || rq.Item == nil {
			continue
		}
		cid := oscalToken("gl", rq.Item.Ref)
		if rq.Readiness == Excluded {
			exclude = append(exclude, oscalControlRef{cid})
			continue
		}
		include = append(include, oscalControlRef{cid})
		status := oscalStatus{State: "not-satisfied", Reason: "other"}
		switch rq.Readiness {
		case Ready:
			status = oscalStatus{State: "satisfied", Reason: "pass"}
		case NotReady:
			status.Reason = "fail"
		}
		f := oscalFinding{UUID: id("finding", rq.Item.Ref), Title: rq.Item.Ref + " " + rq.Item.Title.JA,
			Description: fmt.Sprintf("%s (%s): %s", rq.Item.Ref, rq.Item.Title.EN, reportOr(rq.Readiness, NotAssessed)),
			Props:       []oscalProp{{Name: "readiness", NS: OSCALNamespace, Value: reportOr(rq.Readiness, NotAssessed)}},
			Target:      oscalTarget{Type: "objective-id", TargetID: cid, Title: rq.Item.Title.JA, Status: status}}
		for _, c := range rq.Controls {
			f.Props = append(f.Props, oscalProp{Name: "control", NS: OSCALNamespace, Value: c})
			for _, u := range byControl[c] {
				f.RelatedObservations = append(f.RelatedObservations, oscalRelated{u})
			}
		}
		res.Findings = append(res.Findings, f)
	}
	for i := range res.Observations {
		res.Observations[i].Props = oscalClean(res.Observations[i].Props)
		for j := range res.Observations[i].RelevantEvidence {
			res.Observations[i].RelevantEvidence[j].Props = oscalClean(res.Observations[i].RelevantEvidence[j].Props)
		}
	}
	for i := range res.Findings {
		res.Findings[i].Props = oscalClean(res.Findings[i].Props)
	}
	sel := oscalSelection{Description: fw.Name.EN, IncludeControls: include, ExcludeControls: exclude}
	res.ReviewedControls.ControlSelections = []oscalSelection{sel}

	plan := oscalResource{UUID: id("plan"), Title: "anzen continuous assessment",
		Description: "The checks run on their schedule and the attestations approved by a second person; see the controls of anzen's library."}
	doc := map[string]any{"assessment-results": map[string]any{
		"uuid": id("document"),
		"metadata": map[string]any{"title": "評価結果 / Assessment results: " + fw.Name.JA + " — " + facility,
			"last-modified": stamp(now), "version": stamp(at), "oscal-version": "1.0.6"},
		"import-ap":   map[string]any{"href": "#" + plan.UUID},
		"results":     []any{res.json()},
		"back-matter": map[string]any{"resources": []oscalResource{plan}},
	}}
	return json.MarshalIndent(doc, "", "  ")
}

// json is the result as OSCAL spells it (props only when there are some).
func (r oscalResult) json() map[string]any {
	m := map[string]any{"uuid": r.UUID, "title": r.Title, "description": r.Description, "start": r.Start,
		"end": r.End, "reviewed-controls": r.ReviewedControls}
	if len(r.Props) > 0 {
		m["props"] = r.Props
	}
	if len(r.Observations) > 0 {
		m["observations"] = r.Observations
	}
	if len(r.Findings) > 0 {
		m["findings"] = r.Findings
	}
	return m
}

// reportStatusWord is a check run's outcome as one word.
func reportStatusWord(r CheckRun) string {
	if r.Error != "" || !r.Status.Valid() {
		return "error"
	}
	if r.Status == check.NotApplicable {
		return "not-applicable"
	}
	return string(r.Status)
}

// reportNonZero is t, or def when t is zero.
func reportNonZero(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// isOSCALToken reports whether s is an OSCAL token (a property's name).
func isOSCALToken(s string) bool {
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if i == 0 && !letter || !letter && !(r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return s != ""
}

// oscalClean keeps the properties OSCAL accepts: a token for a name and a
// value on one line without surrounding space.
func oscalClean(props []oscalProp) []oscalProp {
	out := props[:0]
	for _, p := range props {
		p.Value = strings.Join(strings.Fields(p.Value), " ")
		if p.Value != "" && isOSCALToken(p.Name) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
