package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/compliance"
)

// `anzen compliance status` prints where a facility stands against the
// guideline: the overall and per-chapter coverage, the readiness of the
// items edition 5.1 revised, the checks that fail, and the week's to-do
// list — or the whole State as JSON (--json) for scripts. It reads the
// database directly, beside a running anzen, and changes nothing.
//
// Other files add commands to `anzen compliance` (export) through
// complianceSubcommands:
//
//	func init() { complianceSubcommands = append(complianceSubcommands, newComplianceExportCommand) }

func init() {
	extraCommands = append(extraCommands, newComplianceCommand)
	openComplianceReports = openCompliance
}

// openCompliance opens anzen and returns its compliance part, for the
// exports, and what closes it.
func openCompliance(ctx context.Context, _ *cobra.Command, g *globalFlags) (compliance.ReportSource, func(), error) {
	a, err := g.open(ctx, map[string]string{})
	if err != nil {
		return nil, nil, err
	}
	svc, err := complianceOf(a)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return svc, func() { a.Close() }, nil
}

// complianceSubcommands are the commands of `anzen compliance` defined in
// other files.
var complianceSubcommands []func(g *globalFlags) *cobra.Command

// complianceOf reaches the compliance part of an opened anzen, which
// internal/app builds with every part's checks.
var complianceOf = func(a *app.App) (*compliance.Service, error) {
	if a.Compliance == nil {
		return nil, errors.New("this anzen has no compliance part")
	}
	return a.Compliance, nil
}

func newComplianceCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "compliance", Short: "Guideline compliance: where a facility stands, and its exports"}
	c.AddCommand(newComplianceStatusCommand(g))
	for _, add := range complianceSubcommands {
		c.AddCommand(add(g))
	}
	return c
}

func newComplianceStatusCommand(g *globalFlags) *cobra.Command {
	var (
		facility, lang string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the facility's coverage per chapter, the revised items, failing checks and what needs attention",
		Long: "Print the facility's compliance with the guideline as of now, from the checks' latest runs, the evidence " +
			"and the checklist's answers: the overall and per-chapter coverage, the readiness of the items edition 5.1 " +
			"revised, the checks that fail, and the week's to-do list. --json prints the whole state instead.\n\n" +
			"Exit status: 0 when printed; 1 when a flag is not valid or the database cannot be read.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lang != "ja" && lang != "en" {
				return fmt.Errorf("--lang: %q is neither ja nor en", lang)
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			f, err := a.Facility(ctx, facility)
			if err != nil {
				return fmt.Errorf("--facility: %w", err)
			}
			svc, err := complianceOf(a)
			if err != nil {
				return err
			}
			return printComplianceStatus(ctx, cmd.OutOrStdout(), svc, f, lang, a.Catalog, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&facility, "facility", "", "facility id or code (needed when there are several)")
	fl.StringVar(&lang, "lang", "ja", "language of the titles and details: ja or en")
	fl.BoolVar(&asJSON, "json", false, "print the whole state as JSON")
	return cmd
}

// printComplianceStatus writes the facility's state from svc.
func printComplianceStatus(ctx context.Context, w io.Writer, svc *compliance.Service, facility int64, lang string,
	t compliance.Translator, asJSON bool) error {
	st, err := svc.State(ctx, facility)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return writeComplianceStatus(w, st, svc, lang, t, svc.Config().Location)
}

// writeComplianceStatus writes a state as text: a table per section.
func writeComplianceStatus(w io.Writer, st *compliance.State, svc *compliance.Service, lang string, t compliance.Translator,
	loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	pct := func(c compliance.Coverage) string {
		return fmt.Sprintf("%d%%\t%d/%d\t%s %d\t%s %d\t%s %d", c.Percent, c.Counts[compliance.Ready],
			c.Total-c.Counts[compliance.Excluded], label(lang, compliance.Attention), c.Counts[compliance.Attention],
			label(lang, compliance.NotReady), c.Counts[compliance.NotReady], label(lang, compliance.NotAssessed),
			c.Counts[compliance.NotAssessed])
	}
	fmt.Fprintf(tw, "%s (%d)\t%s\t%s\n", st.FacilityName.In(lang), st.Facility, st.Framework, st.At.In(loc).Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(tw, "\n%s\t%s\n", heading(lang, "overall"), pct(st.Overall))
	fmt.Fprintf(tw, "\n%s\n", heading(lang, "chapters"))
	for _, c := range st.Chapters {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.Ref, c.Title.In(lang), pct(c))
	}
	fmt.Fprintf(tw, "\n%s\n", heading(lang, "revised"))
	for _, r := range st.Revised {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Item.Ref, r.Item.Title.In(lang), label(lang, r.Readiness))
	}
	if len(st.Revised) == 0 {
		fmt.Fprintf(tw, "  —\n")
	}
	fmt.Fprintf(tw, "\n%s\n", heading(lang, "failing"))
	failing := 0
	for _, c := range st.Controls {
		for _, r := range c.Checks {
			if r.Status != "fail" && r.Error == "" {
				continue
			}
			failing++
			title, detail := r.CheckID, r.Error
			if chk, ok := svc.Check(r.CheckID); ok && t != nil {
				title = t.T(lang, chk.TitleID, nil)
			}
			if detail == "" && t != nil && r.DetailID != "" {
				detail = t.T(lang, r.DetailID, r.Data)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.CheckID, title, c.Control.ID, complianceLine(detail))
		}
	}
	if failing == 0 {
		fmt.Fprintf(tw, "  —\n")
	}
	fmt.Fprintf(tw, "\n%s\n", heading(lang, "todo"))
	for _, a := range st.Attention {
		due := ""
		if !a.Due.IsZero() {
			due = a.Due.In(loc).Format("2006-01-02")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", label(lang, a.Level), a.Kind, a.Ref, a.Title.In(lang), due, a.Link)
	}
	if len(st.Attention) == 0 {
		fmt.Fprintf(tw, "  —\n")
	}
	return tw.Flush()
}

func complianceLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// The command's own words (it prints for operators at a terminal, where
// the pages' catalog may not be loaded in full).
var complianceWords = map[string][2]string{
	"overall":              {"全体", "Overall"},
	"chapters":             {"章ごとの対応率", "Coverage per chapter"},
	"revised":              {"5.1 版の改定項目", "Items revised in 5.1"},
	"failing":              {"不合格のチェック", "Failing checks"},
	"todo":                 {"今週の対応事項", "Needs attention this week"},
	compliance.Ready:       {"対応済み", "ready"},
	compliance.Attention:   {"要注意", "attention"},
	compliance.NotReady:    {"未対応", "not ready"},
	compliance.NotAssessed: {"未評価", "not assessed"},
	compliance.Excluded:    {"対象外", "not applicable"},
}

func heading(lang, k string) string { return label(lang, k) }

func label(lang, k string) string {
	w, ok := complianceWords[k]
	if !ok {
		return k
	}
	if lang == "en" {
		return w[1]
	}
	return w[0]
}
