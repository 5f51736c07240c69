package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

func init() { extraCommands = append(extraCommands, newTokenCommand) }

// tokenFlags names the flag that sets each field of identity's tokens.
var tokenFlags = map[string]string{"name": "--name", "scopes": "--scope", "facility": "--facility",
	"expires": "--expires"}

var expiryPattern = regexp.MustCompile(`^([0-9]{1,5})([hdwy])$`)

// parseExpiry reads a token lifetime: a number of hours, days, weeks or
// years (12h, 30d, 90d, 1y; a year is 365 days), or "never" (0).
func parseExpiry(s string) (time.Duration, error) {
	if s == "never" {
		return 0, nil
	}
	m := expiryPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a lifetime such as 12h, 30d, 90d, 1y, or never", s)
	}
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		return 0, fmt.Errorf("%q is no lifetime at all; say never for a token that does not expire", s)
	}
	unit := map[string]time.Duration{"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
		"y": 365 * 24 * time.Hour}[m[2]]
	if time.Duration(n) > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too long (5 years at most)", s)
	}
	return time.Duration(n) * unit, nil
}

func newTokenCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens for programs"}
	c.AddCommand(newTokenCreateCommand(g), newTokenListCommand(g), newTokenRevokeCommand(g))
	return c
}

func newTokenCreateCommand(g *globalFlags) *cobra.Command {
	var name, facility, expires string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create --name N --scope S",
		Short: "Create an API token and print it once",
		Long: "Create an API token for a program (a log shipper, an integration). The token is printed " +
			"once, alone on a line of standard output; only its hash is stored, so keep it now. Details " +
			"go to standard error. The token acts in the facility given by --facility (default: the " +
			"first facility), or in every facility with --facility all.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var check fieldCheck
			if name == "" {
				check.add("--name", "required: the name of the program or service account")
			}
			allowed := strings.Join(authz.Scopes(), ", ")
			if len(scopes) == 0 {
				check.add("--scope", "at least one scope is required (allowed: %s)", allowed)
			}
			for i, sc := range scopes {
				scopes[i] = strings.TrimSpace(sc)
				if !authz.ValidScope(scopes[i]) {
					check.add("--scope", "unknown scope %q (allowed: %s)", scopes[i], allowed)
				}
			}
			ttl, err := parseExpiry(expires)
			if err != nil {
				check.add("--expires", "%v", err)
			}
			if err := check.err(); err != nil {
				return err
			}
			a, err := g.open(ctx, map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Bootstrap(ctx, cmd.ErrOrStderr()); err != nil {
				return err
			}
			codes, list, err := facilityCodes(ctx, a)
			if err != nil {
				return err
			}
			where, err := resolveFacility(list, facility)
			if err != nil {
				return fieldErrors{"--facility: " + err.Error()}
			}
			t, secret, err := a.Identity.CreateToken(ctx, cliActor(), identity.NewToken{Name: name, Scopes: scopes,
				Facility: where, TTL: ttl})
			if err != nil {
				return explain(a, err, "", tokenFlags)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created token %d %q: scopes %s, facility %s, expires %s\n"+
				"The token follows, shown only this once; only its hash is kept:\n", t.ID, t.Name,
				strings.Join(t.Scopes, ","), codes[t.Facility], timeText(a, t.ExpiresAt, "never"))
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "name of the program or service account: up to 64 letters, digits and . _ -")
	f.StringSliceVar(&scopes, "scope", nil, "scope, repeated or comma-separated: "+strings.Join(authz.Scopes(), ", "))
	f.StringVar(&facility, "facility", "", "facility code the token acts in, or all (default: the first facility)")
	f.StringVar(&expires, "expires", "90d", "lifetime: 12h, 30d, 90d, 1y ... (5 years at most), or never")
	return cmd
}

// tokenState says whether a token can be used.
func tokenState(t *identity.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.Active(now):
		return "expired"
	}
	return "active"
}

// tokenListing is one token as `anzen token list --json` prints it.
type tokenListing struct {
	*identity.Token
	FacilityCode string `json:"facility_code"`
	State        string `json:"state"`
}

func newTokenListCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			tokens, err := a.Identity.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			codes, _, err := facilityCodes(cmd.Context(), a)
			if err != nil {
				return err
			}
			now := a.Clock.Now()
			out := make([]tokenListing, len(tokens))
			for i, t := range tokens {
				out[i] = tokenListing{Token: t, FacilityCode: codes[t.Facility], State: tokenState(t, now)}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tFACILITY\tPREFIX\tSTATE\tCREATED BY\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range out {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","),
					t.FacilityCode, t.Prefix, t.State, t.CreatedBy, timeText(a, t.CreatedAt, ""),
					timeText(a, t.ExpiresAt, "never"), timeText(a, t.LastUsedAt, "never"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func newTokenRevokeCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Make an API token unusable at once (the ID is shown by `anzen token list`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a token ID (a number from `anzen token list`)", args[0])
			}
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			return revokeToken(cmd, a, id)
		},
	}
}

func revokeToken(cmd *cobra.Command, a *app.App, id int64) error {
	tokens, err := a.Identity.Tokens(cmd.Context())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(tokens, func(t *identity.Token) bool { return t.ID == id })
	if i < 0 {
		return fmt.Errorf("unknown token ID %d (see `anzen token list`)", id)
	}
	t := tokens[i]
	if !t.RevokedAt.IsZero() {
		fmt.Fprintf(cmd.OutOrStdout(), "token %d %q was already revoked at %s; nothing changed\n", t.ID, t.Name,
			timeText(a, t.RevokedAt, ""))
		return nil
	}
	if err := a.Identity.RevokeToken(cmd.Context(), cliActor(), id); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "token %d %q is revoked\n", t.ID, t.Name)
	return nil
}
