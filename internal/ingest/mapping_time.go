package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeLayout is one way a mapping reads times.
type timeLayout struct {
	kind   layoutKind
	layout string // a Go layout, for layoutGo
}

type layoutKind int

const (
	layoutRFC3339 layoutKind = iota // RFC 3339, with an offset
	layoutUnix                      // seconds since 1970, with a fraction
	layoutUnixMS                    // milliseconds since 1970
	layoutGo                        // a Go layout such as 2006/01/02 15:04:05
)

// The names of the layouts that are not Go layouts.
const (
	layoutNameRFC3339 = "rfc3339"
	layoutNameUnix    = "unix"
	layoutNameUnixMS  = "unixms"
)

// defaultLayouts are tried when a mapping names none: RFC 3339, then the
// forms Japanese systems commonly write in local time.
var defaultLayouts = []string{layoutNameRFC3339, "2006-01-02 15:04:05", "2006/1/2 15:04:05",
	"2006-01-02T15:04:05", "20060102150405", "2006年1月2日 15時04分05秒", "2006年1月2日 15:04:05"}

// parseLayout reads one entry of time_layouts, checking that a Go layout
// can write and read back a date and a time.
func parseLayout(s string) (timeLayout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case layoutNameRFC3339:
		return timeLayout{kind: layoutRFC3339}, nil
	case layoutNameUnix:
		return timeLayout{kind: layoutUnix}, nil
	case layoutNameUnixMS:
		return timeLayout{kind: layoutUnixMS}, nil
	}
	if strings.TrimSpace(s) == "" {
		return timeLayout{}, errors.New("an empty layout")
	}
	ref := time.Date(2026, 4, 1, 9, 15, 30, 0, time.UTC)
	back, err := time.Parse(s, ref.Format(s))
	if err != nil || back.Year() != 2026 || back.Month() != 4 || back.Day() != 1 {
		return timeLayout{}, fmt.Errorf("%q is not a Go layout with a year, month and day: write the reference time "+
			"2006-01-02 15:04:05 the way the system writes times, such as \"2006/01/02 15:04:05\" (or use rfc3339, unix, unixms)", s)
	}
	return timeLayout{kind: layoutGo, layout: s}, nil
}

// String returns the layout as written in a mapping file.
func (l timeLayout) String() string {
	switch l.kind {
	case layoutRFC3339:
		return layoutNameRFC3339
	case layoutUnix:
		return layoutNameUnix
	case layoutUnixMS:
		return layoutNameUnixMS
	}
	return l.layout
}

// parseTime reads v with the first of the mapping's layouts that fits;
// times without an offset are in the mapping's zone.
func (m *Mapping) parseTime(v string) (time.Time, error) {
	for _, l := range m.layouts {
		if t, ok := l.parse(v, m.zone); ok {
			return t, nil
		}
	}
	names := make([]string, len(m.layouts))
	for i, l := range m.layouts {
		names[i] = l.String()
	}
	return time.Time{}, fmt.Errorf("time %q fits none of the layouts (%s)", clip(v, 40), strings.Join(names, ", "))
}

func (l timeLayout) parse(v string, zone *time.Location) (time.Time, bool) {
	switch l.kind {
	case layoutRFC3339:
		// RFC 3339 allows a space for the T (section 5.6, note).
		if len(v) > 10 && v[10] == ' ' {
			v = v[:10] + "T" + v[11:]
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		return t, err == nil
	case layoutUnix:
		return parseUnix(v)
	case layoutUnixMS:
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 || ms > maxUnixMS {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	t, err := time.ParseInLocation(l.layout, v, zone)
	return t, err == nil
}

// maxUnixMS is the end of year 9999 in milliseconds since 1970, the last
// time the log stores.
const maxUnixMS = 253402300799999

// parseUnix reads seconds since 1970 with an optional fraction, without
// the rounding of a float.
func parseUnix(v string) (time.Time, bool) {
	whole, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < 0 || sec > maxUnixMS/1000 || len(frac) > 9 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		n, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, false
		}
		nsec = int64(n)
		for i := len(frac); i < 9; i++ {
			nsec *= 10
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}
