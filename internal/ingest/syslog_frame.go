package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Framing is how syslog messages are delimited on a TCP or TLS stream
// (RFC 6587 section 3.4).
type Framing int

// The framings.
const (
	// FramingAuto decides per connection, by its first byte: a digit
	// starts octet counting, anything else non-transparent framing.
	FramingAuto Framing = iota
	// FramingOctetCounting: "MSG-LEN SP SYSLOG-MSG" (RFC 6587 3.4.1, the
	// only framing of RFC 5425 over TLS).
	FramingOctetCounting
	// FramingNonTransparent: each message ends with LF (CR LF and NUL are
	// accepted too) (RFC 6587 3.4.2).
	FramingNonTransparent
)

// FramingNames are the names of the framings in the configuration.
var FramingNames = []string{"auto", "octet-counting", "non-transparent"}

// ParseFraming reads a framing by its name in FramingNames.
func ParseFraming(s string) (Framing, error) {
	for i, n := range FramingNames {
		if s == n {
			return Framing(i), nil
		}
	}
	return 0, fmt.Errorf("unknown framing %q (one of %s)", s, strings.Join(FramingNames, ", "))
}

// String returns the framing's name in FramingNames.
func (f Framing) String() string {
	if int(f) < len(FramingNames) {
		return FramingNames[f]
	}
	return fmt.Sprintf("framing(%d)", int(f))
}

// Outcomes of reading a frame other than a message.
var (
	// errTooLong: a message longer than the limit was skipped; the stream
	// is still in step and the next message can be read.
	errTooLong = errors.New("the message is longer than the limit")
	// errFraming: the stream is not in the framing (a length that is not
	// a number, say); nothing after it can be read.
	errFraming = errors.New("not syslog framing")
	// errPartial: the connection ended in the middle of a message.
	errPartial = errors.New("the connection closed in the middle of a message")
	// errWouldBlock: no whole message is buffered, and the caller asked
	// not to wait for one.
	errWouldBlock = errors.New("no whole message is buffered")
)

// maxLenDigits is the most digits of an octet count read: up to 999 MB,
// which the reader skips when it is over the limit, to stay in step.
const maxLenDigits = 9

// frameReader reads syslog messages from a stream, one at a time, reading
// ahead no more than one buffer (the limit of a message and a little).
// go-syslog's octetcounting and nontransparent parsers read streams too,
// but hand out parsed messages only; anzen keeps every message exactly as
// received, so it frames the stream itself and parses each frame with
// go-syslog's machines.
type frameReader struct {
	r     io.Reader
	buf   []byte
	start int // the first unread byte
	end   int // the end of the buffered bytes
	scan  int // non-transparent: where the search for the trailer resumes
	mode  Framing
	max   int
	err   error // the stream's error, returned once the buffer is used up

	skip     int  // octet counting: bytes of an overlong message still to skip
	skipLine bool // non-transparent: skipping an overlong message to its trailer
}

// initialFrameBuffer is the buffer a connection starts with; it grows to
// the message limit when a message needs it.
const initialFrameBuffer = 16 << 10

func newFrameReader(r io.Reader, mode Framing, max int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, min(initialFrameBuffer, max+maxLenDigits+2)), mode: mode, max: max}
}

// next returns the next message, a slice of the buffer valid until the
// next call. With wait false it returns errWouldBlock rather than read
// from the stream. Other errors: errTooLong (go on), errPartial (the
// stream's error comes next), errFraming, or the stream's error (io.EOF
// at a clean end).
func (f *frameReader) next(wait bool) ([]byte, error) {
	for {
		switch {
		case f.skip > 0:
			n := min(f.skip, f.end-f.start)
			f.start += n
			f.skip -= n
			if f.skip == 0 {
				return nil, errTooLong
			}
		case f.skipLine:
			if i := indexTrailer(f.buf[f.start:f.end]); i >= 0 {
				f.start += i + 1
				f.scan, f.skipLine = f.start, false
				return nil, errTooLong
			}
			f.start, f.scan = f.end, f.end
		default:
			if f.mode == FramingAuto && f.start < f.end {
				f.mode = FramingNonTransparent
				if c := f.buf[f.start]; '1' <= c && c <= '9' {
					f.mode = FramingOctetCounting
				}
			}
			var msg []byte
			var ok bool
			var err error
			if f.mode == FramingOctetCounting {
				msg, ok, err = f.octetCounted()
			} else {
				msg, ok, err = f.lineEnded()
			}
			if err != nil || ok {
				return msg, err
			}
			if f.skip > 0 || f.skipLine {
				continue
			}
		}
		if f.err != nil {
			if f.start < f.end || f.skip > 0 || f.skipLine {
				f.start, f.end, f.scan, f.skip, f.skipLine = 0, 0, 0, 0, false
				return nil, errPartial
			}
			return nil, f.err
		}
		if !wait {
			return nil, errWouldBlock
		}
		f.fill()
	}
}

// octetCounted returns the message at the start of the buffer when it is
// all there.
func (f *frameReader) octetCounted() ([]byte, bool, error) {
	b := f.buf[f.start:f.end]
	i := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		if i++; i > maxLenDigits {
			return nil, false, fmt.Errorf("%w: an octet count of more than %d digits", errFraming, maxLenDigits)
		}
	}
	if i == len(b) {
		return nil, false, nil
	}
	if i == 0 || b[0] == '0' || b[i] != ' ' {
		return nil, false, fmt.Errorf("%w: expected an octet count and a space, got %q", errFraming, clip(string(b[:min(len(b), i+1)]), 12))
	}
	n := 0
	for _, c := range b[:i] {
		n = n*10 + int(c-'0')
	}
	if n > f.max {
		f.start += i + 1
		f.skip = n
		return nil, false, nil
	}
	if len(b) < i+1+n {
		f.room(i + 1 + n)
		return nil, false, nil
	}
	f.start += i + 1 + n
	return b[i+1 : i+1+n], true, nil
}

// lineEnded returns the message at the start of the buffer when its
// trailer (LF or NUL) has arrived, without the trailer and a CR before it.
// Empty lines are skipped.
func (f *frameReader) lineEnded() ([]byte, bool, error) {
	for {
		from := max(f.scan, f.start)
		i := indexTrailer(f.buf[from:f.end])
		if i < 0 {
			f.scan = f.end
			if f.end-f.start > f.max+1 {
				// No trailer within the limit: skip to the next one.
				f.start, f.scan, f.skipLine = f.end, f.end, true
			}
			return nil, false, nil
		}
		msg := f.buf[f.start : from+i]
		f.start = from + i + 1
		f.scan = f.start
		msg = bytes.TrimSuffix(msg, []byte{'\r'})
		if len(msg) == 0 {
			continue
		}
		if len(msg) > f.max {
			return nil, false, errTooLong
		}
		return msg, true, nil
	}
}

// indexTrailer returns the index of the first LF or NUL in b, or -1.
func indexTrailer(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, 0)
	}
	if j := bytes.IndexByte(b[:i], 0); j >= 0 {
		return j
	}
	return i
}

// room makes the buffer able to hold n bytes from the start of the unread
// ones.
func (f *frameReader) room(n int) {
	if n > len(f.buf) {
		buf := make([]byte, min(max(n, 2*len(f.buf)), f.max+maxLenDigits+2))
		f.end = copy(buf, f.buf[f.start:f.end])
		f.scan -= f.start
		f.start, f.buf = 0, buf
	}
}

// fill reads once from the stream into the buffer, first moving the unread
// bytes to its start when the room after them is short.
func (f *frameReader) fill() {
	if f.start > 0 && (f.start == f.end || len(f.buf)-f.end < len(f.buf)/4) {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.scan = max(f.scan-f.start, 0)
		f.start = 0
	}
	if f.end == len(f.buf) {
		// A message longer than the buffer and not yet whole: room made it
		// as large as the limit allows, so the framing code decides.
		f.room(len(f.buf) + 1)
		if f.end == len(f.buf) {
			f.err = fmt.Errorf("%w: no message ends within the limit", errFraming)
			return
		}
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if err != nil {
		f.err = err
	}
}

// buffered reports whether bytes are waiting in the buffer.
func (f *frameReader) buffered() bool { return f.start < f.end }
