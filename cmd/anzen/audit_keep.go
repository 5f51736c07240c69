package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/audit"
)

// The keeping of the audit log from the shell: `anzen audit archive` runs
// retention now (the daily job does the same), `anzen audit witnesses`
// shows where checkpoints go and how the deliveries went, and sends the
// latest one at once with --send.

func init() {
	auditSubcommands = append(auditSubcommands, newAuditArchiveCommand, newAuditWitnessesCommand)
}

func newAuditArchiveCommand(g *globalFlags) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "archive [--dry-run]",
		Short: "Archive the events past retention into signed segment files now",
		Long: "Move the events received before the retention period (audit.retention_years) out of the database, " +
			"65,536 at a time, into signed segment files in the archive directory (audit.archive_dir): each file " +
			"is written, synced, read back and checked against the stored tree and the latest signed checkpoint " +
			"before its events are deleted. A segment waits while any of its events is within retention, while a " +
			"reader of the log has not read it, or while no signed checkpoint covers it. anzen serve does this " +
			"daily; the archiving is recorded in the log. --dry-run lists what would be archived. A progress bar " +
			"is drawn on standard error when it is a terminal.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			progress, done := archiveProgress(cmd.ErrOrStderr())
			res, err := a.ArchiveAudit(cmd.Context(), audit.ArchiveOptions{DryRun: dryRun, Progress: progress, Via: "cli",
				Actor: cliActor().Login, Client: cliActor().Client})
			done()
			if err != nil {
				return err
			}
			printArchive(cmd.OutOrStdout(), res, a.Cfg.Location())
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list the segments that would be archived and change nothing")
	return cmd
}

// archiveProgress returns a progress function that draws a bar on w when
// w is a terminal, and the function that ends it.
func archiveProgress(w io.Writer) (func(done, total int64), func()) {
	if !isTerminal(w) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
			if bar == nil {
				bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("archive"),
					progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set64(done)
		}, func() {
			if bar != nil {
				_ = bar.Finish()
			}
		}
}

func printArchive(w io.Writer, res *audit.ArchiveResult, loc *time.Location) {
	cutoff := res.Cutoff.In(loc).Format(time.RFC3339)
	switch {
	case len(res.Segments) == 0:
		fmt.Fprintf(w, "nothing to archive: no whole segment of %d events was received before %s\n", res.SegmentSize, cutoff)
	case res.DryRun:
		fmt.Fprintf(w, "would archive %s (%d events received before %s) to %s:\n", segments(len(res.Segments)), res.Events, cutoff, res.Dir)
	default:
		fmt.Fprintf(w, "archived %s (%d events received before %s) to %s:\n", segments(len(res.Segments)), res.Events, cutoff, res.Dir)
	}
	for _, s := range res.Segments {
		fmt.Fprintf(w, "  positions %d to %d, newest received %s", s.First, s.End-1, s.Newest.In(loc).Format(time.RFC3339))
		if !res.DryRun {
			fmt.Fprintf(w, ": %s.gz, sha256 %x", s.File, s.SHA256)
			if s.Resumed {
				fmt.Fprint(w, " (written by an earlier run that stopped)")
			}
		}
		fmt.Fprintln(w)
	}
	if res.Waiting != "" {
		fmt.Fprintf(w, "waiting: %s\n", res.Waiting)
	}
	if len(res.Segments) > 0 && !res.DryRun {
		fmt.Fprintln(w, "Back up the archive directory and keep a copy offline: those events are no longer in the database.")
	}
}

// segments says "1 segment" or "n segments".
func segments(n int) string {
	if n == 1 {
		return "1 segment"
	}
	return fmt.Sprintf("%d segments", n)
}

func newAuditWitnessesCommand(g *globalFlags) *cobra.Command {
	var sendNow bool
	cmd := &cobra.Command{
		Use:   "witnesses [--send]",
		Short: "Show where checkpoints are sent and how it went; --send sends the latest one now",
		Long: "List the outside witnesses (audit.witness.webhooks and audit.witness.mail) with the state of the " +
			"newest delivery to each and when one last arrived, then the latest deliveries. With --send, the latest " +
			"signed checkpoint is sent at once to every witness that does not have it yet (anzen serve sends it " +
			"every audit.witness.webhook_interval or audit.witness.mail_interval); a failed delivery is tried again " +
			"by anzen serve.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			if sendNow {
				if _, err := a.Audit.SignCheckpoint(ctx); err != nil {
					return err
				}
				if err := a.Audit.SendWitnesses(ctx, true); err != nil {
					return err
				}
			}
			sts, err := a.Audit.WitnessStatuses(ctx)
			if err != nil {
				return err
			}
			out, loc := cmd.OutOrStdout(), a.Cfg.Location()
			if len(sts) == 0 {
				fmt.Fprintln(out, "no witness is configured (audit.witness.webhooks, audit.witness.mail): nothing outside anzen keeps its checkpoints")
				return nil
			}
			for _, s := range sts {
				state := "nothing sent yet"
				if s.Last != nil {
					state = fmt.Sprintf("%s, checkpoint of %d events, attempts: %d, %s", s.Last.Status, s.Last.Size, s.Last.Attempts,
						s.Last.Updated.In(loc).Format(time.RFC3339))
					if s.Last.LastError != "" {
						state += ", last error: " + s.Last.LastError
					}
				}
				if s.Failing {
					state += " — FAILING"
				}
				fmt.Fprintf(out, "%s\n  %s\n", s.Target, state)
				if s.LastOK != nil {
					fmt.Fprintf(out, "  last delivered: checkpoint of %d events at %s\n", s.LastOK.Size, s.LastOK.Updated.In(loc).Format(time.RFC3339))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&sendNow, "send", false, "send the latest checkpoint now to every witness that does not have it")
	return cmd
}
