package main

import "github.com/spf13/cobra"

// `anzen incident`: the CSIRT's commands. This parent is the organisation
// helper's stand-in; when the incident commands (create, list, show,
// report) arrive with their own parent, keep theirs and add
// newIncidentContactsCommand to it.

func init() { extraCommands = append(extraCommands, newIncidentCommand) }

func newIncidentCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Incident response: the contact diagram (and, later, incidents and their reports)"}
	c.AddCommand(newIncidentContactsCommand(g))
	return c
}
