package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/pdf"
)

// `anzen compliance export` writes a compliance report or export of a
// facility straight off the database — the OSCAL catalog or assessment
// results, the checklist in the form's layout, the inspection pack or the
// management report as Excel or PDF — for scripts and for when the web
// interface cannot be reached. Each export is recorded in the audit log
// as the CLI user ("cli:<OS user>" at "local"), with the file's SHA-256,
// as a download from the reports page is.

func init() { complianceSubcommands = append(complianceSubcommands, newComplianceExportCmd) }

// openComplianceReports opens anzen and returns its compliance part as a
// report source and what closes it.
var openComplianceReports func(ctx context.Context, cmd *cobra.Command, g *globalFlags) (compliance.ReportSource, func(), error)

// complianceExportDoc is the document of a --format and --report.
func complianceExportDoc(format, report string) (string, error) {
	switch format {
	case "oscal-catalog":
		return compliance.ReportOSCALCatalog, nil
	case "oscal-results":
		return compliance.ReportOSCALResults, nil
	case "xlsx":
		switch report {
		case "", "checklist":
			return compliance.ReportChecklistXLSX, nil
		case "inspection":
			return compliance.ReportInspectionXLSX, nil
		case "management":
			return compliance.ReportManagementXLSX, nil
		}
	case "pdf":
		switch report {
		case "", "inspection":
			return compliance.ReportInspectionPDF, nil
		case "management":
			return compliance.ReportManagementPDF, nil
		case "checklist":
			return compliance.ReportChecklistPDF, nil
		}
	default:
		return "", fmt.Errorf("--format: %q is not oscal-catalog, oscal-results, xlsx or pdf", format)
	}
	return "", fmt.Errorf("--report: %q is not inspection, management or checklist", report)
}

func newComplianceExportCmd(g *globalFlags) *cobra.Command {
	var (
		format, out, report, lang, chromium string
		facilityRef, framework              string
	)
	c := &cobra.Command{
		Use:   "export --format oscal-catalog|oscal-results|xlsx|pdf [-o FILE] [--facility ID|CODE] [--report inspection|management|checklist] [--framework ID] [--lang ja|en]",
		Short: "Write a compliance report or export: OSCAL, the checklist as Excel, the inspection pack or the management report",
		Long: "Write a document from a facility's compliance state now (every figure from a check run, a dated " +
			"attestation or a checklist answer):\n" +
			"  --format oscal-catalog   the guideline as an OSCAL 1.0.6 catalog (JSON)\n" +
			"  --format oscal-results   the facility's OSCAL 1.0.6 assessment results (JSON)\n" +
			"  --format xlsx            the checklist in the MHLW form's layout (--report checklist, the default),\n" +
			"                           or the inspection pack or management report as a workbook\n" +
			"  --format pdf             the inspection pack (--report inspection, the default) or the management\n" +
			"                           report as PDF; needs Chromium (progress is shown on standard error)\n" +
			"The document goes to standard output without -o. Each export is recorded in the audit log.\n\n" +
			"Exit status 1, with one line saying why, for a bad --format, --report or --lang, an unknown facility " +
			"or no Chromium for a PDF.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := complianceExportDoc(format, report)
			if err != nil {
				return err
			}
			if lang != "ja" && lang != "en" {
				return fmt.Errorf("--lang: %q is not ja or en", lang)
			}
			isPDF := doc == compliance.ReportInspectionPDF || doc == compliance.ReportManagementPDF ||
				doc == compliance.ReportChecklistPDF
			ctx := cmd.Context()
			src, closeSrc, err := openComplianceReports(ctx, cmd, g)
			if err != nil {
				return err
			}
			defer closeSrc()
			cfg := src.Config()
			facility, err := complianceFacility(ctx, cfg, facilityRef)
			if err != nil {
				return fmt.Errorf("--facility: %w", err)
			}
			req := compliance.ReportRequest{Facility: facility, Doc: doc, Lang: lang, Framework: framework}
			if isPDF {
				if cfg.PDF == nil {
					r, err := pdf.Find(chromium)
					if err != nil {
						return err
					}
					req.PDF = r
				}
				req.Progress = func(step string) { fmt.Fprintf(cmd.ErrOrStderr(), "anzen: %s…\n", step) }
			}
			file, err := compliance.MakeReport(ctx, src, req)
			if err != nil {
				return fmt.Errorf("compliance export %s of facility %d: %w", doc, facility, err)
			}
			if err := compliance.RecordReport(ctx, cfg, compliance.Actor{Login: "cli:" + osUser(), Client: "local"},
				facility, doc, lang, file); err != nil {
				return fmt.Errorf("record the export in the audit log: %w", err)
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(file.Body)
				return err
			}
			if err := os.WriteFile(out, file.Body, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s, facility %d, %d bytes, SHA-256 %s)\n", out, doc, facility,
				len(file.Body), file.SHA256)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&format, "format", "", "oscal-catalog, oscal-results, xlsx or pdf")
	f.StringVarP(&out, "output", "o", "", "the file to write (standard output when empty or -)")
	f.StringVar(&facilityRef, "facility", "", "facility id or code (needed when there are several)")
	f.StringVar(&framework, "framework", "", "the checklist edition of --format xlsx (such as mhlw-checklist-r6; default: the newest), "+
		"or the catalog of --format oscal-catalog (default: the guideline)")
	f.StringVar(&report, "report", "", "with xlsx or pdf: inspection, management or checklist (xlsx only)")
	f.StringVar(&lang, "lang", "ja", "the document's language: ja or en")
	f.StringVar(&chromium, "chromium", "", "the Chromium to render PDFs with when anzen has none configured (default: chromium on PATH)")
	_ = c.MarkFlagRequired("format")
	return c
}

// complianceFacility is the facility ref names by id or code, or the only
// one when ref is empty; an unknown facility is db.ErrNotFound.
func complianceFacility(ctx context.Context, cfg compliance.Config, ref string) (int64, error) {
	if cfg.Facilities == nil {
		return 0, errors.New("anzen lists no facilities")
	}
	fs, err := cfg.Facilities(ctx)
	if err != nil {
		return 0, err
	}
	ref = strings.TrimSpace(ref)
	var names []string
	for _, f := range fs {
		if ref != "" && (f.Code == ref || strconv.FormatInt(f.ID, 10) == ref) {
			return f.ID, nil
		}
		names = append(names, fmt.Sprintf("%d (%s)", f.ID, f.Code))
	}
	switch {
	case ref != "":
		return 0, fmt.Errorf("no facility has the id or code %q; the facilities are %s: %w", ref,
			strings.Join(names, ", "), db.ErrNotFound)
	case len(fs) == 1:
		return fs[0].ID, nil
	case len(fs) == 0:
		return 0, errors.New("anzen has no facility yet; start it once (anzen serve) to make the first")
	}
	return 0, fmt.Errorf("this anzen has %d facilities; name one by id or code: %s", len(fs), strings.Join(names, ", "))
}
