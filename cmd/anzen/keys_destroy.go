package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// Crypto-shredding from the command line. Destroying a key version takes
// two people, so each step is done by a person anzen knows: the command
// signs them in with their anzen login, password and TOTP code, checked by
// identity as the sign-in page checks them (wrong passwords and codes count
// towards the lockout), and acts as that user. The OS user name alone ("cli:<OS
// user>") would not do: anyone with a shell on the server, typically root,
// can be any OS user, so two OS user names are not two people. A person
// whose only second factor is a security key (WebAuthn) approves on the web.

func init() {
	keysSubcommands = append(keysSubcommands, newKeysDestroyCommand)
}

// lifecycleFlags names the flag that sets each field the lifecycle
// operations check.
var lifecycleFlags = map[string]string{"reason": "--reason", "version": "--version", "note": "--note",
	"state": "--state", "subject": "--subject", "dns_names": "--dns", "certificate": "standard input"}

// explainLifecycle turns the errors of crypto-shredding, certificates and
// backups into readable reasons.
func explainLifecycle(a *app.App, err error, name string) error {
	var ve *keys.ValidationError
	if errors.As(err, &ve) {
		var c fieldCheck
		for field, msgID := range ve.Fields {
			flag, ok := lifecycleFlags[field]
			if !ok {
				flag = field
			}
			c.add(flag, "%s", a.Catalog.T("en", msgID, nil))
		}
		return c.err()
	}
	return explainKeys(a, err, name)
}

// secretReader reads a password and a TOTP code: from the terminal without
// echo when standard input is one, else one per line of standard input.
type secretReader struct {
	errOut io.Writer
	fd     int
	tty    bool
	lines  *bufio.Reader
}

func newSecretReader(cmd *cobra.Command) *secretReader {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &secretReader{errOut: cmd.ErrOrStderr(), fd: int(f.Fd()), tty: true}
	}
	return &secretReader{errOut: cmd.ErrOrStderr(), lines: bufio.NewReader(io.LimitReader(in, 4096))}
}

func (s *secretReader) read(prompt string) (string, error) {
	if s.tty {
		fmt.Fprint(s.errOut, prompt+": ")
		b, err := term.ReadPassword(s.fd)
		fmt.Fprintln(s.errOut)
		return string(b), err
	}
	line, err := s.lines.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("%s: expected on standard input (one line each: password, then TOTP code)", prompt)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// osUser names who runs the command on this machine.
func osUser() string {
	if u, err := user.Current(); err == nil && strings.TrimSpace(u.Username) != "" {
		return strings.TrimSpace(u.Username)
	}
	return "unknown"
}

// signInPerson signs login in with their password and, when they have one,
// their TOTP code, and returns them as the actor of a key change when they
// hold perm.
func signInPerson(cmd *cobra.Command, a *app.App, login string, perm authz.Permission) (keys.Actor, error) {
	ctx := cmd.Context()
	client := "cli:" + osUser()
	refused := fmt.Errorf("sign-in as %q refused: wrong login or password, the account is locked or disabled, "+
		"or the second factor is wrong", login)
	sr := newSecretReader(cmd)
	password, err := sr.read("Password for " + login)
	if err != nil {
		return keys.Actor{}, err
	}
	u, err := a.Identity.CheckPassword(ctx, login, password, client)
	if errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrLocked) {
		return keys.Actor{}, refused
	}
	if err != nil {
		return keys.Actor{}, err
	}
	step, err := a.Identity.NextStep(ctx, u)
	if err != nil {
		return keys.Actor{}, err
	}
	switch step {
	case identity.StepChangePassword, identity.StepEnrol:
		return keys.Actor{}, fmt.Errorf("%s must first finish signing in on the web (change the password or enrol a second factor)", login)
	case identity.StepSecondFactor:
		f, err := a.Identity.FactorsOf(ctx, u.ID)
		if err != nil {
			return keys.Actor{}, err
		}
		if !f.TOTP {
			return keys.Actor{}, fmt.Errorf("%s signs in with a security key, which the command line cannot use: "+
				"do this on the web", login)
		}
		code, err := sr.read("TOTP code")
		if err != nil {
			return keys.Actor{}, err
		}
		if err := a.Identity.VerifyTOTP(ctx, u, strings.TrimSpace(code)); err != nil {
			if !errors.Is(err, identity.ErrSecondFactor) {
				return keys.Actor{}, err
			}
			// Counted towards the lockout, as on the sign-in page.
			if _, err := a.Identity.SecondFactorFailed(ctx, u, client, "wrong_totp"); err != nil {
				return keys.Actor{}, err
			}
			return keys.Actor{}, refused
		}
	}
	if !u.Principal().Can(perm) {
		return keys.Actor{}, fmt.Errorf("%s may not do this: it needs the permission %s", login, perm)
	}
	return keys.Actor{UserID: u.ID, Login: u.Login, Client: client}, nil
}

// destroyReason says what the command line cannot do alone.
func destroyReason(a *app.App, err error, name string) error {
	switch {
	case errors.Is(err, keys.ErrApprovalNeeded):
		return errors.New("the person who asked cannot approve too: a second administrator must approve it")
	case errors.Is(err, keys.ErrNoRequest), errors.Is(err, keys.ErrRequestClosed):
		return err
	}
	return explainLifecycle(a, err, name)
}

func newKeysDestroyCommand(g *globalFlags) *cobra.Command {
	var (
		version         int
		approve, reject int64
		reason, note    string
		login, state    string
		list, asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "destroy NAME --version N --reason R --login L | --approve ID --login L | --reject ID --login L | --list",
		Short: "Destroy a key version for good (crypto-shredding): ask, approve or reject, or list the requests",
		Long: "Destroying a key version wipes its material, or destroys its object in the HSM, so that every " +
			"ciphertext of that version is unrecoverable for good. It takes two people: one administrator asks " +
			"(NAME --version N --reason R), a different administrator or CISO approves within 7 days (--approve ID), on the " +
			"command line or on the web. Each signs in with their anzen login, password and TOTP code (read from the " +
			"terminal, or one per line of standard input). The active version cannot be destroyed: rotate the key " +
			"first, or disable the version to retire the whole key. --list shows the requests.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, on := range []bool{len(args) == 1, cmd.Flags().Changed("approve"), cmd.Flags().Changed("reject"), list} {
				if on {
					modes++
				}
			}
			var check fieldCheck
			if modes != 1 {
				check.add("NAME", "give exactly one of: a key NAME (to ask), --approve ID, --reject ID or --list")
			}
			if len(args) == 1 && !cmd.Flags().Changed("version") {
				check.add("--version", "required: the version to destroy")
			}
			if modes == 1 && !list && login == "" {
				check.add("--login", "required: your anzen login; the password and TOTP code are asked for next")
			}
			if err := check.err(); err != nil {
				return err
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				ctx := cmd.Context()
				out := cmd.OutOrStdout()
				if list {
					reqs, err := a.Keys.DestroyRequests(ctx, state)
					if err != nil {
						return explainLifecycle(a, err, "")
					}
					return printDestroyRequests(out, a, reqs, asJSON)
				}
				perm := keys.PermApprove
				if len(args) == 1 {
					perm = keys.PermManage
				}
				by, err := signInPerson(cmd, a, login, perm)
				if err != nil {
					return err
				}
				var req *keys.DestroyRequest
				switch {
				case len(args) == 1:
					req, err = a.Keys.RequestDestroy(ctx, by, args[0], version, reason)
					if err != nil {
						return destroyReason(a, err, args[0])
					}
					fmt.Fprintf(out, "destroy request %d: key %s version %d, pending until %s\n", req.ID, req.Key,
						req.Version, timeText(a, req.ExpiresAt, ""))
					fmt.Fprintf(cmd.ErrOrStderr(), "A different administrator or CISO approves it with "+
						"`anzen keys destroy --approve %d --login LOGIN`, or on the web.\n", req.ID)
				case approve != 0:
					if req, err = a.Keys.ApproveDestroy(ctx, by, approve); err != nil {
						return destroyReason(a, err, "")
					}
					fmt.Fprintf(out, "key %s version %d destroyed (request %d by %s, approved by %s)\n", req.Key,
						req.Version, req.ID, req.RequestedBy, req.DecidedBy)
				default:
					if req, err = a.Keys.RejectDestroy(ctx, by, reject, note); err != nil {
						return destroyReason(a, err, "")
					}
					fmt.Fprintf(out, "destroy request %d rejected: key %s version %d stays\n", req.ID, req.Key, req.Version)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&version, "version", 0, "the version to destroy (not the active one)")
	f.StringVar(&reason, "reason", "", "why the version must go (up to 500 characters), recorded")
	f.Int64Var(&approve, "approve", 0, "approve the request with this ID, destroying the version at once")
	f.Int64Var(&reject, "reject", 0, "reject the request with this ID (the person who asked may withdraw it)")
	f.StringVar(&note, "note", "", "with --reject: why not (recorded)")
	f.StringVar(&login, "login", "", "your anzen login; the password and TOTP code are read next")
	f.BoolVar(&list, "list", false, "list the destroy requests, newest first")
	f.StringVar(&state, "state", "", "with --list: only pending, approved, rejected or expired requests")
	f.BoolVar(&asJSON, "json", false, "with --list: print a JSON array instead of a table")
	return cmd
}

func printDestroyRequests(out io.Writer, a *app.App, reqs []*keys.DestroyRequest, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(reqs)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tVERSION\tSTATE\tREQUESTED BY\tREQUESTED\tEXPIRES\tDECIDED BY\tREASON")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", strconv.FormatInt(r.ID, 10), r.Key, r.Version, r.State,
			r.RequestedBy, timeText(a, r.RequestedAt, ""), timeText(a, r.ExpiresAt, ""), r.DecidedBy,
			strings.ReplaceAll(r.Reason, "\n", " "))
	}
	return tw.Flush()
}
