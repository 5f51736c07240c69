package sigma

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CorrelationType is the kind of a correlation rule: what it counts or
// measures over the events of a group within its timespan.
type CorrelationType int

// The correlation types of the specification v2.0 and the metrics of v2.1.
const (
	// EventCount counts the events of a group.
	EventCount CorrelationType = iota + 1
	// ValueCount counts the distinct values of Field in a group.
	ValueCount
	// Temporal requires the referenced rules to match in any order.
	Temporal
	// TemporalOrdered requires the referenced rules to match in the order
	// listed.
	TemporalOrdered
	// ValueSum sums the numeric values of Field in a group.
	ValueSum
	// ValueAvg averages the numeric values of Field in a group.
	ValueAvg
	// ValueMin is the least numeric value of Field in a group.
	ValueMin
	// ValueMax is the greatest numeric value of Field in a group.
	ValueMax
)

var correlationTypeNames = map[CorrelationType]string{
	EventCount:      "event_count",
	ValueCount:      "value_count",
	Temporal:        "temporal",
	TemporalOrdered: "temporal_ordered",
	ValueSum:        "value_sum",
	ValueAvg:        "value_avg",
	ValueMin:        "value_min",
	ValueMax:        "value_max",
}

// String returns the type as written in rules.
func (t CorrelationType) String() string {
	if n, ok := correlationTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("correlation_type(%d)", int(t))
}

// metric reports whether the type aggregates the numeric values of Field.
func (t CorrelationType) metric() bool { return t >= ValueSum && t <= ValueMax }

// temporal reports whether the type is temporal or temporal_ordered.
func (t CorrelationType) temporal() bool { return t == Temporal || t == TemporalOrdered }

// CorrelationCondition is a correlation's condition: one comparison, or
// a lower and an upper bound that together make a range. Each bound is
// nil when absent. The value compared is the count of events
// (event_count), of distinct values (value_count), of distinct rules
// matched (temporal types), or the metric (value_sum, value_avg,
// value_min, value_max).
type CorrelationCondition struct {
	Gt, Gte, Lt, Lte, Eq *float64
}

// Holds reports whether v satisfies every bound of the condition.
func (c CorrelationCondition) Holds(v float64) bool {
	switch {
	case c.Gt != nil && !(v > *c.Gt),
		c.Gte != nil && !(v >= *c.Gte),
		c.Lt != nil && !(v < *c.Lt),
		c.Lte != nil && !(v <= *c.Lte),
		c.Eq != nil && v != *c.Eq:
		return false
	}
	return true
}

// upper reports whether the condition bounds the value from above (lt,
// lte or eq). Such a condition can only be decided when the window
// closes, since more events may still come.
func (c CorrelationCondition) upper() bool { return c.Lt != nil || c.Lte != nil || c.Eq != nil }

// String returns the condition as written in rules, bounds in the order
// gt, gte, eq, lt, lte.
func (c CorrelationCondition) String() string {
	var parts []string
	add := func(op string, v *float64) {
		if v != nil {
			parts = append(parts, op+" "+strconv.FormatFloat(*v, 'g', -1, 64))
		}
	}
	add("gt", c.Gt)
	add("gte", c.Gte)
	add("eq", c.Eq)
	add("lt", c.Lt)
	add("lte", c.Lte)
	return strings.Join(parts, " and ")
}

// Correlation is one correlation rule (Sigma correlation rules
// specification v2.0.2, with the value_sum, value_avg, value_min and
// value_max metrics of v2.1). parseCorrelation reads it; a Correlator
// runs it.
type Correlation struct {
	ID             string // the rule's id; may be empty
	Name           string // the rule's name, by which other correlations may refer to it
	Title          string
	Description    string
	Status         string
	Author         string
	Date, Modified string
	License        string
	References     []string
	Level          Level
	Tags           []string
	FalsePositives []string
	// Custom holds the top-level attributes the specification does not
	// name (such as description_ja), as decoded from YAML.
	Custom map[string]any
	// Doc is the rule's YAML document. parseCorrelation sets it to the
	// node encoded again; Parse replaces it with the document's bytes as
	// read.
	Doc []byte

	Type CorrelationType
	// Rules are the references to the rules and correlations correlated,
	// by id or name, in the order written (the order that matters for
	// temporal_ordered).
	Rules []string
	// GroupBy are the fields whose values together make a group; none
	// makes one group of all events.
	GroupBy []string
	// Timespan is the window of the correlation.
	Timespan time.Duration
	// Condition is when the correlation matches. For temporal types
	// without a condition in the rule it is gte the number of rules.
	Condition CorrelationCondition
	// Field is the field whose values value_count counts and the metrics
	// aggregate; empty for the other types.
	Field string
	// Aliases maps an alias name (used in GroupBy or Field) to, per
	// referenced rule (by id or name), the field that holds it in that
	// rule's events.
	Aliases map[string]map[string]string
	// Generate is whether the matches of the referenced rules are also
	// reported alone (false, the default: only the correlation's).
	Generate bool
}

// Key is how the correlation is named in messages and saved state: its
// id, else its name, else its title.
func (c *Correlation) Key() string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Name != "":
		return c.Name
	}
	return c.Title
}

// check verifies what the correlation's type requires and returns its
// condition with the defaults of the specification applied: a temporal
// type without a condition needs all its rules (gte their number), and
// eq all its rules is the same as gte. aboutCond tells whether an error
// concerns the condition.
func (c *Correlation) check() (_ CorrelationCondition, aboutCond bool, _ error) {
	t := c.Type.String()
	if _, ok := correlationTypeNames[c.Type]; !ok {
		return CorrelationCondition{}, false, fmt.Errorf("unknown correlation type %s", t)
	}
	if c.Timespan <= 0 {
		return CorrelationCondition{}, false, fmt.Errorf("the timespan %v is not positive", c.Timespan)
	}
	if len(c.Rules) == 0 {
		return CorrelationCondition{}, false, fmt.Errorf("correlation.rules is empty")
	}
	cv := c.Condition
	cond := &cv
	for _, b := range []*float64{cond.Gt, cond.Gte, cond.Lt, cond.Lte, cond.Eq} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return CorrelationCondition{}, true, fmt.Errorf("correlation.condition %s is not a number", cond)
		}
	}
	needsField := c.Type == ValueCount || c.Type.metric()
	if needsField && c.Field == "" {
		return CorrelationCondition{}, false, fmt.Errorf("%s needs condition.field", t)
	}
	if !needsField && c.Field != "" {
		return CorrelationCondition{}, false, fmt.Errorf("%s takes no field: only value_count and the value metrics do", t)
	}
	if cond.Gt == nil && cond.Gte == nil && cond.Lt == nil && cond.Lte == nil && cond.Eq == nil {
		if !c.Type.temporal() {
			return CorrelationCondition{}, false, fmt.Errorf("%s needs a condition (gt, gte, lt, lte or eq)", t)
		}
		all := float64(len(c.Rules))
		cond.Gte = &all
		return cv, false, nil
	}
	lower := 0
	if cond.Gt != nil {
		lower++
	}
	if cond.Gte != nil {
		lower++
	}
	upper := 0
	if cond.Lt != nil {
		upper++
	}
	if cond.Lte != nil {
		upper++
	}
	switch {
	case cond.Eq != nil && (lower > 0 || upper > 0):
		return CorrelationCondition{}, true, fmt.Errorf("correlation.condition: eq cannot be combined with other bounds")
	case lower > 1:
		return CorrelationCondition{}, true, fmt.Errorf("correlation.condition: gt and gte cannot be combined: a range is one lower and one upper bound")
	case upper > 1:
		return CorrelationCondition{}, true, fmt.Errorf("correlation.condition: lt and lte cannot be combined: a range is one lower and one upper bound")
	}
	// A range that no value satisfies is a mistake in the rule.
	lo, loIncl := math.Inf(-1), false
	if cond.Gt != nil {
		lo = *cond.Gt
	}
	if cond.Gte != nil {
		lo, loIncl = *cond.Gte, true
	}
	hi, hiIncl := math.Inf(1), false
	if cond.Lt != nil {
		hi = *cond.Lt
	}
	if cond.Lte != nil {
		hi, hiIncl = *cond.Lte, true
	}
	if lower > 0 && upper > 0 && (lo > hi || (lo == hi && !(loIncl && hiIncl))) {
		return CorrelationCondition{}, true, fmt.Errorf("correlation.condition %s can never hold", cond)
	}
	if !c.Type.metric() {
		// Counts are whole numbers of at least 1: try the least one the
		// lower bound allows.
		n0 := 1.0
		switch {
		case cond.Gte != nil:
			n0 = math.Max(1, *cond.Gte)
		case cond.Gt != nil:
			n0 = math.Max(1, *cond.Gt+1)
		case cond.Eq != nil:
			n0 = math.Max(1, *cond.Eq)
		}
		if !cond.Holds(n0) {
			return CorrelationCondition{}, true, fmt.Errorf("correlation.condition %s can never hold: a group's count is a whole number of at least 1", cond)
		}
	}
	if c.Type.temporal() {
		all := float64(len(c.Rules))
		if cond.Lt != nil || cond.Lte != nil {
			return CorrelationCondition{}, true, fmt.Errorf("%s with lt or lte is not supported: use gt, gte or eq", t)
		}
		if cond.Eq != nil {
			if *cond.Eq != all {
				return CorrelationCondition{}, true, fmt.Errorf("%s with eq other than the number of rules (%d) is not supported: use gte", t, len(c.Rules))
			}
			// eq all rules: the count cannot exceed it, so gte is the same.
			cond.Eq, cond.Gte = nil, &all
		}
		if lo > all {
			return CorrelationCondition{}, true, fmt.Errorf("correlation.condition %s can never hold: %s refers to %d rules", cond, t, len(c.Rules))
		}
		if c.Type == TemporalOrdered && lo != all && !(cond.Gt != nil && *cond.Gt == all-1) {
			return CorrelationCondition{}, true, fmt.Errorf("temporal_ordered with a condition other than all its rules is not supported")
		}
	}
	return cv, false, nil
}
