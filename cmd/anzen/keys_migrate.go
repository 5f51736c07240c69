package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/keys"
)

func init() {
	keysSubcommands = append(keysSubcommands, newKeysMigrateRootCommand)
}

func newKeysMigrateRootCommand(g *globalFlags) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "migrate-root --to local|pkcs11",
		Short: "Move every key to another root of trust (rewrapping it), then set keys.root to match",
		Long: "Moves every key from the root of trust in use (keys.root) to the other kind: into the HSM named by " +
			"keys.pkcs11.* (PIN from ANZEN_PKCS11_PIN or keys.pkcs11.pin_file), or into <data>/keys-root.json " +
			"(passphrase from ANZEN_UNSEAL_PASSPHRASE or ANZEN_UNSEAL_FILE). Signing keys generated inside an HSM " +
			"cannot leave it. Afterwards set keys.root to the new kind before the next start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			stderr := cmd.ErrOrStderr()
			progress := func(done, total int) {
				fmt.Fprintf(stderr, "\rrewrapping key versions: %d/%d", done, total)
				if done == total {
					fmt.Fprintln(stderr)
				}
			}
			if err := a.MigrateRoot(cmd.Context(), to, keys.Actor{Login: cliActor().Login, Client: "local"}, progress); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "every key is now under the %s root; set keys.root = %q before the next start\n", to, to)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the root of trust to move the keys to: local or pkcs11")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
