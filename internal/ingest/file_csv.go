package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/anzen-health/anzen/internal/audit"
)

// csv imports the rows of a CSV file by its header row. The original of
// each event is the header and the row, re-encoded as CSV in UTF-8, so
// that it can be read without the file.
func (im *importer) csv(text io.Reader) error {
	cr := csv.NewReader(text)
	cr.FieldsPerRecord = -1 // a row of the wrong length is rejected by itself
	cr.LazyQuotes = true    // exports often quote sloppily
	cr.ReuseRecord = false
	if im.opt.Comma != 0 {
		cr.Comma = im.opt.Comma
	}
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("the file is empty: a CSV file needs a header row naming its columns")
	}
	if err != nil {
		return fmt.Errorf("the header row: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if p := im.textProblem(strings.Join(header, ",")); p != "" {
		return fmt.Errorf("the header row: %s", p)
	}
	if len(header) < 2 {
		return fmt.Errorf("the header row has %d column (%q): is the file CSV with commas? (give --delimiter for another separator)",
			len(header), strings.Join(header, ""))
	}
	h := NewHeader(header)
	var headerCSV bytes.Buffer
	w := csv.NewWriter(&headerCSV)
	w.Comma = cr.Comma
	_ = w.Write(header)
	w.Flush()
	var rowCSV bytes.Buffer
	rw := csv.NewWriter(&rowCSV)
	rw.Comma = cr.Comma
	var rec Record
	for n := 0; ; n++ {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read the file: %w", err)
			}
			if err := im.add(pe.StartLine, audit.Event{}, pe.Err); err != nil {
				return err
			}
			continue
		}
		if n%1024 == 0 {
			if err := im.ctx.Err(); err != nil {
				return err
			}
		}
		line, _ := cr.FieldPos(0)
		if err := im.csvRow(line, h, header, row, &rec, &headerCSV, &rowCSV, rw); err != nil {
			return err
		}
	}
}

func (im *importer) csvRow(line int, h *Header, header, row []string, rec *Record, headerCSV, rowCSV *bytes.Buffer, rw *csv.Writer) error {
	if len(row) > len(header) {
		extra := true
		for _, v := range row[len(header):] {
			if strings.TrimSpace(v) != "" {
				extra = false
				break
			}
		}
		if !extra {
			return im.add(line, audit.Event{}, fmt.Errorf("the row has %d fields, the header %d", len(row), len(header)))
		}
		row = row[:len(header)]
	}
	if len(row) < len(header) {
		return im.add(line, audit.Event{}, fmt.Errorf("the row has %d fields, the header %d", len(row), len(header)))
	}
	for _, v := range row {
		if p := im.textProblem(v); p != "" {
			return im.add(line, audit.Event{}, errors.New(p))
		}
	}
	rowCSV.Reset()
	rowCSV.Write(headerCSV.Bytes())
	_ = rw.Write(row)
	rw.Flush()
	h.Row(rec, row)
	e := audit.Event{Seq: -1, Format: audit.FormatCSV, Original: bytes.Clone(rowCSV.Bytes())}
	err := im.opt.Mapping.Map(rec, &e)
	return im.add(line, e, err)
}
