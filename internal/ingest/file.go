package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/audit"
)

// The daily files of systems that cannot send their logs as they happen
// (`anzen audit import`): CSV with a header row, mapped like syslog
// records, or NDJSON, one event per line in the JSON wire form (or mapped
// too). Every row is mapped and prepared by itself, so that a bad row is
// reported with its line number and reason and the others are imported;
// the good ones are appended in batches of thousands. Imported events are
// flagged FlagImported: they happened long before anzen received them, so
// their clocks are not checked.

// File formats of Import.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// DefaultImportBatch is how many events one append of Import carries.
const DefaultImportBatch = 5000

// ImportOptions say how Import reads a file.
type ImportOptions struct {
	Format string // FormatCSV or FormatNDJSON
	// Mapping maps the rows; nil is DefaultMapping for CSV and the JSON
	// wire form (DecodeWire) for NDJSON.
	Mapping *Mapping
	// Source, when set, is the source of every event, whatever the rows
	// say.
	Source string
	// Facility is the facility of the events; an NDJSON line in the wire
	// form may name another, which KnownFacility must accept.
	Facility      int64
	KnownFacility func(id int64) bool
	// Encoding is the file's character encoding, one of Encodings; empty
	// or "auto" detects UTF-8 (with or without BOM) or Shift_JIS.
	Encoding string
	// Comma separates CSV fields; 0 is ','.
	Comma rune
	// Batch is the number of events per append; 0 is DefaultImportBatch.
	Batch int
	// Progress, when set, is told how many bytes of the file have been
	// read, now and then.
	Progress func(read int64)
	// Reject, when set, is told each row that is not imported: its line
	// in the file and why.
	Reject func(line int, reason string)
}

// ImportResult is what Import did.
type ImportResult struct {
	Rows     int    // rows read (CSV rows after the header, NDJSON lines that are not empty)
	Accepted int    // events appended to the log
	Rejected int    // rows not imported, each told to Reject
	First    int64  // the sequence number of the first event appended; -1 when none
	Encoding string // the encoding the file was read in
}

// Import reads a file of access events and appends them to sink. It
// returns an error only when the file cannot be read at all (its encoding
// unknown, a CSV file without a header), when reading it fails midway, or
// when the log cannot be written to; the result then says what was
// appended before.
func Import(ctx context.Context, sink Sink, r io.Reader, opt ImportOptions) (ImportResult, error) {
	res := ImportResult{First: -1}
	if opt.Batch <= 0 {
		opt.Batch = DefaultImportBatch
	}
	if opt.Reject == nil {
		opt.Reject = func(int, string) {}
	}
	counted := &countingReader{r: r, progress: opt.Progress}
	text, enc, err := decodeText(counted, opt.Encoding)
	if err != nil {
		return res, err
	}
	res.Encoding = enc.name
	im := &importer{ctx: ctx, sink: sink, opt: opt, res: &res, enc: enc}
	if opt.Mapping != nil && opt.Source != "" {
		im.opt.Mapping = opt.Mapping.SetSource(opt.Source)
	}
	switch opt.Format {
	case FormatCSV:
		if im.opt.Mapping == nil {
			im.opt.Mapping = DefaultMapping()
			if opt.Source != "" {
				im.opt.Mapping = im.opt.Mapping.SetSource(opt.Source)
			}
		}
		err = im.csv(text)
	case FormatNDJSON:
		err = im.ndjson(text)
	default:
		return res, fmt.Errorf("unknown format %q (csv or ndjson)", opt.Format)
	}
	if err == nil {
		err = im.flush()
	}
	if werr := im.wait(); err == nil {
		err = werr
	}
	if opt.Progress != nil {
		opt.Progress(counted.n)
	}
	return res, err
}

// importer is one run of Import. One batch is appended while the next is
// read and mapped.
type importer struct {
	ctx      context.Context
	sink     Sink
	opt      ImportOptions
	res      *ImportResult
	enc      encoding
	batch    []audit.Event
	inflight chan appended // the batch being appended, or nil
}

// appended is the outcome of appending a batch.
type appended struct {
	first int64
	n     int
	err   error
}

// add prepares the event of the row at line and appends the batch when it
// is full.
func (im *importer) add(line int, e audit.Event, err error) error {
	im.res.Rows++
	if err == nil {
		e.Flags |= audit.FlagImported
		if e.Facility == 0 {
			e.Facility = im.opt.Facility
		}
		if e.Time.IsZero() {
			err = errors.New("no time: an imported event needs the time it happened")
		} else {
			err = im.sink.Prepare(&e)
		}
	}
	if err != nil {
		im.res.Rejected++
		im.opt.Reject(line, err.Error())
		return nil
	}
	im.batch = append(im.batch, e)
	if len(im.batch) >= im.opt.Batch {
		return im.flush()
	}
	return nil
}

// flush starts appending the batch, once the one before is appended.
func (im *importer) flush() error {
	if err := im.wait(); err != nil {
		return err
	}
	if len(im.batch) == 0 {
		return im.ctx.Err()
	}
	batch := im.batch
	im.batch = make([]audit.Event, 0, len(batch))
	im.inflight = make(chan appended, 1)
	go func(done chan<- appended) {
		first, err := im.sink.Append(im.ctx, batch)
		done <- appended{first, len(batch), err}
	}(im.inflight)
	return nil
}

// wait waits for the batch being appended and counts it.
func (im *importer) wait() error {
	if im.inflight == nil {
		return nil
	}
	a := <-im.inflight
	im.inflight = nil
	if a.err != nil {
		return a.err
	}
	if im.res.First < 0 {
		im.res.First = a.first
	}
	im.res.Accepted += a.n
	return nil
}

// textProblem says what is wrong with the characters of a row, or "".
func (im *importer) textProblem(s string) string {
	if im.enc.utf8 {
		if !utf8.ValidString(s) {
			return "not valid UTF-8 (is the file in Shift_JIS? give --encoding shift_jis)"
		}
		return ""
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return "bytes that are not " + im.enc.name + " (give the file's --encoding)"
	}
	return ""
}

// ndjson imports one event per line.
func (im *importer) ndjson(text io.Reader) error {
	br := bufio.NewReaderSize(text, 64<<10)
	line := 0
	var long bool
	var buf []byte
	var rec Record
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 && !long {
			buf = append(buf, chunk...)
			if len(buf) > audit.MaxOriginal+2 {
				long, buf = true, buf[:0]
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", line+1, err)
		}
		if len(chunk) > 0 || len(buf) > 0 || long {
			line++
			if e := im.ndjsonLine(line, bytes.TrimRight(buf, "\r\n"), long, &rec); e != nil {
				return e
			}
		}
		buf, long = buf[:0], false
		if err == io.EOF {
			return nil
		}
		if line%1024 == 0 {
			if err := im.ctx.Err(); err != nil {
				return err
			}
		}
	}
}

func (im *importer) ndjsonLine(line int, b []byte, long bool, rec *Record) error {
	if line == 1 {
		b = trimBOM(b)
	}
	switch {
	case long:
		return im.add(line, audit.Event{}, fmt.Errorf("the line is longer than %d bytes", audit.MaxOriginal))
	case len(bytes.TrimSpace(b)) == 0:
		return nil
	}
	if p := im.textProblem(string(b)); p != "" {
		return im.add(line, audit.Event{}, errors.New(p))
	}
	orig := bytes.Clone(b)
	if im.opt.Mapping == nil {
		e, facility, err := DecodeWire(orig)
		if err == nil && facility != nil {
			switch {
			case *facility <= 0 || (im.opt.KnownFacility != nil && !im.opt.KnownFacility(*facility)):
				err = fmt.Errorf("%w: facility %d does not exist", ErrWire, *facility)
			default:
				e.Facility = *facility
			}
		}
		if im.opt.Source != "" {
			e.Source = im.opt.Source
		}
		return im.add(line, e, err)
	}
	rec.Reset()
	if err := rec.AddJSON(orig); err != nil {
		return im.add(line, audit.Event{}, err)
	}
	e := audit.Event{Seq: -1, Format: audit.FormatJSON, Original: orig}
	err := im.opt.Mapping.Map(rec, &e)
	return im.add(line, e, err)
}

// countingReader counts the bytes read through it and reports them.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}
