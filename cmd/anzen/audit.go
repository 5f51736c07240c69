package main

import (
	"github.com/spf13/cobra"
)

// The audit commands work on the tamper-evident log of the data directory:
// verify it, prove an event's inclusion, check a proof offline, import the
// daily files of systems that cannot send their logs as they happen.

func init() {
	extraCommands = append(extraCommands, newAuditCommand)
}

// auditSubcommands are the subcommands of `anzen audit`; each file that
// defines some appends its constructors in its init().
var auditSubcommands []func(g *globalFlags) *cobra.Command

func newAuditCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "The tamper-evident access log: import, verify, prove"}
	for _, add := range auditSubcommands {
		c.AddCommand(add(g))
	}
	return c
}
