package sigma

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

var corrTimespanRe = regexp.MustCompile(`^([0-9]+)([smhd])$`)

// parseCorrTimespan reads a timespan written as a number and a lower-case
// unit: s, m, h or d.
func parseCorrTimespan(s string) (time.Duration, bool) {
	m := corrTimespanRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	if n > int64(math.MaxInt64/unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

var correlationStatuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}

// corrParser carries what every error of one document names.
type corrParser struct {
	doc int
	key string
}

func (p *corrParser) errf(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Doc: p.doc, Line: line, Rule: p.key, Msg: fmt.Sprintf(format, args...)}
}

// str reads a scalar as a string.
func (p *corrParser) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, "%s must be a string", what)
	}
	return n.Value, nil
}

// strs reads a string or a list of strings.
func (p *corrParser) strs(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := p.str(n, what)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "%s must be a string or a list of strings", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := p.str(c, what+" item")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// uniqueStrs reads a non-empty list of distinct, non-empty strings.
func (p *corrParser) uniqueStrs(n *yaml.Node, what string) ([]string, error) {
	out, err := p.strs(n, what)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, p.errf(n, "%s is empty", what)
	}
	keys := make(map[string]bool, len(out))
	for _, s := range out {
		if s == "" {
			return nil, p.errf(n, "%s holds an empty string", what)
		}
		if keys[s] {
			return nil, p.errf(n, "%s lists %s twice", what, s)
		}
		keys[s] = true
	}
	return out, nil
}

// pairs walks a mapping's keys and values, rejecting non-string and
// duplicate keys.
func (p *corrParser) pairs(n *yaml.Node, what string, fn func(k string, kn, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", what)
	}
	keys := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			return p.errf(kn, "%s has a key that is not a string", what)
		}
		if keys[kn.Value] {
			return p.errf(kn, "%s has the key %s twice", what, kn.Value)
		}
		keys[kn.Value] = true
		if err := fn(kn.Value, kn, v); err != nil {
			return err
		}
	}
	return nil
}

// parseCorrelation reads the document doc (from 1) of a file, a
// correlation rule: node is the document's mapping (or the document node
// holding it). Errors are *Error naming the line, the rule's key and the
// construct.
func parseCorrelation(doc int, node *yaml.Node) (*Correlation, error) {
	p := &corrParser{doc: doc}
	if node == nil || node.Kind == 0 {
		return nil, p.errf(nil, "the correlation rule is empty")
	}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil, p.errf(node, "the correlation rule is empty")
		}
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, p.errf(node, "a correlation rule must be a mapping")
	}
	// The key first, so that every error names the rule.
	var names [3]string
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "id":
			names[0] = v.Value
		case "name":
			names[1] = v.Value
		case "title":
			names[2] = v.Value
		}
	}
	for _, n := range names {
		if n != "" {
			p.key = n
			break
		}
	}

	c := &Correlation{}
	var section *yaml.Node
	var generateTop *bool
	err := p.pairs(node, "the correlation rule", func(k string, kn, v *yaml.Node) error {
		var err error
		switch k {
		case "title":
			c.Title, err = p.str(v, k)
		case "id":
			c.ID, err = p.str(v, k)
		case "name":
			c.Name, err = p.str(v, k)
		case "description":
			c.Description, err = p.str(v, k)
		case "author":
			c.Author, err = p.str(v, k)
		case "date":
			c.Date, err = p.str(v, k)
		case "modified":
			c.Modified, err = p.str(v, k)
		case "license":
			c.License, err = p.str(v, k)
		case "status":
			if c.Status, err = p.str(v, k); err == nil && !correlationStatuses[c.Status] {
				err = p.errf(v, "unknown status %q: use stable, test, experimental, deprecated or unsupported", c.Status)
			}
		case "references":
			c.References, err = p.strs(v, k)
		case "tags":
			c.Tags, err = p.strs(v, k)
		case "falsepositives":
			c.FalsePositives, err = p.strs(v, k)
		case "level":
			var s string
			if s, err = p.str(v, k); err == nil {
				if c.Level, err = ParseLevel(s); err != nil {
					err = p.errf(v, "level: %v", err)
				}
			}
		case "generate":
			var b bool
			if b, err = p.boolean(v, k); err == nil {
				generateTop = &b
			}
		case "correlation":
			section = v
		case "detection", "logsource":
			err = p.errf(kn, "a correlation rule has no %s: write the detection in its own rule and refer to it", k)
		default:
			var x any
			if derr := v.Decode(&x); derr != nil {
				return p.errf(v, "%s: %v", k, derr)
			}
			if c.Custom == nil {
				c.Custom = make(map[string]any)
			}
			c.Custom[k] = x
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Title == "" {
		return nil, p.errf(node, "title is missing")
	}
	if section == nil {
		return nil, p.errf(node, "correlation is missing")
	}
	if err := p.section(c, section); err != nil {
		return nil, err
	}
	if generateTop != nil {
		c.Generate = *generateTop
	}
	if b, err := yaml.Marshal(node); err == nil {
		c.Doc = b
	}
	return c, nil
}

func (p *corrParser) boolean(n *yaml.Node, what string) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, p.errf(n, "%s must be true or false", what)
}

// section reads the correlation section into c.
func (p *corrParser) section(c *Correlation, n *yaml.Node) error {
	var typeN, rulesN, timespanN, condN, fieldN *yaml.Node
	err := p.pairs(n, "correlation", func(k string, kn, v *yaml.Node) error {
		var err error
		switch k {
		case "type":
			typeN = v
		case "rules":
			rulesN = v
		case "timespan":
			timespanN = v
		case "condition":
			condN = v
		case "field":
			fieldN = v
		case "group-by":
			c.GroupBy, err = p.uniqueStrs(v, "correlation.group-by")
		case "aliases":
			c.Aliases, err = p.aliases(v)
		case "generate":
			c.Generate, err = p.boolean(v, "correlation.generate")
		default:
			err = p.errf(kn, "unknown correlation attribute %s", k)
		}
		return err
	})
	if err != nil {
		return err
	}
	if typeN == nil {
		return p.errf(n, "correlation.type is missing")
	}
	ts, err := p.str(typeN, "correlation.type")
	if err != nil {
		return err
	}
	switch ts {
	case "value_percentile", "value_median":
		return p.errf(typeN, "correlation type %s is not supported: which percentile it compares is not settled in the specification", ts)
	}
	for t, name := range correlationTypeNames {
		if name == ts {
			c.Type = t
		}
	}
	if c.Type == 0 {
		return p.errf(typeN, "unknown correlation type %s", ts)
	}
	if rulesN == nil {
		return p.errf(n, "correlation.rules is missing")
	}
	if c.Rules, err = p.uniqueStrs(rulesN, "correlation.rules"); err != nil {
		return err
	}
	if timespanN == nil {
		return p.errf(n, "correlation.timespan is missing")
	}
	s, err := p.str(timespanN, "correlation.timespan")
	if err != nil {
		return err
	}
	var ok bool
	if c.Timespan, ok = parseCorrTimespan(s); !ok {
		return p.errf(timespanN, "correlation.timespan: %s is not a duration: use 30s, 5m, 1h or 2d", s)
	}
	if condN != nil {
		if err := p.condition(c, condN, &fieldN); err != nil {
			return err
		}
	}
	if fieldN != nil {
		if c.Field, err = p.field(fieldN); err != nil {
			return err
		}
	}
	cond, aboutCond, err := c.check()
	if err != nil {
		at := n
		if aboutCond && condN != nil {
			at = condN
		}
		return p.errf(at, "%v", err)
	}
	c.Condition = cond
	return nil
}

// field reads correlation.field or condition.field: one field name, or a
// list of one.
func (p *corrParser) field(n *yaml.Node) (string, error) {
	fs, err := p.strs(n, "condition.field")
	if err != nil {
		return "", err
	}
	if len(fs) != 1 || fs[0] == "" {
		return "", p.errf(n, "condition.field must name exactly one field: several fields are not supported")
	}
	return fs[0], nil
}

// condition reads the condition mapping. A field found there is handed
// back in *fieldN.
func (p *corrParser) condition(c *Correlation, n *yaml.Node, fieldN **yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return p.errf(n, "correlation.condition: expressions over rule names are not supported: use a mapping such as gte: 2")
	}
	cond := &c.Condition
	return p.pairs(n, "correlation.condition", func(k string, kn, v *yaml.Node) error {
		var dst **float64
		switch k {
		case "field":
			if *fieldN != nil {
				return p.errf(kn, "field is given both in correlation and in correlation.condition")
			}
			*fieldN = v
			return nil
		case "gt":
			dst = &cond.Gt
		case "gte":
			dst = &cond.Gte
		case "lt":
			dst = &cond.Lt
		case "lte":
			dst = &cond.Lte
		case "eq":
			dst = &cond.Eq
		default:
			return p.errf(kn, "unknown condition %s: use gt, gte, lt, lte or eq", k)
		}
		x, err := p.number(v, "correlation.condition."+k, !c.Type.metric())
		if err != nil {
			return err
		}
		*dst = &x
		return nil
	})
}

// number reads a number; integer requires an integer that is not
// negative, as counts are.
func (p *corrParser) number(n *yaml.Node, what string, integer bool) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, p.errf(n, "%s must be a number", what)
	}
	if integer {
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || i < 0 || i > 1<<53 {
			return 0, p.errf(n, "%s: %s is not a count: use a whole number such as 10", what, n.Value)
		}
		return float64(i), nil
	}
	x, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, p.errf(n, "%s: %s is not a number", what, n.Value)
	}
	return x, nil
}

// aliases reads correlation.aliases: alias → rule → field.
func (p *corrParser) aliases(n *yaml.Node) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string)
	err := p.pairs(n, "correlation.aliases", func(alias string, _, v *yaml.Node) error {
		m := make(map[string]string)
		err := p.pairs(v, "correlation.aliases."+alias, func(rule string, _, f *yaml.Node) error {
			s, err := p.str(f, "correlation.aliases."+alias+"."+rule)
			if err == nil && s == "" {
				err = p.errf(f, "correlation.aliases.%s.%s names no field", alias, rule)
			}
			m[rule] = s
			return err
		})
		out[alias] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
