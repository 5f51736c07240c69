package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/pdf"
)

// `anzen incident report` writes a report to an authority as PDF (or as
// the text to paste into its web form) straight off the database, for
// when the web interface cannot be reached. It is a subcommand of
// `anzen incident`, which attaches it with
// c.AddCommand(newIncidentReportCmd(g)).

func init() { incidentSubcommands = append(incidentSubcommands, newIncidentReportCmd) }

func newIncidentReportCmd(g *globalFlags) *cobra.Command {
	var (
		to, out, lang string
		text, force   bool
	)
	c := &cobra.Command{
		Use:   "report ID --to mhlw|ppc-preliminary|ppc-final|police -o FILE.pdf [--lang ja|en] [--text]",
		Short: "Write an incident's report to an authority as PDF, or as text to paste into its web form",
		Long: "Write the report to MHLW, the Personal Information Protection Commission (preliminary or final) or " +
			"the police about incident ID (its number, or its reference such as INC-2026-0012), with the fields " +
			"the CSIRT saved and, where none is saved, those anzen writes from the incident's record. PDF needs " +
			"Chromium (pdf.chromium); --text writes labelled text instead (to standard output without -o).\n\n" +
			"Exit status 1, with one line saying why, for an unknown incident, a report the incident does not " +
			"require (write it anyway with --force) or no Chromium.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentNumber(args[0])
			if err != nil {
				return err
			}
			recipient := incident.Recipient(to)
			if !recipient.Reported() {
				return fmt.Errorf("--to: %q is not a report anzen writes (mhlw, ppc-preliminary, ppc-final, police)", to)
			}
			if lang != "ja" && lang != "en" {
				return fmt.Errorf("--lang: %q is not ja or en", lang)
			}
			if out == "" && !text {
				return errors.New("-o: name the PDF file to write (or use --text)")
			}
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			inc, err := incident.Get(cmd.Context(), a.DB, incident.Scope{All: true}, id)
			if errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("incident %s not found", args[0])
			} else if err != nil {
				return err
			}
			rep, err := incident.BuildReport(cmd.Context(), a.DB, inc, recipient, incident.ReportInput{T: a.Catalog,
				Names: a.IncidentFacilityNames(), Location: a.Cfg.Location(), Lang: lang, Now: a.Clock.Now()})
			if err != nil {
				return err
			}
			if !rep.Owed && !force {
				return fmt.Errorf("the report to %s is not required for this incident (%s); write it anyway with --force",
					recipient, rep.Ref)
			}
			var body []byte
			if text {
				body = []byte(rep.Text(a.Catalog))
			} else {
				r, err := pdf.Find(a.Cfg.Incident.Chromium)
				if err != nil {
					return fmt.Errorf("%w; or write the text with --text", err)
				}
				html, err := rep.HTML(a.Catalog)
				if err != nil {
					return err
				}
				if body, err = r.Render(cmd.Context(), html); err != nil {
					return fmt.Errorf("render the PDF: %w", err)
				}
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(body)
				return err
			}
			if err := os.WriteFile(out, body, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s, %s, %d bytes)\n", out, rep.Ref, recipient, len(body))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "the recipient: mhlw, ppc-preliminary, ppc-final or police")
	f.StringVarP(&out, "output", "o", "", "the file to write (- for standard output)")
	f.StringVar(&lang, "lang", "ja", "the report's language: ja or en")
	f.BoolVar(&text, "text", false, "write labelled plain text instead of PDF")
	f.BoolVar(&force, "force", false, "write the report even when the incident does not require it")
	_ = c.MarkFlagRequired("to")
	return c
}

// incidentNumber reads an incident's number, or the number of its
// reference (INC-2026-0012).
func incidentNumber(s string) (int64, error) {
	n := s
	if i := strings.LastIndex(s, "-"); i >= 0 && strings.HasPrefix(strings.ToUpper(s), "INC-") {
		n = s[i+1:]
	}
	id, err := strconv.ParseInt(n, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an incident number or reference (such as 12 or INC-2026-0012)", s)
	}
	return id, nil
}
