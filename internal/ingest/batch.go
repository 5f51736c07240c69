package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/anzen-health/anzen/internal/audit"
)

// BatchFormat is how records follow one another in a body or a file.
type BatchFormat int

// The batch formats.
const (
	// NDJSON is one JSON object per line (application/x-ndjson); empty
	// lines are skipped, a line's number is its place in the body.
	NDJSON BatchFormat = iota
	// JSONArray is a JSON array of objects (application/json), or one
	// object alone; an element's number is its place in the array.
	JSONArray
)

// ErrNotJSON is returned by Records.Next for a JSONArray body that is
// neither an array nor an object: nothing in it can be read.
var ErrNotJSON = errors.New("the body is not a JSON array or object")

// Records reads the records of a batch one at a time without holding more
// than one record (at most audit.MaxOriginal bytes, plus a buffer).
type Records struct {
	format BatchFormat
	br     *bufio.Reader
	dec    *json.Decoder
	line   int   // the number of the last record returned
	state  int   // JSONArray: arrayStart, ...
	done   bool  // nothing more to read
	err    error // the error every later call returns
}

// bufSize holds the longest line NDJSON takes, with its line end.
const bufSize = audit.MaxOriginal + 2

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}

// NewRecords reads the records of r in format f. Close gives its buffer
// back.
func NewRecords(r io.Reader, f BatchFormat) *Records {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return &Records{format: f, br: br}
}

// Close gives the buffer back; the Records may not be used after.
func (rs *Records) Close() {
	if rs.br != nil {
		rs.br.Reset(nil)
		readers.Put(rs.br)
		rs.br = nil
	}
}

// Next returns the next record and its number (from 1). The record is
// valid until the next call. A record that is not one by itself (too long,
// not UTF-8, broken JSON in an array) comes with a *RecordError and the
// reader goes on with the next, except after broken JSON in an array,
// where nothing after can be read and the next call gives io.EOF. At the
// end Next returns io.EOF; when the body cannot be read (a read error,
// the body limit, ErrNotJSON) another error, again at every later call.
func (rs *Records) Next() (record []byte, n int, err error) {
	if rs.err != nil {
		return nil, rs.line, rs.err
	}
	if rs.done {
		return nil, rs.line, io.EOF
	}
	if rs.format == NDJSON {
		return rs.nextLine()
	}
	return rs.nextElement()
}

// fail makes err the answer of every later call.
func (rs *Records) fail(err error) ([]byte, int, error) {
	rs.err = err
	return nil, rs.line, err
}

var bom = []byte("\xef\xbb\xbf")

// nextLine reads NDJSON.
func (rs *Records) nextLine() ([]byte, int, error) {
	for {
		line, err := rs.br.ReadSlice('\n')
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				rs.done = true
			}
			return rs.end(err)
		}
		rs.line++
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any record the log keeps: skip to the line's end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = rs.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return rs.fail(err)
			}
			rs.done = err == io.EOF
			return nil, rs.line, tooLong()
		}
		if err != nil && err != io.EOF {
			return rs.fail(err)
		}
		rs.done = err == io.EOF
		if rs.line == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if rs.done {
				return nil, rs.line, io.EOF
			}
			continue
		}
		if e := checkRecord(line); e != nil {
			return nil, rs.line, e
		}
		return line, rs.line, nil
	}
}

// end answers the end of the body or a read error.
func (rs *Records) end(err error) ([]byte, int, error) {
	if err == io.EOF {
		return nil, rs.line, io.EOF
	}
	return rs.fail(err)
}

// States of a JSONArray reader.
const (
	arrayStart    = iota // nothing read yet
	arrayElements        // inside the array
	arrayAlone           // the body is one object, not yet read
	arrayEnd             // after the array or the object: only white space may follow
)

// nextElement reads a JSON array, or one object alone.
func (rs *Records) nextElement() ([]byte, int, error) {
	switch rs.state {
	case arrayStart:
		first, err := rs.peekStart()
		if err != nil {
			return rs.fail(err)
		}
		rs.dec = json.NewDecoder(rs.br)
		switch first {
		case '[':
			if _, err := rs.dec.Token(); err != nil {
				return rs.fail(bodyError(err))
			}
			rs.state = arrayElements
		case '{':
			rs.state = arrayAlone
		default:
			return rs.fail(ErrNotJSON)
		}
		return rs.nextElement()
	case arrayAlone:
		rs.state = arrayEnd
		return rs.element()
	case arrayEnd:
		return rs.trailing()
	}
	if !rs.dec.More() {
		rs.state = arrayEnd
		if _, err := rs.dec.Token(); err != nil { // the closing bracket
			rs.line++
			return rs.broken(err)
		}
		return rs.trailing()
	}
	return rs.element()
}

// peekStart skips white space and a byte order mark and returns the first
// byte of the body.
func (rs *Records) peekStart() (byte, error) {
	if b, err := rs.br.Peek(3); err == nil && bytes.Equal(b, bom) {
		_, _ = rs.br.Discard(3)
	}
	for {
		b, err := rs.br.ReadByte()
		if err == io.EOF {
			return 0, ErrNotJSON
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, rs.br.UnreadByte()
	}
}

// element reads the next element of the array, or the lone object.
func (rs *Records) element() ([]byte, int, error) {
	rs.line++
	var raw json.RawMessage
	if err := rs.dec.Decode(&raw); err != nil {
		return rs.broken(err)
	}
	if e := checkRecord(raw); e != nil {
		return nil, rs.line, e
	}
	return raw, rs.line, nil
}

// broken answers JSON that cannot be read on: the element where it broke
// is refused and nothing after it is read, unless the body itself could
// not be read.
func (rs *Records) broken(err error) ([]byte, int, error) {
	if isReadError(err) {
		return rs.fail(bodyError(err))
	}
	rs.done = true
	e := jsonError(err, "")
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		e = reject(RejectInvalidJSON, "", "the body ends in the middle of the JSON",
			map[string]any{"Detail": "unexpected end of the body"})
	}
	e.English += "; nothing after it was read"
	e.Args["Rest"] = true
	return nil, rs.line, e
}

// trailing checks that only white space follows the array or object.
func (rs *Records) trailing() ([]byte, int, error) {
	rs.done = true
	_, err := rs.dec.Token()
	switch {
	case err == io.EOF:
		return nil, rs.line, io.EOF
	case err != nil && isReadError(err):
		return rs.fail(bodyError(err))
	}
	rs.line++
	return nil, rs.line, reject(RejectInvalidJSON, "", "data after the end of the JSON",
		map[string]any{"Detail": "data after the end of the JSON"})
}

// isReadError reports whether err, from encoding/json's Decoder, came from
// reading the body (the body limit, a broken connection) rather than from
// the JSON in it: the Decoder passes read errors through unchanged.
func isReadError(err error) bool {
	var se *json.SyntaxError
	return err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &se)
}

// bodyError wraps a read error of the body.
func bodyError(err error) error {
	if !isReadError(err) {
		return fmt.Errorf("%w (%v)", ErrNotJSON, err)
	}
	return fmt.Errorf("read the body: %w", err)
}
