package compliance

// TEMPORARY (task E2): a stand-in for Task A's oscal_catalog.go so that
// this branch compiles and its download route works; the lead deletes
// this file at merge, and the real OSCALCatalog takes its place with the
// same signature.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// OSCALCatalog writes fw as an OSCAL 1.0.6 catalog (JSON) in lang.
func OSCALCatalog(fw *Framework, lib *Library, lang string, now time.Time) ([]byte, error) {
	if fw == nil {
		return nil, fmt.Errorf("OSCAL catalog: no framework")
	}
	one := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var node func(it *Item) map[string]any
	node = func(it *Item) map[string]any {
		m := map[string]any{"id": oscalResultsControlID(it.Ref), "title": it.Title.In(lang)}
		if it.Summary.In(lang) != "" {
			m["parts"] = []any{map[string]any{"id": oscalResultsControlID(it.Ref) + "_smt", "name": "statement",
				"prose": it.Summary.In(lang)}}
		}
		if it.Number != "" {
			m["props"] = []any{map[string]any{"name": "label", "value": one(it.Number)}}
		}
		var groups, controls []any
		for _, c := range it.Children {
			if c.Assessable() {
				controls = append(controls, node(c))
			} else {
				groups = append(groups, node(c))
			}
		}
		if it.Assessable() {
			controls = append(controls, groups...)
			groups = nil
		}
		if len(groups) > 0 {
			m["groups"] = groups
		}
		if len(controls) > 0 {
			m["controls"] = controls
		}
		return m
	}
	var groups, controls []any
	for _, it := range fw.Items {
		if it.Assessable() {
			controls = append(controls, node(it))
		} else {
			groups = append(groups, node(it))
		}
	}
	cat := map[string]any{"uuid": uuid.NewSHA1(oscalResultsSpace, []byte("catalog|"+fw.ID+"|"+lang)).String(),
		"metadata": map[string]any{"title": fw.Name.In(lang), "last-modified": now.UTC().Format(time.RFC3339),
			"version": reportOr(fw.Edition, "1"), "oscal-version": "1.0.6"}}
	if len(groups) > 0 {
		cat["groups"] = groups
	}
	if len(controls) > 0 {
		cat["controls"] = controls
	}
	return json.MarshalIndent(map[string]any{"catalog": cat}, "", "  ")
}
