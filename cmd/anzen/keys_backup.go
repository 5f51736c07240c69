package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/keys"
)

// Backups of key material: `anzen keys recovery-key` makes the recovery key
// pair (the private half goes to a file kept offline, apart from anzen),
// `anzen keys export-backup` writes every key encrypted to its public half,
// `anzen keys import-backup` restores them with the private half. Keys held
// by an HSM are listed without material: they cannot leave the HSM.

func init() {
	keysSubcommands = append(keysSubcommands, newKeysRecoveryKeyCommand, newKeysExportBackupCommand,
		newKeysImportBackupCommand)
}

// Limits of what the backup commands read.
const (
	maxRecoveryKeyFile = 64 << 10
	maxBackupFile      = 1 << 30
)

// isTerminal reports whether v is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// backupProgress returns the option that draws a progress bar on w, when w
// is a terminal, and the function that ends it.
func backupProgress(w io.Writer, what string) (keys.BackupOption, func()) {
	if !isTerminal(w) {
		return keys.WithProgress(func(int, int) {}), func() {}
	}
	var bar *progressbar.ProgressBar
	opt := keys.WithProgress(func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionSetItsString("keys"), progressbar.OptionClearOnFinish())
		}
		_ = bar.Set(done)
	})
	return opt, func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
}

// readSmallFile reads a file of at most max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

func newKeysRecoveryKeyCommand(g *globalFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "recovery-key --out FILE",
		Short: "Make a recovery key pair: the private half to FILE (mode 0600), the public half on standard output",
		Long: "Make a recovery key pair for backups of key material (HPKE with ML-KEM-768 + X25519). The private " +
			"half is written to FILE, which must not exist yet, readable by you alone: keep it offline and apart " +
			"from anzen, since it opens every backup made for it. The public half is printed on standard output; " +
			"give it to `anzen keys export-backup --recipient`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fieldErrors{"--out: required: the file for the private half (it must not exist yet)"}
			}
			public, private, err := keys.GenerateRecoveryKey()
			if err != nil {
				return err
			}
			defer clear(private)
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := f.Write(private); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(out)
				return err
			}
			fp, _ := keys.RecoveryKeyFingerprint(public)
			fmt.Fprintf(cmd.ErrOrStderr(), "The private half is in %s (fingerprint %s): keep it offline, apart from anzen.\n",
				out, fp)
			_, err = cmd.OutOrStdout().Write(public)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file for the private half (created with mode 0600; must not exist)")
	return cmd
}

func newKeysExportBackupCommand(g *globalFlags) *cobra.Command {
	var recipient string
	cmd := &cobra.Command{
		Use:   "export-backup --recipient PUBFILE > backup.anzen",
		Short: "Write every key, encrypted to a recovery key, on standard output",
		Long: "Write a backup of every key (metadata, grants, certificates, and the material of each version " +
			"that is not destroyed) encrypted to the recovery key whose public half is in PUBFILE. Keys held by " +
			"an HSM are listed without material: they were generated inside it, non-extractable, and cannot " +
			"leave it; back them up with the HSM's own means. A progress bar is drawn on standard error when it " +
			"is a terminal. The export is recorded.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if recipient == "" {
				return fieldErrors{"--recipient: required: the file with the recovery key's public half"}
			}
			pub, err := readSmallFile(recipient, maxRecoveryKeyFile)
			if err != nil {
				return fmt.Errorf("--recipient: %w", err)
			}
			fp, err := keys.RecoveryKeyFingerprint(pub)
			if err != nil {
				if strings.HasPrefix(strings.TrimSpace(string(pub)), keys.RecoveryPrivatePrefix) {
					return errors.New("--recipient: this is the private half; give the public half (the private one stays offline)")
				}
				return fmt.Errorf("--recipient: %w", err)
			}
			if isTerminal(cmd.OutOrStdout()) {
				return errors.New("the backup is binary: redirect standard output to a file (> backup.anzen)")
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				opt, done := backupProgress(cmd.ErrOrStderr(), "export")
				b, err := a.Keys.ExportBackup(cmd.Context(), keysActor(), pub, opt)
				done()
				if err != nil {
					return explainLifecycle(a, err, "")
				}
				if _, err := cmd.OutOrStdout().Write(b); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Backup written (%d bytes), encrypted to recovery key %s.\n", len(b), fp)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&recipient, "recipient", "", "file with the recovery key's public half (from `anzen keys recovery-key`)")
	return cmd
}

func newKeysImportBackupCommand(g *globalFlags) *cobra.Command {
	var identity string
	cmd := &cobra.Command{
		Use:   "import-backup --identity PRIVFILE < backup.anzen",
		Short: "Restore the keys of a backup (standard input) with the recovery key's private half",
		Long: "Restore the keys of a backup read from standard input, opened with the recovery key's private half " +
			"in PRIVFILE, wrapping their material under this anzen's root. Every key keeps its id, since " +
			"ciphertexts name keys by id: if a key of the backup exists here already (by name or id), nothing is " +
			"imported. Run it on a new installation before anything creates keys there. Keys held by an HSM come " +
			"back only when this anzen's root is the HSM that still holds them; otherwise they are listed as " +
			"skipped. The import is recorded.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if identity == "" {
				return fieldErrors{"--identity: required: the file with the recovery key's private half"}
			}
			priv, err := readSmallFile(identity, maxRecoveryKeyFile)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			defer clear(priv)
			file, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxBackupFile+1))
			if err != nil {
				return fmt.Errorf("read the backup from standard input: %w", err)
			}
			if len(file) > maxBackupFile {
				return errors.New("the backup on standard input is larger than 1 GiB")
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				opt, done := backupProgress(cmd.ErrOrStderr(), "import")
				res, err := a.Keys.ImportBackup(cmd.Context(), keysActor(), file, priv, opt)
				done()
				if err != nil {
					return explainLifecycle(a, err, "")
				}
				out := cmd.OutOrStdout()
				for _, name := range res.Imported {
					fmt.Fprintf(out, "restored %s\n", name)
				}
				for _, s := range res.Skipped {
					fmt.Fprintf(out, "skipped %s: %s\n", s.Name, a.Catalog.T("en", s.Reason, nil))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&identity, "identity", "", "file with the recovery key's private half")
	return cmd
}
