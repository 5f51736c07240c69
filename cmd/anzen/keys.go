package main

import (
	"github.com/spf13/cobra"
)

// The keys commands work on the key service of the data directory, as the
// user commands do on identity: `anzen keys encrypt NAME` and the other
// operations are Unix filters (input on standard input, result on standard
// output, one line "anzen: reason" and a non-zero exit on failure).

func init() { extraCommands = append(extraCommands, newKeysCommand) }

// keysSubcommands are the subcommands of `anzen keys`; each file that
// defines some appends its constructors in its init().
var keysSubcommands []func(g *globalFlags) *cobra.Command

func newKeysCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Manage keys and use them: create, rotate, encrypt, decrypt, sign, verify"}
	for _, add := range keysSubcommands {
		c.AddCommand(add(g))
	}
	return c
}
