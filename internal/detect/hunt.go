package detect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// A Hunt applies rules to the events of a JSON Lines file, the way
// Hayabusa and Chainsaw hunt through exported event logs: offline, with no
// database, one line per match. Correlation rules run on the events'
// own times.
type Hunt struct {
	index  *sigma.Index
	alone  map[*sigma.Rule]bool // whether a rule's own matches are reported
	corr   *sigma.Correlator
	fields *sigma.FieldMap
	// The time of the latest event, and the longest correlation window.
	last    time.Time
	longest time.Duration
	matched []*sigma.Rule // reused for each event
	lines   *sigma.LineParser
	tables  *Snapshot // the reference tables events are enriched with; nil: none
}

// HuntMatch is one match, written as one JSON line.
type HuntMatch struct {
	Line   int64  `json:"line"`    // the line of the event (for a correlation, of the last one)
	RuleID string `json:"rule_id"` // the rule's id, else its name or title
	Title  string `json:"title"`
	Level  string `json:"level"`
	// For correlation rules: the type, the group's values, the count (of
	// events, or of distinct values) and the lines of the events.
	Correlation string            `json:"correlation,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Count       float64           `json:"count,omitempty"`
	Lines       []int64           `json:"lines,omitempty"`
}

// HuntStats counts what a hunt read.
type HuntStats struct {
	Events   int64 // lines holding a JSON object
	Matches  int64
	BadLines int64 // lines that are not a JSON object
	Untimed  int64 // events without a time, which correlation rules skip
}

// NewHunt prepares the rules of the loaded files. fields maps Sigma's
// field names to the events' (nil: the names as they are); when it has
// logsources, a rule runs only on the events its logsource selects.
func NewHunt(files RuleFiles, fields *sigma.FieldMap) (*Hunt, error) {
	rules := files.Rules()
	corr, err := sigma.NewCorrelator(rules, files.Correlations())
	if err != nil {
		return nil, err
	}
	h := &Hunt{index: sigma.NewIndex(rules), corr: corr, fields: fields, alone: make(map[*sigma.Rule]bool, len(rules)),
		lines: sigma.NewLineParser(fields)}
	for _, r := range rules {
		h.alone[r] = corr.Generates(r)
	}
	for _, c := range files.Correlations() {
		h.longest = max(h.longest, c.Timespan)
	}
	return h, nil
}

// maxEventLine is the longest line read as one event.
const maxEventLine = 16 << 20

// Run reads events from r, one JSON object a line, and calls emit for
// every match in the order found. A line that is not a JSON object is
// passed to bad and skipped. progress, when not nil, is called with the
// bytes read so far. The error is from reading, from emit, or from ctx.
func (h *Hunt) Run(ctx context.Context, r io.Reader, emit func(HuntMatch) error,
	bad func(line int64, err error), progress func(int64)) (HuntStats, error) {
	var st HuntStats
	br := bufio.NewReaderSize(r, 1<<20)
	var read int64
	for line := int64(1); ; line++ {
		raw, err := readLine(br)
		read += int64(len(raw))
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := h.event(line, raw, &st, emit, bad); err != nil {
				return st, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if progress != nil {
				progress(read)
			}
		}
	}
	// The file has ended: every window closes as if time went on
	// without events, deciding the conditions taken at window end.
	for _, m := range h.corr.Advance(h.last.Add(h.longest + time.Second)) {
		if err := h.emitCorrelation(m, &st, emit); err != nil {
			return st, err
		}
	}
	if progress != nil {
		progress(read)
	}
	return st, nil
}

// readLine returns the next line, with its newline; one longer than
// maxEventLine is an error.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	long := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		if len(long) > maxEventLine {
			return nil, fmt.Errorf("a line is longer than %d MiB", maxEventLine>>20)
		}
		line, err = br.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

func (h *Hunt) event(line int64, raw []byte, st *HuntStats, emit func(HuntMatch) error, bad func(int64, error)) error {
	e, err := h.lines.Parse(raw)
	if err != nil {
		st.BadLines++
		if bad != nil {
			if !errors.Is(err, sigma.ErrNotObject) {
				err = fmt.Errorf("not JSON: %w", err)
			}
			bad(line, err)
		}
		return nil
	}
	st.Events++
	var at time.Time
	timed := false
	if h.tables != nil {
		// The tables' fields depend on the time (a retirement, a window).
		var ok bool
		if at, ok = eventTime(e); !ok {
			st.Untimed++
		}
		timed = true
		e = h.tables.enrich(e, at)
	}
	h.matched = h.index.Match(e, h.matched[:0])
	for _, r := range h.matched {
		if h.fields != nil && !h.fields.Applies(r, e) {
			continue
		}
		if h.alone[r] {
			st.Matches++
			if err := emit(HuntMatch{Line: line, RuleID: r.Key(), Title: r.Title, Level: r.Level.String()}); err != nil {
				return err
			}
		}
		if !timed {
			var ok bool
			if at, ok = eventTime(e); !ok {
				st.Untimed++
				at = time.Time{}
			}
			timed = true
		}
		if at.IsZero() {
			continue
		}
		if at.After(h.last) {
			h.last = at
		}
		for _, m := range h.corr.Observe(r, e, at, line) {
			if err := h.emitCorrelation(m, st, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// timeFields are where an event's time is looked for, in this order (after
// the field map): anzen's events, common JSON logs, Windows event logs.
var timeFields = []string{"time", "@timestamp", "timestamp", "TimeCreated", "SystemTime", "UtcTime", "EventTime"}

// eventTime reads an event's time: RFC 3339, "2006-01-02 15:04:05" (UTC,
// as Sysmon writes UtcTime) or Unix seconds.
func eventTime(e sigma.Event) (time.Time, bool) {
	for _, f := range timeFields {
		v, ok := e.Field(f)
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
				if t, err := time.Parse(layout, v); err == nil {
					return t, true
				}
			}
			if s, err := strconv.ParseFloat(v, 64); err == nil {
				return unixTime(s), true
			}
		case float64:
			return unixTime(v), true
		case json.Number:
			if s, err := v.Float64(); err == nil {
				return unixTime(s), true
			}
		}
	}
	return time.Time{}, false
}

func unixTime(s float64) time.Time {
	return time.Unix(0, int64(s*1e9)).UTC()
}

func (h *Hunt) emitCorrelation(m sigma.Match, st *HuntStats, emit func(HuntMatch) error) error {
	if !h.corr.GeneratesCorrelation(m.Correlation) {
		return nil
	}
	c := m.Correlation
	hm := HuntMatch{RuleID: c.Key(), Title: c.Title, Level: c.Level.String(), Correlation: c.Type.String(),
		Count: m.Value, Lines: m.Refs}
	if len(m.Refs) > 0 {
		hm.Line = slices.Max(m.Refs)
	}
	if len(m.Group) > 0 {
		hm.Group = make(map[string]string, len(m.Group))
		for _, g := range m.Group {
			hm.Group[g.Field] = g.Value
		}
	}
	st.Matches++
	return emit(hm)
}
