package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// globalFlags are the flags every command that opens the database takes.
type globalFlags struct {
	data       string
	dsn        string
	configFile string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "anzen",
		Short: "anzen — security management for medical information systems (医療情報システムの安全管理)",
		Long: "anzen carries out the MHLW Safety Management Guideline for Medical Information Systems " +
			"(医療情報システムの安全管理に関するガイドライン) beside a hospital's existing systems.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "", "data directory (env ANZEN_DATA; default ./anzen-data)")
	pf.StringVar(&g.dsn, "db", "", "database: empty for SQLite in the data directory, or a postgres:// DSN (env ANZEN_DB)")
	pf.StringVar(&g.configFile, "config", "", "configuration file (default <data>/anzen.toml when present)")
	root.AddCommand(newServeCommand(g), newMigrateCommand(g), newConfigCommand())
	for _, add := range extraCommands {
		root.AddCommand(add(g))
	}
	return root
}

// extraCommands are added by the files that define them (user, token, ...).
var extraCommands []func(g *globalFlags) *cobra.Command

// load reads the configuration: defaults, the file, ANZEN_* variables, then
// the flags given on the command line.
func (g *globalFlags) load(set map[string]string) (*config.Config, error) {
	dataDir := g.data
	if dataDir == "" {
		dataDir = os.Getenv("ANZEN_DATA")
	}
	if dataDir == "" {
		dataDir = config.Default().DataDir
	}
	path := g.configFile
	if path == "" {
		candidate := filepath.Join(dataDir, "anzen.toml")
		if _, err := os.Stat(candidate); err == nil {
			path = candidate
		}
	}
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return nil, err
	}
	if g.data != "" {
		set["data"] = g.data
	}
	if g.dsn != "" {
		set["db"] = g.dsn
	}
	for k, v := range set {
		if v == "" {
			continue
		}
		if err := cfg.Set(k, v); err != nil {
			return nil, err
		}
	}
	return cfg, cfg.Validate()
}

// open loads the configuration and opens anzen (unseal, database,
// migrations, parts) with logs and unseal warnings going to stderr; at a
// terminal it may ask for the unseal passphrase.
func (g *globalFlags) open(ctx context.Context, set map[string]string) (*app.App, error) {
	cfg, err := g.load(set)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, app.NewLogger(cfg, os.Stderr), nil,
		app.WithPrompt(app.TerminalPrompt()), app.WithConsole(os.Stderr))
}

func newMigrateCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (also done at every start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "database schema is up to date (%s)\n", a.DB.Dialect())
			return nil
		},
	}
}

func newConfigCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check or print configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file (with ANZEN_* variables applied)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0], os.Getenv); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}, &cobra.Command{
		Use:   "example",
		Short: "Print a commented configuration file with every key and its default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return config.WriteExample(cmd.OutOrStdout())
		},
	}, &cobra.Command{
		Use:    "markdown",
		Short:  "Print the table of settings for docs/configuration.md",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return config.WriteMarkdown(cmd.OutOrStdout())
		},
	})
	return c
}
