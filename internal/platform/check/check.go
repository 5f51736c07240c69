// Package check is how a part of anzen offers live evidence that a measure
// of the guideline works: a Check is a named test over the part's own data
// (second factors enrolled, the audit log verified, the BCP reviewed) that
// says pass, fail, warning or not applicable, with a detail a person can
// read and links to where it can be fixed.
//
// Parts declare their checks with this type; internal/app hands them to
// the compliance part, which runs them on their schedule, keeps the
// results as evidence and links them to the guideline's items. A part
// never imports the compliance part, so the data still flows one way.
package check

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Status is the outcome of one run of a check.
type Status string

const (
	Pass          Status = "pass"
	Warning       Status = "warning"
	Fail          Status = "fail"
	NotApplicable Status = "na"
)

// Valid reports whether s is one of the four outcomes.
func (s Status) Valid() bool {
	switch s {
	case Pass, Warning, Fail, NotApplicable:
		return true
	}
	return false
}

// Link points to the page where what a check found can be seen or fixed.
// LabelID is a message id of the part's catalog.
type Link struct {
	LabelID string `json:"label_id"`
	Href    string `json:"href"`
}

// Result is what one run found. DetailID is a message id of the part's
// catalog, filled with Data (figures, names) when it is shown, so the same
// result reads in Japanese and in English.
type Result struct {
	Status   Status         `json:"status"`
	DetailID string         `json:"detail_id"`
	Data     map[string]any `json:"data,omitempty"`
	Links    []Link         `json:"links,omitempty"`
}

// Check is one automatic test a part offers.
type Check struct {
	// ID is unique across anzen: "<part>.<name>", such as
	// "identity.mfa_enrolment".
	ID string
	// TitleID is the message id of the check's name.
	TitleID string
	// Items are the catalog items the check gives evidence for, each
	// "<framework>:<ref>", such as "mhlw-gl-5.1:6.5-C-15" or
	// "mhlw-checklist-r6:hospital-2-5".
	Items []string
	// Every is how often the check runs; 0 means Daily.
	Every time.Duration
	// Run tests the facility's state now (facility-wide checks ignore the
	// facility). An error means the check could not run, not that it
	// failed.
	Run func(ctx context.Context, facility int64) (Result, error)
}

// Daily is the schedule of a check that does not name one.
const Daily = 24 * time.Hour

// Interval is how often c runs.
func (c Check) Interval() time.Duration {
	if c.Every <= 0 {
		return Daily
	}
	return c.Every
}

// Validate reports what is wrong with c's declaration.
func (c Check) Validate() error {
	part, name, ok := strings.Cut(c.ID, ".")
	if !ok || part == "" || name == "" {
		return fmt.Errorf("check %q: the id must be <part>.<name>", c.ID)
	}
	if c.TitleID == "" {
		return fmt.Errorf("check %s: no title", c.ID)
	}
	if len(c.Items) == 0 {
		return fmt.Errorf("check %s: it covers no catalog item", c.ID)
	}
	for _, it := range c.Items {
		if fw, ref, ok := strings.Cut(it, ":"); !ok || fw == "" || ref == "" {
			return fmt.Errorf("check %s: item %q is not <framework>:<ref>", c.ID, it)
		}
	}
	if c.Run == nil {
		return fmt.Errorf("check %s: no function to run", c.ID)
	}
	return nil
}

// Passed, Warned, Failed and NA build results; data are key, value pairs.
func Passed(detailID string, kv ...any) Result { return result(Pass, detailID, kv) }

// Warned is a result that needs attention but does not fail the control.
func Warned(detailID string, kv ...any) Result { return result(Warning, detailID, kv) }

// Failed is a result that fails the control.
func Failed(detailID string, kv ...any) Result { return result(Fail, detailID, kv) }

// NA says the check does not apply here (no signing key, say).
func NA(detailID string, kv ...any) Result { return result(NotApplicable, detailID, kv) }

func result(s Status, id string, kv []any) Result {
	r := Result{Status: s, DetailID: id}
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			continue
		}
		if r.Data == nil {
			r.Data = map[string]any{}
		}
		r.Data[k] = kv[i+1]
	}
	return r
}

// WithLinks returns r with the links added.
func (r Result) WithLinks(l ...Link) Result {
	r.Links = append(r.Links, l...)
	return r
}
