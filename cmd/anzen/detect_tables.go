package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/ingest"
)

// `anzen detect tables` loads, lists and exports the hospital's reference
// tables (staff roster, patient attributes, flagged patients, care teams,
// vendors' maintenance windows) that the detection rules use, as the page
// /detect/tables does, for files too large for a browser upload.

func newDetectTablesCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "tables", Short: "The reference tables the detection rules use: import, list, export"}
	c.AddCommand(newTablesImportCommand(g), newTablesListCommand(g), newTablesExportCommand(g))
	return c
}

func newTablesImportCommand(g *globalFlags) *cobra.Command {
	var facility, encoding string
	cmd := &cobra.Command{
		Use:   "import KIND FILE",
		Short: "Replace a facility's reference table of KIND with a CSV file",
		Long: "Read FILE (- for standard input), a CSV file with a header row, and replace the facility's whole table " +
			"of KIND (" + strings.Join(detect.TableKinds, ", ") + ") with it. The encoding is UTF-8 (with or without " +
			"BOM) or Shift_JIS, detected, or given with --encoding. The whole file is checked first: a bad line " +
			"refuses it, naming the line and column, and nothing stored changes. The load is recorded in the audit " +
			"log (kind and rows, never the content); a running anzen uses the new table within seconds.\n\n" +
			"Columns: staff user_id, name, family_name, address, department, patient_id, end_date, expiry_date, " +
			"vendor, vendor_company; patients patient_id, family_name, address, department; flagged list, " +
			"patient_id, note; care_team patient_id, user_id, department, from, to; maintenance vendor, start, end, " +
			"weekdays, start_time, end_time. Japanese column names are read too (docs/detect.md).\n\n" +
			"Exit status: 0 when loaded; 1 when the file is refused or cannot be read.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTablesImport(cmd, g, args[0], args[1], facility, encoding)
		},
	}
	cmd.Flags().StringVar(&facility, "facility", "", "facility id or code (needed when there are several)")
	cmd.Flags().StringVar(&encoding, "encoding", "auto", "character encoding: "+strings.Join(ingest.Encodings, ", "))
	return cmd
}

// openTablesApp opens anzen for a tables command and resolves --facility.
func openTablesApp(ctx context.Context, cmd *cobra.Command, g *globalFlags, facility string) (*app.App, int64, error) {
	a, err := g.open(ctx, map[string]string{})
	if err != nil {
		return nil, 0, err
	}
	if err := a.Bootstrap(ctx, cmd.ErrOrStderr()); err != nil {
		a.Close()
		return nil, 0, err
	}
	fac, err := a.Facility(ctx, facility)
	if err != nil {
		a.Close()
		return nil, 0, fmt.Errorf("--facility: %w", err)
	}
	return a, fac, nil
}

func runTablesImport(cmd *cobra.Command, g *globalFlags, kind, file, facility, encoding string) error {
	if !detect.ValidTableKind(kind) {
		return fmt.Errorf("%w %q: one of %s", detect.ErrTableKind, kind, strings.Join(detect.TableKinds, ", "))
	}
	in, size, name, err := openImportFile(cmd, file)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	a, fac, err := openTablesApp(ctx, cmd, g, facility)
	if err != nil {
		return err
	}
	defer a.Close()
	bar, done := byteProgress(cmd.ErrOrStderr(), size, "read")
	r := io.Reader(in)
	if bar != nil {
		r = &progressReader{r: in, report: bar}
	}
	actor := cliActor()
	start := time.Now()
	info, err := a.Tables.Load(ctx, a.Audit, fac, kind, r, encoding, detect.Loader{Login: actor.Login, Client: actor.Client}, a.Clock.Now())
	done()
	var te *detect.TableError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: %s", name, tableErrorText(a, te))
	}
	if err != nil {
		return err
	}
	if err := a.Audit.Flush(ctx); err != nil {
		return fmt.Errorf("record the load: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "loaded %d rows of %s into the %s table of facility %d in %s\n",
		info.Rows, name, kind, fac, time.Since(start).Round(time.Millisecond))
	return nil
}

// tableErrorText is a refused file's reason in English, on one line.
func tableErrorText(a *app.App, te *detect.TableError) string {
	data := map[string]any{"Line": te.Line, "Column": te.Column, "Max": 512, "MaxRows": 1_000_000}
	reason := a.Catalog.T("en", te.MsgID, data)
	if te.Err != nil && te.Line > 0 {
		reason = strings.TrimSuffix(reason, ".") + " (" + te.Err.Error() + ")."
	}
	data["Reason"] = reason
	switch {
	case te.Line == 0:
		return reason
	case te.Column == "":
		return a.Catalog.T("en", "detect.tables.error.at_line", data)
	}
	return a.Catalog.T("en", "detect.tables.error.at_column", data)
}

// progressReader reports the bytes read so far.
type progressReader struct {
	r      io.Reader
	n      atomic.Int64
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.report(p.n.Add(int64(n)))
	return n, err
}

func newTablesListCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the reference tables loaded, by facility: rows, when and by whom",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.open(ctx, map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			infos, err := detect.TableInfos(ctx, a.DB, true, nil)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "FACILITY\tTABLE\tROWS\tLOADED\tBY")
			for _, i := range infos {
				fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", i.Facility, i.Kind, i.Rows, i.Loaded.Format(time.RFC3339), i.LoadedBy)
			}
			return w.Flush()
		},
	}
}

func newTablesExportCommand(g *globalFlags) *cobra.Command {
	var facility, output string
	cmd := &cobra.Command{
		Use:   "export KIND",
		Short: "Write a facility's reference table of KIND as CSV (UTF-8, header row), the form import reads",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !detect.ValidTableKind(args[0]) {
				return fmt.Errorf("%w %q: one of %s", detect.ErrTableKind, args[0], strings.Join(detect.TableKinds, ", "))
			}
			ctx := cmd.Context()
			a, fac, err := openTablesApp(ctx, cmd, g, facility)
			if err != nil {
				return err
			}
			defer a.Close()
			actor := cliActor()
			tb, err := detect.ExportTable(ctx, a.DB, a.Audit, fac, args[0], detect.Loader{Login: actor.Login, Client: actor.Client}, a.Clock.Now())
			if err != nil {
				return fmt.Errorf("the %s table of facility %d: %w", args[0], fac, err)
			}
			out := cmd.OutOrStdout()
			if output != "" {
				f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // personal data
				if err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				defer f.Close()
				if err := tb.WriteCSV(f); err != nil {
					return err
				}
				return f.Close()
			}
			return tb.WriteCSV(out)
		},
	}
	cmd.Flags().StringVar(&facility, "facility", "", "facility id or code (needed when there are several)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}
