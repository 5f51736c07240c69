package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The user and token commands act on the database directly, so they work
// while `anzen serve` runs on the same data: SQLite in WAL mode lets a
// second process write (each waits briefly for the other's transaction),
// and PostgreSQL is shared anyway. Every change goes through the identity
// service, which records it in the audit log with the actor "cli:<OS user>"
// and the client address "local".

func init() { extraCommands = append(extraCommands, newUserCommand) }

// cliActor is who runs a command, as the audit log names them.
func cliActor() identity.Actor {
	name := "cli"
	if u, err := user.Current(); err == nil && strings.TrimSpace(u.Username) != "" {
		name = "cli:" + strings.TrimSpace(u.Username)
	}
	return identity.Actor{Login: name, Client: "local"}
}

// fieldErrors is invalid input, one "--flag: what is wrong" line per flag.
// main prints an error after "anzen: "; joining the lines with that prefix
// gives every line of the message its own prefix.
type fieldErrors []string

func (e fieldErrors) Error() string { return strings.Join(e, "\nanzen: ") }

// fieldCheck collects what is wrong with a command's flags, at most one
// message per flag.
type fieldCheck struct {
	seen  map[string]bool
	lines []string
}

func (c *fieldCheck) add(flag, format string, a ...any) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if c.seen[flag] {
		return
	}
	c.seen[flag] = true
	c.lines = append(c.lines, flag+": "+fmt.Sprintf(format, a...))
}

func (c *fieldCheck) err() error {
	if len(c.lines) == 0 {
		return nil
	}
	sort.Strings(c.lines)
	return fieldErrors(c.lines)
}

// explain turns the identity service's errors into readable reasons: a
// validation error becomes one line per flag (the English text of its
// message ids; flags maps the service's field names to flag names), and an
// unknown user names the login.
func explain(a *app.App, err error, login string, flags map[string]string) error {
	var ve *identity.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		var c fieldCheck
		for field, msgID := range ve.Fields {
			flag, ok := flags[field]
			if !ok {
				flag = field
			}
			c.add(flag, "%s", a.Catalog.T("en", msgID, nil))
		}
		return c.err()
	case errors.Is(err, identity.ErrNotFound) && login != "":
		return fmt.Errorf("unknown login %q", login)
	case errors.Is(err, identity.ErrDuplicateLogin):
		return fieldErrors{fmt.Sprintf("--login: %q is already in use", login)}
	}
	return err
}

// userFlags names the flag that sets each field of identity's users.
var userFlags = map[string]string{"login": "--login", "name": "--name", "name_kana": "--kana",
	"department": "--department", "profession": "--profession", "status": "--status",
	"valid_until": "--valid-until", "roles": "--role", "facility": "--facility",
	"password": "--password-stdin", "method": "--verified-by", "note": "--note"}

func joinRoles() string {
	names := make([]string, len(authz.Roles))
	for i, r := range authz.Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

func joinProfessions() string {
	names := make([]string, len(identity.Professions))
	for i, p := range identity.Professions {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// facilityCodes maps facility ids to their codes, with "all" for every
// facility.
func facilityCodes(ctx context.Context, a *app.App) (map[int64]string, []identity.Facility, error) {
	list, err := a.Identity.Facilities(ctx)
	if err != nil {
		return nil, nil, err
	}
	codes := map[int64]string{authz.AllFacilities: "all"}
	for _, f := range list {
		codes[f.ID] = f.Code
	}
	return codes, list, nil
}

// resolveFacility finds the facility a --facility flag names: a code, or
// "all" (authz.AllFacilities); empty means the first facility.
func resolveFacility(list []identity.Facility, code string) (int64, error) {
	if len(list) == 0 {
		return 0, errors.New("there is no facility yet")
	}
	switch code {
	case "":
		return list[0].ID, nil
	case "all":
		return authz.AllFacilities, nil
	}
	known := make([]string, 0, len(list)+1)
	for _, f := range list {
		if f.Code == code {
			return f.ID, nil
		}
		known = append(known, f.Code)
	}
	return 0, fmt.Errorf("unknown facility %q (known: %s, or all)", code, strings.Join(known, ", "))
}

// grantsText writes grants as role@facility-code.
func grantsText(grants []authz.Grant, codes map[int64]string) string {
	parts := make([]string, len(grants))
	for i, g := range grants {
		code, ok := codes[g.Facility]
		if !ok {
			code = fmt.Sprint(g.Facility)
		}
		parts[i] = string(g.Role) + "@" + code
	}
	return strings.Join(parts, ",")
}

// timeText writes t in the configured time zone as RFC 3339, or none.
func timeText(a *app.App, t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.In(a.Cfg.Location()).Format(time.RFC3339)
}

func newUserCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Create, list, disable and unlock users; reset passwords and second factors"}
	c.AddCommand(newUserCreateCommand(g), newUserListCommand(g), newUserDisableCommand(g), newUserEnableCommand(g),
		newUserUnlockCommand(g), newUserResetPasswordCommand(g), newUserReset2FACommand(g))
	return c
}

// userCreate holds the flags of `anzen user create`.
type userCreate struct {
	login, name, kana, department, profession, facility, validUntil string
	roles                                                           []string
	passwordStdin                                                   bool
}

func newUserCreateCommand(g *globalFlags) *cobra.Command {
	var o userCreate
	cmd := &cobra.Command{
		Use:   "create --login L --name N --role R",
		Short: "Create a user and print the initial one-time password once",
		Long: "Create a user. The one-time password is printed once on standard output (or, with " +
			"--password-stdin, read from the first line of standard input); the user must change it at " +
			"first sign-in. Roles are granted in the facility given by --facility (default: the first " +
			"facility), or in every facility with --facility all.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, g) },
	}
	f := cmd.Flags()
	f.StringVar(&o.login, "login", "", "login ID: 2 to 64 letters, digits and . _ @ -")
	f.StringVar(&o.name, "name", "", "display name (kanji), at most 100 characters")
	f.StringVar(&o.kana, "kana", "", "name in kana")
	f.StringVar(&o.department, "department", "", "department (診療科・部署)")
	f.StringVar(&o.profession, "profession", "other", "profession: "+joinProfessions())
	f.StringSliceVar(&o.roles, "role", nil, "role, repeated or comma-separated: "+joinRoles())
	f.StringVar(&o.facility, "facility", "", "facility code where the roles hold, or all (default: the first facility)")
	f.StringVar(&o.validUntil, "valid-until", "", "last day the account may be used, YYYY-MM-DD (default: no end)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the initial password from the first line of standard input")
	return cmd
}

func (o *userCreate) run(cmd *cobra.Command, g *globalFlags) error {
	ctx := cmd.Context()
	var check fieldCheck
	if strings.TrimSpace(o.login) == "" {
		check.add("--login", "required")
	}
	if strings.TrimSpace(o.name) == "" {
		check.add("--name", "required")
	}
	var roles []authz.Role
	for _, raw := range o.roles {
		r, err := authz.ParseRole(strings.TrimSpace(raw))
		if err != nil {
			check.add("--role", "%v", err)
			continue
		}
		roles = append(roles, r)
	}
	if len(o.roles) == 0 {
		check.add("--role", "at least one role is required (allowed: %s)", joinRoles())
	}
	if !slices.Contains(identity.Professions, identity.Profession(o.profession)) {
		check.add("--profession", "unknown profession %q (allowed: %s)", o.profession, joinProfessions())
	}
	var day time.Time
	if o.validUntil != "" {
		var err error
		if day, err = time.Parse(time.DateOnly, o.validUntil); err != nil {
			check.add("--valid-until", "%q is not a date in the form YYYY-MM-DD", o.validUntil)
		}
	}
	password := ""
	if o.passwordStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		if password = strings.TrimRight(line, "\r\n"); password == "" {
			check.add("--password-stdin", "no password on the first line of standard input")
		}
	}
	if err := check.err(); err != nil {
		return err
	}

	a, err := g.open(ctx, map[string]string{})
	if err != nil {
		return err
	}
	defer a.Close()
	// Like the first start of the server: a facility and "admin" exist
	// before anything else.
	if err := a.Bootstrap(ctx, cmd.ErrOrStderr()); err != nil {
		return err
	}
	codes, list, err := facilityCodes(ctx, a)
	if err != nil {
		return err
	}
	where, err := resolveFacility(list, o.facility)
	if err != nil {
		return fieldErrors{"--facility: " + err.Error()}
	}
	nu := identity.NewUser{Facility: where, Login: o.login, Name: o.name, NameKana: o.kana,
		Department: o.department, Profession: identity.Profession(o.profession), Password: password}
	if where == authz.AllFacilities {
		nu.Facility = list[0].ID // the user's home facility; the roles hold everywhere
	}
	if !day.IsZero() {
		// The account works through that day in anzen's time zone.
		y, m, d := day.Date()
		nu.ValidUntil = time.Date(y, m, d+1, 0, 0, 0, 0, a.Cfg.Location())
		if !nu.ValidUntil.After(a.Clock.Now()) {
			return fieldErrors{fmt.Sprintf("--valid-until: %s has already passed", o.validUntil)}
		}
	}
	for _, r := range roles {
		nu.Grants = append(nu.Grants, authz.Grant{Role: r, Facility: where})
	}
	u, initial, err := a.Identity.CreateUser(ctx, cliActor(), nu)
	if err != nil {
		return explain(a, err, o.login, userFlags)
	}
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "created user %s (%s), profession %s, roles %s\n", u.Login, u.Name, u.Profession,
		grantsText(u.Grants, codes))
	if o.passwordStdin {
		fmt.Fprintln(stderr, "The password from standard input must be changed at first sign-in.")
		return nil
	}
	fmt.Fprintln(stderr, "One-time password, shown only this once; it must be changed at first sign-in:")
	fmt.Fprintln(cmd.OutOrStdout(), initial)
	return nil
}

// userListing is one user as `anzen user list --json` prints it.
type userListing struct {
	*identity.User
	Roles        string `json:"roles"`
	SecondFactor bool   `json:"second_factor"`
	Locked       bool   `json:"locked"`
	Usable       bool   `json:"usable"`
}

func listUsers(ctx context.Context, a *app.App) ([]userListing, error) {
	codes, _, err := facilityCodes(ctx, a)
	if err != nil {
		return nil, err
	}
	now := a.Clock.Now()
	out := []userListing{}
	for {
		users, total, err := a.Identity.ListUsers(ctx, identity.UserFilter{AllFacilities: true, Limit: 500,
			Offset: len(out)})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			f, err := a.Identity.FactorsOf(ctx, u.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, userListing{User: u, Roles: grantsText(u.Grants, codes),
				SecondFactor: f.TOTP || f.WebAuthnKeys > 0, Locked: u.Locked(now), Usable: u.Usable(now)})
		}
		if len(users) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newUserListCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every user with roles, status, second factor, lockout and last sign-in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open(cmd.Context(), map[string]string{})
			if err != nil {
				return err
			}
			defer a.Close()
			users, err := listUsers(cmd.Context(), a)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(users)
			}
			// The name goes last: tabwriter counts a kanji as one column
			// while terminals draw it two wide.
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "LOGIN\tPROFESSION\tROLES\tSTATUS\t2FA\tLOCKED\tLAST LOGIN\tNAME")
			for _, u := range users {
				status := string(u.Status)
				if u.Status == identity.Active && !u.Usable {
					status += " (outside validity)"
				}
				locked := "no"
				if u.Locked {
					locked = "until " + timeText(a, u.LockedUntil, "")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Login, u.Profession, u.Roles, status,
					yesNo(u.SecondFactor), locked, timeText(a, u.LastLoginAt, "never"), u.Name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

// withUser opens anzen, runs fn for the user named by login, and closes.
func withUser(cmd *cobra.Command, g *globalFlags, login string, fn func(a *app.App, u *identity.User) error) error {
	a, err := g.open(cmd.Context(), map[string]string{})
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Identity.UserByLogin(cmd.Context(), login)
	if err != nil {
		return explain(a, err, login, userFlags)
	}
	return explain(a, fn(a, u), login, userFlags)
}

func newUserDisableCommand(g *globalFlags) *cobra.Command {
	status := string(identity.OnLeave)
	cmd := &cobra.Command{
		Use:   "disable LOGIN",
		Short: "Stop a user from signing in (status on_leave, or retired with --status retired)",
		Long: "Stop a user from signing in and end their sessions. The account keeps its roles and " +
			"history; `anzen user enable` makes it active again. --status says why: on_leave (default) " +
			"or retired.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st := identity.Status(status)
			if st != identity.OnLeave && st != identity.Retired {
				return fieldErrors{fmt.Sprintf("--status: %q is not on_leave or retired", status)}
			}
			return setStatus(cmd, g, args[0], st)
		},
	}
	cmd.Flags().StringVar(&status, "status", status, "the status to set: on_leave or retired")
	return cmd
}

func newUserEnableCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "enable LOGIN",
		Short: "Make a disabled user active again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setStatus(cmd, g, args[0], identity.Active)
		},
	}
}

func setStatus(cmd *cobra.Command, g *globalFlags, login string, st identity.Status) error {
	return withUser(cmd, g, login, func(a *app.App, u *identity.User) error {
		if u.Status == st {
			fmt.Fprintf(cmd.OutOrStdout(), "user %s is already %s; nothing changed\n", u.Login, st)
			return nil
		}
		if err := a.Identity.SetStatus(cmd.Context(), cliActor(), u.Login, st); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "user %s is now %s (was %s)\n", u.Login, st, u.Status)
		return nil
	})
}

func newUserUnlockCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock LOGIN",
		Short: "Lift a lockout after failed sign-ins and clear the failure count",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, g, args[0], func(a *app.App, u *identity.User) error {
				if !u.Locked(a.Clock.Now()) && u.FailedCount == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "user %s is not locked; nothing changed\n", u.Login)
					return nil
				}
				if err := a.Identity.Unlock(cmd.Context(), cliActor(), u.Login); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s is unlocked\n", u.Login)
				return nil
			})
		},
	}
}

func newUserResetPasswordCommand(g *globalFlags) *cobra.Command {
	var method, note string
	methods := strings.Join(identity.VerificationMethods, ", ")
	cmd := &cobra.Command{
		Use:   "reset-password LOGIN --verified-by METHOD",
		Short: "Give a user a new one-time password after verifying who they are",
		Long: "Give a user a new one-time password, printed once on standard output. The guideline asks " +
			"that the way the person's identity was verified be recorded: --verified-by names it (" + methods +
			") and --note adds what was checked (required with other). The user's sessions end and a " +
			"lockout is lifted.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if method == "" {
				return fieldErrors{"--verified-by: required: how the person's identity was verified (" + methods + ")"}
			}
			if !slices.Contains(identity.VerificationMethods, method) {
				return fieldErrors{fmt.Sprintf("--verified-by: unknown method %q (allowed: %s)", method, methods)}
			}
			if method == "other" && strings.TrimSpace(note) == "" {
				return fieldErrors{"--note: required with --verified-by other: say how the identity was verified"}
			}
			return withUser(cmd, g, args[0], func(a *app.App, u *identity.User) error {
				password, err := a.Identity.ResetPassword(cmd.Context(), cliActor(), u.Login, method, note)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "password of %s reset (identity verified by %s); sessions ended.\n"+
					"One-time password, shown only this once; it must be changed at first sign-in:\n", u.Login, method)
				fmt.Fprintln(cmd.OutOrStdout(), password)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&method, "verified-by", "", "how the person's identity was verified: "+methods)
	cmd.Flags().StringVar(&note, "note", "", "what was checked, for the reset ledger (required with --verified-by other)")
	return cmd
}

func newUserReset2FACommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-2fa LOGIN",
		Short: "Remove every second factor of a user (lost phone or key); they enrol again at next sign-in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, g, args[0], func(a *app.App, u *identity.User) error {
				f, err := a.Identity.FactorsOf(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				if !f.TOTP && f.WebAuthnKeys == 0 && f.RecoveryCodes == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "user %s has no second factor; nothing changed\n", u.Login)
					return nil
				}
				if err := a.Identity.ResetFactors(cmd.Context(), cliActor(), u.Login); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "second factors of %s removed and sessions ended; "+
					"they enrol again at their next sign-in\n", u.Login)
				return nil
			})
		},
	}
}
