package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Proving the log from the shell: `anzen audit verify` recomputes all of
// it, `anzen audit checkpoint` prints the latest signed checkpoint and the
// log's verifier keys, `anzen audit proof SEQ` writes one event's inclusion
// proof, and `anzen audit check-proof` checks such a proof with nothing but
// the proof and a verifier key (no data directory, no network).

func init() {
	auditSubcommands = append(auditSubcommands, newAuditVerifyCommand, newAuditCheckpointCommand,
		newAuditProofCommand, newAuditCheckProofCommand)
}

func newAuditVerifyCommand(g *globalFlags) *cobra.Command {
	var (
		from        int64
		skipIndex   bool
		archive     string
		skipArchive bool
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "verify [--from N] [--skip-index] [--archive DIR] [--json]",
		Short: "Recompute the whole audit log and check every signed checkpoint",
		Long: "Recompute every entry's leaf hash and the Merkle tree from the stored entries, compare them with the " +
			"stored tree and head, check every signed checkpoint's signature and that the tree is consistent with it, " +
			"and compare the search index with the log. When events have been archived, the archive's segment files " +
			"are checked too (audit.archive_dir, or --archive). Exit status 0 with a summary when everything holds; " +
			"1 naming the first bad position and what is wrong with it. --from N starts recomputing at position N " +
			"(the tree before it is taken from the stored nodes, which the checkpoints check). The result is recorded " +
			"like the daily verification of anzen serve. A progress bar is drawn on standard error when it is a terminal.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from < 0 {
				return fmt.Errorf("--from: %d is negative", from)
			}
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			progress, done := verifyProgress(cmd.ErrOrStderr())
			opt := audit.VerifyOptions{From: from, SkipIndex: skipIndex, ArchiveDir: archive, Progress: progress}
			if skipArchive {
				opt.ArchiveDir = ""
			}
			res, err := a.VerifyAudit(cmd.Context(), opt, audit.VerificationOrigin{Via: "cli", Actor: cliActor().Login, Client: cliActor().Client})
			done()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, res); err != nil {
					return err
				}
			} else {
				printVerify(out, res)
			}
			if !res.OK {
				return exitError{code: 1, err: fmt.Errorf("the audit log failed verification at position %d: %s", res.FirstBad, res.Problem)}
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&from, "from", 0, "first position to recompute")
	cmd.Flags().BoolVar(&skipIndex, "skip-index", false, "do not compare the search index with the log")
	cmd.Flags().StringVar(&archive, "archive", "", "archive directory whose segment files to check (default: audit.archive_dir when events have been archived)")
	cmd.Flags().BoolVar(&skipArchive, "skip-archive", false, "do not read the archive's segment files (their records and signatures are still checked)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// verifyProgress returns a progress function that draws a bar on w when w
// is a terminal, one for the log and one for the search index, and the
// function that ends the last.
func verifyProgress(w io.Writer) (func(done, total int64), func()) {
	if !isTerminal(w) {
		return nil, func() {}
	}
	var (
		bar  *progressbar.ProgressBar
		last int64
	)
	phase := "log"
	return func(done, total int64) {
			if bar != nil && done < last { // the log is done; the index begins
				_ = bar.Finish()
				bar, phase = nil, "index"
			}
			if bar == nil {
				bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(phase),
					progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionShowIts(),
					progressbar.OptionThrottle(100*time.Millisecond))
			}
			last = done
			_ = bar.Set64(done)
		}, func() {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(w)
			}
		}
}

// printVerify writes the summary of a verification.
func printVerify(w io.Writer, res *audit.VerifyResult) {
	if !res.OK {
		fmt.Fprintf(w, "FAILED at position %d (%s): %s\n", res.FirstBad, res.Kind, res.Problem)
		return
	}
	checked := res.Size - res.From
	rate := ""
	if secs := (res.Duration - res.IndexDuration).Seconds(); secs > 0 && checked > 0 {
		rate = fmt.Sprintf(", %s events/s", strconv.FormatFloat(float64(checked)/secs, 'f', 0, 64))
	}
	fmt.Fprintf(w, "ok: the log of %d events holds: positions %d to %d recomputed in %s%s\n",
		res.Size, res.From, max(res.Size-1, res.From), res.Duration.Round(time.Millisecond), rate)
	sigs := "signatures not checked: no checkpoint key"
	if res.Signatures {
		sigs = "signatures valid"
	}
	fmt.Fprintf(w, "  signed checkpoints: %d consistent with the tree, %s\n", res.Checkpoints+res.ArchivedCheckpoints, sigs)
	if res.Index {
		fmt.Fprintf(w, "  search index: matches the log (%s)\n", res.IndexDuration.Round(time.Millisecond))
	} else {
		fmt.Fprintln(w, "  search index: not compared")
	}
	if res.Archived > 0 {
		files := "segment files not read"
		if res.ArchiveSegments > 0 {
			files = fmt.Sprintf("%d segment files checked", res.ArchiveSegments)
		}
		fmt.Fprintf(w, "  archived: positions 0 to %d, %s\n", res.Archived-1, files)
	}
}

func newAuditCheckpointCommand(g *globalFlags) *cobra.Command {
	var keysOnly bool
	cmd := &cobra.Command{
		Use:   "checkpoint [--keys]",
		Short: "Print the latest signed checkpoint (a C2SP signed note), or the log's verifier keys",
		Long: "Print the latest signed checkpoint of the audit log as the C2SP tlog-checkpoint signed note that " +
			"GET /api/v1/audit/checkpoint serves and witnesses keep. With --keys, print the log's verifier keys " +
			"instead, one per line, newest first: give one to whoever checks proofs (anzen audit check-proof --key), " +
			"by a way other than the proofs themselves.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			out := cmd.OutOrStdout()
			if keysOnly {
				ks, err := a.Audit.VerifierKeys(cmd.Context())
				if err != nil {
					return err
				}
				for _, k := range ks {
					fmt.Fprintln(out, k)
				}
				return nil
			}
			cp, err := a.Audit.LatestCheckpoint(cmd.Context())
			if errors.Is(err, db.ErrNotFound) {
				return errors.New("no checkpoint has been signed yet: anzen serve signs one every audit.checkpoint_interval while events arrive")
			}
			if err != nil {
				return err
			}
			_, err = io.WriteString(out, cp.Note)
			return err
		},
	}
	cmd.Flags().BoolVar(&keysOnly, "keys", false, "print the verifier keys instead of the checkpoint")
	return cmd
}

func newAuditProofCommand(g *globalFlags) *cobra.Command {
	var output, archive string
	cmd := &cobra.Command{
		Use:   "proof SEQ [-o FILE] [--archive DIR]",
		Short: "Write the inclusion proof of one event against the latest signed checkpoint",
		Long: "Write, as JSON, the proof that the event at position SEQ is in the audit log: its canonical entry, its " +
			"leaf hash, the RFC 6962 inclusion proof and the latest signed checkpoint it leads to. Anyone with the " +
			"log's verifier key can check it offline with anzen audit check-proof. An archived event is proven from " +
			"its segment file (audit.archive_dir, or --archive).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || seq < 0 {
				return fmt.Errorf("SEQ: %q is not a position (0, 1, 2, ...)", args[0])
			}
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			var p *audit.Proof
			if archive != "" {
				p, err = a.Audit.ProveArchived(cmd.Context(), seq, archive)
			} else {
				p, err = a.Audit.Prove(cmd.Context(), seq)
			}
			switch {
			case errors.Is(err, audit.ErrNotCheckpointed):
				return fmt.Errorf("%w: anzen serve signs one within audit.checkpoint_interval; try again then", err)
			case err != nil:
				return err
			}
			return writeOutput(cmd, output, func(w io.Writer) error { return writeJSON(w, p) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the proof to FILE instead of standard output")
	cmd.Flags().StringVar(&archive, "archive", "", "archive directory to prove an archived event from (default: audit.archive_dir)")
	return cmd
}

func newAuditCheckProofCommand(*globalFlags) *cobra.Command {
	var keys []string
	var keyFile string
	cmd := &cobra.Command{
		Use:   "check-proof [FILE] --key KEY | --key-file FILE",
		Short: "Check an inclusion proof offline with the log's verifier key",
		Long: "Check a proof written by anzen audit proof (from FILE, or standard input): the checkpoint's signature " +
			"with the verifier key given (from anzen audit checkpoint --keys, obtained by a way you trust), the entry's " +
			"leaf hash and the inclusion proof against the checkpoint's root. Needs no data directory and no network. " +
			"Exit status 0 and the event when the proof holds; 1 with the reason when it does not.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("--key-file: %w", err)
				}
				for _, line := range strings.Split(string(b), "\n") {
					if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
						keys = append(keys, line)
					}
				}
			}
			if len(keys) == 0 {
				return errors.New("--key or --key-file: a verifier key is needed (anzen audit checkpoint --keys prints the log's); " +
					"the keys inside a proof are not trusted, since whoever made the proof chose them")
			}
			in := cmd.InOrStdin()
			name := "standard input"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, args[0]
			}
			var p audit.Proof
			dec := json.NewDecoder(io.LimitReader(in, 64<<20))
			if err := dec.Decode(&p); err != nil {
				return fmt.Errorf("%s is not a proof written by anzen audit proof: %w", name, err)
			}
			ev, err := audit.CheckProof(&p, keys...)
			if err != nil {
				return exitError{code: 1, err: fmt.Errorf("the proof does not hold: %w", err)}
			}
			origin, _, _ := strings.Cut(p.Checkpoint, "\n")
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ok: the event at position %d is in the log %q of %d events\n", p.Seq, origin, p.TreeSize)
			fmt.Fprintf(out, "  %s  %s  %s", ev.Time.Format(time.RFC3339), ev.Source, ev.Action)
			if ev.Actor.ID != "" {
				fmt.Fprintf(out, "  actor %s", ev.Actor.ID)
			}
			if ev.Patient.ID != "" {
				fmt.Fprintf(out, "  patient %s", ev.Patient.ID)
			}
			fmt.Fprintf(out, "  %s\n", ev.Outcome)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "a verifier key of the log (note verifier key form: origin+hash+key); may be repeated")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "a file with verifier keys, one per line")
	return cmd
}

// writeOutput writes through write to the file named output, or to
// standard output when output is "" or "-". A file is written whole or
// not at all: to a temporary file beside it, synced, then renamed.
func writeOutput(cmd *cobra.Command, output string, write func(io.Writer) error) error {
	if output == "" || output == "-" {
		return write(cmd.OutOrStdout())
	}
	f, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), output)
}
