package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// `anzen incident` runs incidents from the shell, for scripts and for when
// the web interface cannot be reached: create prints the new incident's
// id, list and show read them (show --json with each reporting duty, its
// recipient and deadline). The commands work on the database directly,
// beside a running anzen, and record each change in the audit log as the
// CLI user ("cli:<OS user>" at "local").
//
// The incident part's other rooms add their commands (contacts, report)
// to incidentSubcommands from their own files:
//
//	func init() { incidentSubcommands = append(incidentSubcommands, newIncidentReportCmd) }

func init() { extraCommands = append(extraCommands, newIncidentCommand) }

// incidentSubcommands are the commands of `anzen incident` defined in
// other files.
var incidentSubcommands []func(g *globalFlags) *cobra.Command

func newIncidentCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Incidents (CSIRT): open, list and show them, with their reporting duties"}
	c.AddCommand(newIncidentCreateCommand(g), newIncidentListCommand(g), newIncidentShowCommand(g))
	for _, add := range incidentSubcommands {
		c.AddCommand(add(g))
	}
	return c
}

// openIncidentApp opens anzen for an incident command.
func openIncidentApp(ctx context.Context, cmd *cobra.Command, g *globalFlags) (*app.App, error) {
	a, err := g.open(ctx, map[string]string{})
	if err != nil {
		return nil, err
	}
	if err := a.Bootstrap(ctx, cmd.ErrOrStderr()); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// incidentError says in one line, in English, what is wrong with a flag.
func incidentError(a *app.App, err error) error {
	var ie *incident.Error
	if errors.As(err, &ie) {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(ie.Field, "_", "-"), a.Catalog.T("en", ie.MsgID, nil))
	}
	return err
}

type incidentCreateFlags struct {
	kind, title, awareAt, facility, severity, leak, summary, commander string
	people                                                             int64
	medical, cyber, crime, malicious, care, encrypted                  bool
}

func newIncidentCreateCommand(g *globalFlags) *cobra.Command {
	var f incidentCreateFlags
	cmd := &cobra.Command{
		Use:   "create --kind KIND --title TITLE",
		Short: "Open an incident and print its id",
		Long: "Open an incident in state new, with the tasks of its kind's playbook, and print its id on the first line " +
			"of standard output (its reference, such as INC-2026-0012, goes to standard error). The reporting duties' clocks " +
			"start at --aware-at (RFC 3339; default now).\n\nKinds: " + joinKinds() + ".\n\n" +
			"Exit status: 0 when opened; 1 when a flag is not valid (one line says which and why).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIncidentCreate(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "", "kind of incident (required)")
	fl.StringVar(&f.title, "title", "", "title (required)")
	fl.StringVar(&f.awareAt, "aware-at", "", "when the hospital became aware, RFC 3339 (default now)")
	fl.StringVar(&f.facility, "facility", "", "facility id or code (needed when there are several)")
	fl.StringVar(&f.severity, "severity", "medium", "low, medium, high or critical")
	fl.StringVar(&f.leak, "leak", "none", "leak of personal data: none, possible or confirmed")
	fl.StringVar(&f.summary, "summary", "", "summary")
	fl.StringVar(&f.commander, "commander", "", "login of who leads the response")
	fl.Int64Var(&f.people, "people", 0, "estimated number of people whose data is affected")
	fl.BoolVar(&f.medical, "medical-data", false, "medical (special care-required) personal data is involved")
	fl.BoolVar(&f.cyber, "cyberattack", false, "a cyberattack is suspected")
	fl.BoolVar(&f.crime, "crime", false, "a crime is suspected")
	fl.BoolVar(&f.malicious, "malicious", false, "caused with malicious intent")
	fl.BoolVar(&f.care, "care-impact", false, "the delivery of care is or may be impaired")
	fl.BoolVar(&f.encrypted, "encrypted", false, "the data was under advanced encryption")
	return cmd
}

func joinKinds() string {
	s := make([]string, len(incident.Kinds))
	for i, k := range incident.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func runIncidentCreate(cmd *cobra.Command, g *globalFlags, f incidentCreateFlags) error {
	if strings.TrimSpace(f.kind) == "" {
		return errors.New("--kind: required (" + joinKinds() + ")")
	}
	if strings.TrimSpace(f.title) == "" {
		return errors.New("--title: required")
	}
	n := incident.NewIncident{Kind: incident.Kind(f.kind), Title: f.title, Severity: incident.Severity(f.severity),
		Leak: incident.Leak(f.leak), Summary: f.summary, Commander: f.commander, People: f.people, MedicalData: f.medical,
		Cyberattack: f.cyber, Crime: f.crime, Malicious: f.malicious, CareImpact: f.care, Encrypted: f.encrypted}
	if f.awareAt != "" {
		t, err := time.Parse(time.RFC3339, f.awareAt)
		if err != nil {
			return fmt.Errorf("--aware-at: %q is not an RFC 3339 time such as 2026-04-01T08:30:00+09:00", f.awareAt)
		}
		n.AwareAt = t
	}
	ctx := cmd.Context()
	a, err := openIncidentApp(ctx, cmd, g)
	if err != nil {
		return err
	}
	defer a.Close()
	if n.Facility, err = a.Facility(ctx, f.facility); err != nil {
		return fmt.Errorf("--facility: %w", err)
	}
	actor := cliActor()
	i, err := incident.Create(ctx, a.DB, a.Audit, incident.Scope{All: true},
		incident.Actor{Login: actor.Login, Client: actor.Client, Lang: a.Cfg.Lang}, n, a.Clock.Now())
	if err != nil {
		return incidentError(a, err)
	}
	if err := a.Audit.Flush(ctx); err != nil {
		return fmt.Errorf("record the incident: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), i.ID)
	fmt.Fprintln(cmd.ErrOrStderr(), i.Ref())
	return nil
}

func newIncidentListCommand(g *globalFlags) *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the open incidents (--all: also the closed ones), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := openIncidentApp(ctx, cmd, g)
			if err != nil {
				return err
			}
			defer a.Close()
			list, err := incident.List(ctx, a.DB, incident.ListQuery{Scope: incident.Scope{All: true}, Open: !all, Limit: 1000})
			if err != nil {
				return err
			}
			if asJSON {
				out := incident.IncidentsJSON{Incidents: []incident.IncidentJSON{}}
				for _, i := range list {
					out.Incidents = append(out.Incidents, incident.ToJSON(i))
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tREF\tSTATE\tSEVERITY\tKIND\tAWARE\tTITLE")
			for _, i := range list {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.Ref(), i.State, i.Severity, i.Kind,
					i.AwareAt.In(a.Cfg.Location()).Format(time.RFC3339), i.Title)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also closed incidents")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (as the API's GET /api/v1/incident/incidents)")
	return cmd
}

func newIncidentShowCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident and what must be reported, to whom and by when",
		Long: "Show the incident ID (its number or its reference, INC-2026-0012) with its reporting duties: each " +
			"recipient, whether the report is required, its deadline and whether the deadline is set by law (statutory) " +
			"or anzen's target. --json prints it as the API does.\n\nExit status: 0 when shown; 1 when there is no such incident.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := openIncidentApp(ctx, cmd, g)
			if err != nil {
				return err
			}
			defer a.Close()
			i, err := incident.Get(ctx, a.DB, incident.Scope{All: true}, id)
			if errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("no incident %s", args[0])
			} else if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), incident.ToJSON(i))
			}
			loc := a.Cfg.Location()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "%s\t%s\n", i.Ref(), i.Title)
			fmt.Fprintf(w, "state\t%s\nkind\t%s\nseverity\t%s\naware at\t%s\ncommander\t%s\npeople\t%d\nmedical data\t%v\nleak\t%s\n",
				i.State, i.Kind, i.Severity, i.AwareAt.In(loc).Format(time.RFC3339), i.Commander, i.People, i.MedicalData, i.Leak)
			for _, d := range incident.Duties(i) {
				kind := "target"
				if d.Statutory {
					kind = "statutory"
				}
				req := "required"
				if !d.Required {
					req = "as needed"
				}
				fmt.Fprintf(w, "report to %s\t%s by %s (%s)\n", d.To, req, d.Due.In(loc).Format(time.RFC3339), kind)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, with each reporting duty's recipient and deadline")
	return cmd
}

// parseIncidentID reads an incident's number or reference (INC-2026-0012).
func parseIncidentID(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToUpper(t), "INC-") {
		if k := strings.LastIndexByte(t, '-'); k > 3 {
			t = t[k+1:]
		}
	}
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("ID: %q is not an incident's number or reference (such as 12 or INC-2026-0012)", s)
	}
	return id, nil
}
