package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// `anzen audit import` reads the daily files of systems that cannot send
// their logs as they happen: CSV by a mapping file, or NDJSON in the JSON
// wire form. It runs beside a running `anzen serve` on the same data: the
// log's writers take turns.
//
// Exit status: 0 when the file was read (whatever number of rows was
// rejected, as long as one was imported or there were none), 2 when every
// row was rejected, 1 when the file could not be read at all or the log
// could not be written to.

func init() {
	auditSubcommands = append(auditSubcommands, newAuditImportCommand)
}

// maxRejectsShown is how many rejected rows are listed on standard error
// when they do not go to a file.
const maxRejectsShown = 100

// importFlags are the flags of anzen audit import.
type importFlags struct {
	format, mapFile, source, facility, encoding, delimiter, rejects string
	dryRun, printMap                                                bool
}

func newAuditImportCommand(g *globalFlags) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import FILE --format csv|ndjson [--map mapping.toml] [--source NAME] [--facility ID]",
		Short: "Import a file of access events: CSV by a mapping, or NDJSON in the JSON wire form",
		Long: "Import the access log a system exported to FILE (- for standard input). CSV files need a header row; " +
			"their columns are mapped to events by --map (a mapping file, see docs/ingest.md) or by the built-in " +
			"mapping (--print-default-map shows it). NDJSON files hold one event per line in the JSON wire form, or " +
			"any JSON objects with --map. The encoding is UTF-8 (with or without BOM) or Shift_JIS, detected, or " +
			"given with --encoding. Rows that cannot be imported are listed with their line numbers and reasons on " +
			"standard error, or in --rejects FILE; the others are imported. Imported events are marked as such: " +
			"their clocks are not checked. The import is recorded in the audit log. It can run while anzen serve " +
			"runs on the same data.\n\nExit status: 0 when rows were imported (even if some were rejected) or " +
			"the file had none, 2 when every row was rejected, 1 when the file could not be read at all.",
		Args: func(cmd *cobra.Command, args []string) error {
			if f.printMap {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) != 1 {
				return errors.New("give the FILE to import (or - for standard input)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.printMap {
				_, err := cmd.OutOrStdout().Write(ingest.DefaultMappingFile())
				return err
			}
			return runImport(cmd, g, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "csv or ndjson (default: by the file's extension: .csv, .tsv, .ndjson, .jsonl)")
	fl.StringVar(&f.mapFile, "map", "", "mapping file (TOML) from the file's columns or fields to events")
	fl.StringVar(&f.source, "source", "", "the system the file comes from, such as ehr-main: the source of every event")
	fl.StringVar(&f.facility, "facility", "", "the facility (施設) of the events, by id or code (default: the only facility)")
	fl.StringVar(&f.encoding, "encoding", "auto", "character encoding: "+strings.Join(ingest.Encodings, ", "))
	fl.StringVar(&f.delimiter, "delimiter", "", `CSV field separator: one character, or "tab" (default "," or tab for .tsv)`)
	fl.StringVar(&f.rejects, "rejects", "", "write the rejected rows (line and reason) to this file instead of standard error")
	fl.BoolVar(&f.dryRun, "dry-run", false, "read and map every row and report the rejected ones, but import nothing")
	fl.BoolVar(&f.printMap, "print-default-map", false, "print the built-in mapping, a start for a mapping file, and exit")
	return cmd
}

// importOptions checks the flags and returns the options they give.
func (f *importFlags) importOptions(file string) (ingest.ImportOptions, error) {
	var c fieldCheck
	opt := ingest.ImportOptions{Format: f.format, Encoding: f.encoding, Source: f.source}
	ext := strings.ToLower(filepath.Ext(file))
	if opt.Format == "" {
		switch ext {
		case ".csv", ".tsv", ".txt":
			opt.Format = ingest.FormatCSV
		case ".ndjson", ".jsonl", ".json":
			opt.Format = ingest.FormatNDJSON
		}
	}
	switch opt.Format {
	case ingest.FormatCSV, ingest.FormatNDJSON:
	case "":
		c.add("--format", "required: csv or ndjson (the file's extension does not tell)")
	default:
		c.add("--format", "%q is neither csv nor ndjson", opt.Format)
	}
	switch d := f.delimiter; {
	case d == "" && ext == ".tsv", d == "tab", d == `\t`:
		opt.Comma = '\t'
	case d == "":
	case utf8.RuneCountInString(d) != 1 || d == "\"" || d == "\n" || d == "\r":
		c.add("--delimiter", "give one character, such as ; or tab")
	default:
		opt.Comma, _ = utf8.DecodeRuneInString(d)
	}
	if opt.Comma != 0 && opt.Format == ingest.FormatNDJSON {
		c.add("--delimiter", "only for CSV")
	}
	if f.source != "" {
		e := audit.Event{Source: f.source, Action: "import", Time: time.Unix(0, 0)}
		if err := e.Normalize(); err != nil {
			c.add("--source", "%s", strings.TrimPrefix(err.Error(), audit.ErrInvalid.Error()+": "))
		}
	}
	okEnc := false
	for _, e := range ingest.Encodings {
		okEnc = okEnc || strings.EqualFold(strings.ReplaceAll(f.encoding, "-", "_"), strings.ReplaceAll(e, "-", "_"))
	}
	if !okEnc {
		c.add("--encoding", "one of %s", strings.Join(ingest.Encodings, ", "))
	}
	if err := c.err(); err != nil {
		return opt, err
	}
	if f.mapFile != "" {
		m, err := ingest.LoadMapping(f.mapFile)
		if err != nil {
			lines := strings.Split(err.Error(), "\n")
			for i := range lines {
				lines[i] = "--map: " + lines[i]
			}
			return opt, fieldErrors(lines)
		}
		opt.Mapping = m
	}
	return opt, nil
}

func runImport(cmd *cobra.Command, g *globalFlags, f *importFlags, file string) error {
	opt, err := f.importOptions(file)
	if err != nil {
		return err
	}
	in, size, name, err := openImportFile(cmd, file)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	a, err := g.open(ctx, map[string]string{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Bootstrap(ctx, cmd.ErrOrStderr()); err != nil {
		return err
	}
	if opt.Facility, err = a.Facility(ctx, f.facility); err != nil {
		return fmt.Errorf("--facility: %w", err)
	}
	known, err := a.Identity.Facilities(ctx)
	if err != nil {
		return err
	}
	opt.KnownFacility = func(id int64) bool {
		for _, k := range known {
			if k.ID == id {
				return true
			}
		}
		return false
	}
	rej, err := newRejectWriter(cmd.ErrOrStderr(), f.rejects)
	if err != nil {
		return err
	}
	opt.Reject = rej.add
	bar, done := byteProgress(cmd.ErrOrStderr(), size, "import")
	opt.Progress = bar
	var sink ingest.Sink = a.Audit
	if f.dryRun {
		sink = dryRunSink{a.Audit}
	}
	start := time.Now()
	res, importErr := ingest.Import(ctx, sink, in, opt)
	done()
	took := time.Since(start)
	if err := rej.close(); err != nil && importErr == nil {
		importErr = fmt.Errorf("--rejects: %w", err)
	}
	out := cmd.OutOrStdout()
	if f.dryRun {
		fmt.Fprintf(out, "dry run: %d rows of %s would be imported, %d rejected (%s, %s)\n",
			res.Accepted, name, res.Rejected, opt.Format, res.Encoding)
	} else {
		if err := recordImport(ctx, a, name, opt, res, importErr); err != nil {
			importErr = errors.Join(importErr, err)
		}
		first := "-"
		if res.First >= 0 {
			first = strconv.FormatInt(res.First, 10)
		}
		rate := ""
		if took >= time.Second {
			rate = fmt.Sprintf(" (%.0f rows/s)", float64(res.Rows)/took.Seconds())
		}
		fmt.Fprintf(out, "imported %d events from %s (%s, %s), rejected %d rows, first sequence number %s, in %s%s\n",
			res.Accepted, name, opt.Format, res.Encoding, res.Rejected, first, took.Round(time.Millisecond), rate)
	}
	if rej.hidden > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "(%d more rejected rows not shown; give --rejects FILE for all)\n", rej.hidden)
	}
	switch {
	case importErr != nil:
		if res.Accepted > 0 && !f.dryRun {
			return fmt.Errorf("%w (%d events were imported before)", importErr, res.Accepted)
		}
		return importErr
	case res.Rows > 0 && res.Accepted == 0:
		return exitError{code: 2, err: fmt.Errorf("no row of %s was imported: all %d were rejected", name, res.Rejected)}
	}
	return nil
}

// openImportFile opens FILE (- for standard input) and returns its size,
// when known, and its name for messages.
func openImportFile(cmd *cobra.Command, file string) (io.ReadCloser, int64, string, error) {
	if file == "-" {
		return io.NopCloser(cmd.InOrStdin()), -1, "standard input", nil
	}
	in, err := os.Open(file)
	if err != nil {
		return nil, 0, "", err
	}
	st, err := in.Stat()
	if err != nil {
		in.Close()
		return nil, 0, "", err
	}
	if st.IsDir() {
		in.Close()
		return nil, 0, "", fmt.Errorf("%s is a directory", file)
	}
	return in, st.Size(), filepath.Base(file), nil
}

// byteProgress returns a function that moves a progress bar of a file's
// bytes (size -1 when unknown) on w, when w is a terminal, and the
// function that ends it.
func byteProgress(w io.Writer, size int64, what string) (func(int64), func()) {
	if !isTerminal(w) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
	return func(n int64) { _ = bar.Set64(n) }, func() { _ = bar.Finish() }
}

// rejectWriter lists rejected rows: all of them to a file, or the first
// maxRejectsShown to standard error.
type rejectWriter struct {
	w      io.Writer
	f      *os.File
	shown  int
	hidden int
	err    error
}

func newRejectWriter(stderr io.Writer, file string) (*rejectWriter, error) {
	if file == "" {
		return &rejectWriter{w: stderr}, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // rows may name patients
	if err != nil {
		return nil, fmt.Errorf("--rejects: %w", err)
	}
	return &rejectWriter{w: f, f: f}, nil
}

func (r *rejectWriter) add(line int, reason string) {
	if r.f == nil && r.shown >= maxRejectsShown {
		r.hidden++
		return
	}
	r.shown++
	if _, err := fmt.Fprintf(r.w, "line %d: %s\n", line, reason); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *rejectWriter) close() error {
	if r.f != nil {
		if err := r.f.Close(); err != nil && r.err == nil {
			r.err = err
		}
	}
	return r.err
}

// recordImport records the import in the audit log: who imported which
// file, how many rows were taken and refused.
func recordImport(ctx context.Context, a *app.App, name string, opt ingest.ImportOptions, res ingest.ImportResult, importErr error) error {
	ctx = context.WithoutCancel(ctx) // an interrupted import is recorded too
	outcome := selfaudit.Success
	if importErr != nil || (res.Rows > 0 && res.Accepted == 0) {
		outcome = selfaudit.Failure
	}
	mapping := "wire form"
	if opt.Mapping != nil {
		mapping = opt.Mapping.Name()
	} else if opt.Format == ingest.FormatCSV {
		mapping = "default"
	}
	detail := map[string]string{"file": name, "format": opt.Format, "encoding": res.Encoding, "mapping": mapping,
		"rows": strconv.Itoa(res.Rows), "accepted": strconv.Itoa(res.Accepted), "rejected": strconv.Itoa(res.Rejected),
		"first": strconv.FormatInt(res.First, 10)}
	if opt.Source != "" {
		detail["source"] = opt.Source
	}
	if importErr != nil {
		detail["error"] = importErr.Error()
	}
	actor := cliActor()
	if err := a.Audit.Record(ctx, nil, selfaudit.Event{Facility: opt.Facility, ActorLogin: actor.Login,
		Action: "audit.import", Target: "file:" + name, Outcome: outcome, ClientAddr: actor.Client, Detail: detail}); err != nil {
		return fmt.Errorf("record the import: %w", err)
	}
	return a.Audit.Flush(ctx)
}

// dryRunSink prepares events like the log and appends nothing.
type dryRunSink struct{ l *audit.Log }

func (d dryRunSink) Prepare(e *audit.Event) error { return d.l.Prepare(e) }
func (d dryRunSink) Append(context.Context, []audit.Event) (int64, error) {
	return -1, nil
}
