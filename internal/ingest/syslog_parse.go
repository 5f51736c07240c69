package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/common"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/anzen-health/anzen/internal/audit"
)

// What a syslog message becomes. The record of a message holds, in this
// order (the first of two equal keys wins):
//
//   - the parameters of its structured data (RFC 5424), each as
//     "SD-ID.name" and as "name": [access@32473 user="u0123"] gives
//     access@32473.user and user;
//   - its payload: the fields of a JSON object ({"actor": {"id": ...}} gives
//     actor.id), or else its key=value pairs;
//   - the header: syslog.hostname, syslog.appname, syslog.procid,
//     syslog.msgid, syslog.facility and syslog.severity (keywords such as
//     local0 and info), and syslog.message, the free text.
//
// The header's timestamp is the event's time unless the mapping finds one
// in the record; the source is the mapping's, else APP-NAME, else the
// host.

// Keys of a syslog message's header in its record.
const (
	keyHostname = "syslog.hostname"
	keyAppname  = "syslog.appname"
	keyProcID   = "syslog.procid"
	keyMsgID    = "syslog.msgid"
	keyFacility = "syslog.facility"
	keySeverity = "syslog.severity"
	keyMessage  = "syslog.message"
)

// msgParser turns syslog messages into events. It is used by one goroutine
// at a time: go-syslog's machines are not safe for concurrent use.
type msgParser struct {
	m5424    syslog.Machine
	m3164    syslog.Machine
	mapping  *Mapping
	facility int64
	now      func() time.Time
	rec      Record
	sdIDs    []string // scratch
	names    []string // scratch
}

func newMsgParser(m *Mapping, facility int64, now func() time.Time) *msgParser {
	return &msgParser{
		m5424: rfc5424.NewMachine(),
		// No year or zone: stampTime places a timestamp without them.
		m3164:    rfc3164.NewMachine(rfc3164.WithRFC3339(), rfc3164.WithLenientDay(), rfc3164.WithEmbeddedNewlines()),
		mapping:  m,
		facility: facility,
		now:      now,
	}
}

// errNotSyslog is returned (wrapped) for a message that is not syslog.
var errNotSyslog = errors.New("not a syslog message")

// parse maps one message, kept as orig (which the event keeps: the caller
// gives it a copy of its own), to an event, not yet prepared.
func (p *msgParser) parse(orig []byte) (audit.Event, error) {
	msg := bytes.TrimRight(orig, "\r\n\x00")
	e := audit.Event{Seq: -1, Facility: p.facility, Original: orig}
	p.rec.Reset()
	var hdr *syslog.Base
	switch version(msg) {
	case 0:
		return e, fmt.Errorf("%w: it does not begin with <PRI>, such as <134>", errNotSyslog)
	case 1:
		m, err := p.m5424.Parse(msg)
		if err != nil || m == nil {
			return e, fmt.Errorf("%w: RFC 5424: %v", errNotSyslog, reason(err))
		}
		sm := m.(*rfc5424.SyslogMessage)
		hdr = &sm.Base
		e.Format = audit.FormatSyslog5424
		if sm.StructuredData != nil {
			p.addSD(*sm.StructuredData)
		}
		if hdr.Timestamp != nil {
			e.Time = *hdr.Timestamp
		}
	default:
		m, err := p.m3164.Parse(msg)
		if err != nil || m == nil {
			return e, fmt.Errorf("%w: RFC 3164: %v", errNotSyslog, reason(err))
		}
		hdr = &m.(*rfc3164.SyslogMessage).Base
		e.Format = audit.FormatSyslog3164
		if hdr.Hostname != nil && strings.ContainsRune(*hdr.Hostname, '=') {
			// No host name was sent, and the parser took the first
			// key=value pair for one.
			text := *hdr.Hostname
			if hdr.Message != nil {
				text += " " + *hdr.Message
			}
			hdr.Hostname, hdr.Message = nil, &text
		}
		if hdr.Timestamp != nil {
			if e.Time = stampTime(*hdr.Timestamp, p.now(), p.mapping.Zone()); e.Time.IsZero() {
				return e, fmt.Errorf("%w: RFC 3164: %s is no date in this year or the ones beside it",
					errNotSyslog, hdr.Timestamp.Format("Jan _2"))
			}
		}
	}
	if hdr.Message != nil {
		payload := strings.TrimPrefix(*hdr.Message, "\uFEFF")
		if t := strings.TrimSpace(payload); strings.HasPrefix(t, "{") {
			if err := p.rec.AddJSON([]byte(t)); err != nil {
				return e, fmt.Errorf("%w: the message's JSON payload: %v", ErrMapping, err)
			}
		} else {
			p.rec.AddKeyValues(payload)
		}
	}
	p.addHeader(hdr)
	if err := p.mapping.Map(&p.rec, &e); err != nil {
		return e, err
	}
	if e.Source == "" {
		e.Source = firstSet(hdr.Appname, hdr.Hostname)
	}
	if e.Time.IsZero() {
		e.Flags |= audit.FlagNoSourceTime
	}
	return e, nil
}

// version returns 0 for a message without <PRI>, 1 for RFC 5424 (<PRI>1
// and a space) and 2 for anything else after <PRI>, taken as RFC 3164.
func version(msg []byte) int {
	if len(msg) < 3 || msg[0] != '<' {
		return 0
	}
	i := 1
	for i < len(msg) && i <= 4 && '0' <= msg[i] && msg[i] <= '9' {
		i++
	}
	if i == 1 || i >= len(msg) || msg[i] != '>' {
		return 0
	}
	if rest := msg[i+1:]; len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return 1
	}
	return 2
}

// reason says what go-syslog found wrong.
func reason(err error) string {
	if err == nil {
		return "no message"
	}
	return clip(err.Error(), 200)
}

// addSD adds the structured data's parameters, by SD-ID in order. The
// names with their SD-ID are added only for SD-IDs the mapping names: no
// one else reads the record.
func (p *msgParser) addSD(sd map[string]map[string]string) {
	p.sdIDs = p.sdIDs[:0]
	for id := range sd {
		p.sdIDs = append(p.sdIDs, id)
	}
	slices.Sort(p.sdIDs)
	for _, id := range p.sdIDs {
		params := sd[id]
		p.names = p.names[:0]
		for n := range params {
			p.names = append(p.names, n)
		}
		slices.Sort(p.names)
		qualified := p.mapping.scopes[asciiLower(id)]
		for _, n := range p.names {
			if qualified {
				p.rec.Add(id+"."+n, params[n])
			}
			p.rec.Add(n, params[n])
		}
	}
}

// addHeader adds the header's fields after those of the message.
func (p *msgParser) addHeader(h *syslog.Base) {
	for _, kv := range [...]struct {
		k string
		v *string
	}{{keyHostname, h.Hostname}, {keyAppname, h.Appname}, {keyProcID, h.ProcID}, {keyMsgID, h.MsgID},
		{keyMessage, h.Message}} {
		if kv.v != nil && *kv.v != "" && *kv.v != "-" {
			p.rec.Add(kv.k, *kv.v)
		}
	}
	if h.Facility != nil {
		p.rec.Add(keyFacility, common.FacilityKeywords[*h.Facility])
	}
	if h.Severity != nil {
		p.rec.Add(keySeverity, common.SeverityLevelsShort[*h.Severity])
	}
}

// firstSet returns the first of vs that is set and not "-".
func firstSet(vs ...*string) string {
	for _, v := range vs {
		if v != nil && *v != "" && *v != "-" {
			return *v
		}
	}
	return ""
}

// stampTime places an RFC 3164 timestamp, which has neither year nor zone
// ("Apr  1 09:15:02"), in zone and in the year that puts it nearest to now:
// a message of 31 December that arrives on 1 January is of last year, one
// of 1 January that arrives on 31 December (a sender's clock a little
// ahead) of next year. A timestamp with a year (RFC 3339, which rsyslog can
// send) is kept. It returns the zero time for a day that none of those
// years has (29 February).
func stampTime(t, now time.Time, zone *time.Location) time.Time {
	if t.Year() != 0 {
		return t
	}
	y := now.In(zone).Year()
	var best time.Time
	var bestDist time.Duration
	for _, year := range [...]int{y - 1, y, y + 1} {
		c := time.Date(year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone)
		if c.Month() != t.Month() {
			continue // 29 February in a year without it
		}
		d := c.Sub(now)
		if d < 0 {
			d = -d
		}
		if best.IsZero() || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
