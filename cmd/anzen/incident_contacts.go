package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/platform/pdf"
)

// `anzen incident contacts -o FILE.pdf` prints the contact diagram
// (連絡体制図) of a facility on one A4 page, straight from the database,
// with no server running: it is what is printed and pinned up for when
// every system is down, and it must be printable when the web pages are
// not.

func newIncidentContactsCommand(g *globalFlags) *cobra.Command {
	var out, facility, lang string
	cmd := &cobra.Command{
		Use:   "contacts -o FILE.pdf",
		Short: "Print a facility's contact diagram (連絡体制図) as a one-page PDF",
		Long: "Write the contact diagram of the facility — whoever notices, the point of contact and IT, the CSIRT's " +
			"commander, the CISO and the security manager, with the vendors, the authorities and the insurer, each with " +
			"their phone numbers — to FILE as a PDF of one A4 page, read straight from the database (no anzen needs to be " +
			"running). It needs Chromium (pdf.chromium, or chromium on PATH).\n\n" +
			"Exit status: 0 when written; 1 with a one-line reason otherwise (no Chromium, no such facility, ...).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("-o: name the PDF file to write")
			}
			if lang != "ja" && lang != "en" {
				return fmt.Errorf("--lang %q: ja or en", lang)
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			id, err := a.Facility(ctx, facility)
			if err != nil {
				return fmt.Errorf("--facility: %w", err)
			}
			doc, err := a.ContactsPDF(ctx, id, lang)
			if errors.Is(err, pdf.ErrNoChromium) {
				return errors.New("no Chromium to print with: install chromium or set pdf.chromium (ANZEN_PDF_CHROMIUM)")
			}
			if err != nil {
				return fmt.Errorf("print the contact diagram: %w", err)
			}
			if err := os.WriteFile(out, doc, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the contact diagram of facility %d to %s (%d bytes)\n", id, out, len(doc))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the PDF file to write")
	cmd.Flags().StringVar(&facility, "facility", "", "facility id or code (needed when there are several)")
	cmd.Flags().StringVar(&lang, "lang", "ja", "language of the diagram: ja or en")
	return cmd
}

func init() { incidentSubcommands = append(incidentSubcommands, newIncidentContactsCommand) }
