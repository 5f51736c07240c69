package main

// TEMPORARY (task E2): the `anzen compliance` command and the way its
// subcommands open the compliance part, until the command's owner and
// internal/app provide them. The lead deletes this file at merge and
// defines, with the App's compliance Service (a compliance.ReportSource):
//
//	func init() { extraCommands = append(extraCommands, newComplianceCommand) }
//	var complianceSubcommands []func(g *globalFlags) *cobra.Command
//	func newComplianceCommand(g *globalFlags) *cobra.Command { ... adds complianceSubcommands ... }
//	func init() {
//		openComplianceReports = func(ctx context.Context, cmd *cobra.Command, g *globalFlags) (compliance.ReportSource, func(), error) {
//			a, err := g.open(ctx, map[string]string{})
//			if err != nil {
//				return nil, nil, err
//			}
//			svc, err := a.Compliance()
//			if err != nil {
//				a.Close()
//				return nil, nil, err
//			}
//			return svc, func() { a.Close() }, nil
//		}
//	}

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/compliance"
)

func init() {
	extraCommands = append(extraCommands, newComplianceCommand)
	openComplianceReports = func(context.Context, *cobra.Command, *globalFlags) (compliance.ReportSource, func(), error) {
		return nil, nil, errors.New("the compliance part is not connected to this build of anzen yet")
	}
}

// complianceSubcommands are the commands of `anzen compliance` defined in
// other files.
var complianceSubcommands []func(g *globalFlags) *cobra.Command

func newComplianceCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "compliance", Short: "Guideline compliance: status and reports (ガイドライン対応状況)"}
	for _, add := range complianceSubcommands {
		c.AddCommand(add(g))
	}
	return c
}
