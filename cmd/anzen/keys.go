package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/keys"
)

// The keys commands work on the key service of the data directory, as the
// user commands do on identity: `anzen keys encrypt NAME` and the other
// operations are Unix filters (input on standard input, result on standard
// output, one line "anzen: reason" and a non-zero exit on failure).
// Changes are recorded with the actor "cli:<OS user>" and each use of a key
// as the system caller "cli:<OS user>" at "local"; the command that opens
// anzen also unseals it (ANZEN_UNSEAL_PASSPHRASE, ANZEN_UNSEAL_FILE, the
// generated passphrase file or the terminal).

func init() {
	extraCommands = append(extraCommands, newKeysCommand)
	keysSubcommands = append(keysSubcommands, newKeysCreateCommand, newKeysListCommand, newKeysShowCommand,
		newKeysRotateCommand, newKeysDisableCommand, newKeysEnableCommand)
}

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

// keysActor is who runs a command, as the audit log names them.
func keysActor() keys.Actor {
	return keys.Actor{Login: cliActor().Login, Client: "local"}
}

// keysCaller is who uses a key from the command line: anzen itself on
// behalf of the OS user, so the key's grants do not apply.
func keysCaller() keys.Caller { return keys.SystemCaller(cliActor().Login) }

// keysFlags names the flag or argument that sets each field of a key.
var keysFlags = map[string]string{"name": "NAME", "purpose": "--purpose", "algorithm": "--algorithm",
	"owner": "--owner", "rotation": "--rotation", "min_decrypt_version": "--version"}

// explainKeys turns the key service's errors into readable reasons: one
// line per invalid flag, and the name of an unknown key.
func explainKeys(a *app.App, err error, name string) error {
	var ve *keys.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		var c fieldCheck
		for field, msgID := range ve.Fields {
			flag, ok := keysFlags[field]
			if !ok {
				flag = field
			}
			c.add(flag, "%s", a.Catalog.T("en", msgID, nil))
		}
		return c.err()
	case errors.Is(err, keys.ErrNotFound) && name != "":
		return fmt.Errorf("no key named %q", name)
	}
	return err
}

// withKeys opens anzen, runs fn with it, and closes it (which records the
// key uses counted meanwhile); fn's error is explained for key name.
func withKeys(cmd *cobra.Command, g *globalFlags, name string, fn func(a *app.App) error) error {
	a, err := g.open(cmd.Context(), map[string]string{})
	if err != nil {
		return err
	}
	defer a.Close()
	return explainKeys(a, fn(a), name)
}

func joinPurposes() string {
	names := make([]string, len(keys.Purposes))
	for i, p := range keys.Purposes {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func joinAlgorithms() string {
	names := make([]string, len(keys.Algorithms))
	for i, p := range keys.Algorithms {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// parseRotation reads a rotation period: days as "365d", or a Go duration
// such as "12h"; "0" or "" for none.
func parseRotation(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q is not a number of days from 0 to 3650, such as 365d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a period such as 365d or 12h", s)
	}
	return d, nil
}

// rotationText writes a rotation period in days when it is whole days.
func rotationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "none"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// keysCreate holds the flags of `anzen keys create`.
type keysCreate struct {
	purpose, algorithm, owner, rotation string
}

func newKeysCreateCommand(g *globalFlags) *cobra.Command {
	var o keysCreate
	cmd := &cobra.Command{
		Use:   "create NAME --purpose P",
		Short: "Create a key with its first version",
		Long: "Create a key for one purpose. The algorithm defaults to the purpose's: ed25519 for signing " +
			"and audit-checkpoint, aes256-gcm for the others. Nobody may use the key through the API until " +
			"grants are set (the command line itself needs none).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.purpose, "purpose", "", "what the key is for: "+joinPurposes())
	f.StringVar(&o.algorithm, "algorithm", "", "algorithm (default: the purpose's): "+joinAlgorithms())
	f.StringVar(&o.owner, "owner", "", "who is responsible for the key (department or person)")
	f.StringVar(&o.rotation, "rotation", "", "automatic rotation period, such as 365d or 12h (default: none)")
	return cmd
}

func (o *keysCreate) run(cmd *cobra.Command, g *globalFlags, name string) error {
	var check fieldCheck
	if o.purpose == "" {
		check.add("--purpose", "required (one of %s)", joinPurposes())
	}
	period, err := parseRotation(o.rotation)
	if err != nil {
		check.add("--rotation", "%v", err)
	}
	if err := check.err(); err != nil {
		return err
	}
	return withKeys(cmd, g, "", func(a *app.App) error {
		k, err := a.Keys.Create(cmd.Context(), keysActor(), keys.NewKey{Name: name, Purpose: keys.Purpose(o.purpose),
			Algorithm: keys.Algorithm(o.algorithm), Owner: o.owner, RotationPeriod: period})
		if err != nil {
			return err
		}
		v := k.Latest()
		fmt.Fprintf(cmd.OutOrStdout(), "created key %s: purpose %s, algorithm %s, version %d in root %s, rotation %s\n",
			k.Name, k.Purpose, k.Algorithm, v.Version, v.Root, rotationText(k.RotationPeriod))
		if k.Algorithm.Signing() && !v.InHSM {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning: this signing key is kept under the local root, not in an HSM; "+
				"it does not meet the guideline's storage-device requirement for signature keys")
		}
		return nil
	})
}

func newKeysListCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every key with purpose, algorithm, active version and next rotation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd, g, "", func(a *app.App) error {
				list, err := a.Keys.List(cmd.Context())
				if err != nil {
					return err
				}
				infos := make([]keys.KeyInfo, 0, len(list))
				for _, k := range list {
					infos = append(infos, keys.InfoOf(k))
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), infos)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPURPOSE\tALGORITHM\tACTIVE\tVERSIONS\tROTATION\tNEXT ROTATION\tOWNER")
				for _, k := range infos {
					active := "none"
					if k.ActiveVersion > 0 {
						active = strconv.Itoa(k.ActiveVersion)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", k.Name, k.Purpose, k.Algorithm, active,
						len(k.Versions), rotationText(k.RotationPeriod), timeText(a, k.NextRotation, "-"), k.Owner)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newKeysShowCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's versions, their states, the next rotation and the grants",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				k, err := a.Keys.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				grants, err := a.Keys.Grants(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if grants == nil {
					grants = []keys.Grant{}
				}
				d := keys.KeyDetail{KeyInfo: keys.InfoOf(k), Grants: grants}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), d)
				}
				return writeKey(cmd.OutOrStdout(), a, d)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// writeKey writes a key's details as text.
func writeKey(w io.Writer, a *app.App, d keys.KeyDetail) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ops := make([]string, len(d.Operations))
	for i, o := range d.Operations {
		ops[i] = string(o)
	}
	fmt.Fprintf(tw, "name:\t%s\npurpose:\t%s\nalgorithm:\t%s (%s)\nowner:\t%s\ncreated:\t%s\n", d.Name, d.Purpose,
		d.Algorithm, strings.Join(ops, ", "), d.Owner, timeText(a, d.CreatedAt, "-"))
	fmt.Fprintf(tw, "rotation:\t%s\nnext rotation:\t%s\nmin decrypt version:\t%d\n", rotationText(d.RotationPeriod),
		timeText(a, d.NextRotation, "-"), d.MinDecryptVersion)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tROOT\tIN HSM\tCREATED")
	for _, v := range d.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.State, v.Root, yesNo(v.InHSM), timeText(a, v.CreatedAt, "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(d.Grants) == 0 {
		fmt.Fprintln(w, "grants: none (only anzen itself and the command line may use the key)")
		return nil
	}
	fmt.Fprintln(w, "grants:")
	for _, gr := range d.Grants {
		ops := make([]string, len(gr.Operations))
		for i, o := range gr.Operations {
			ops[i] = string(o)
		}
		fmt.Fprintf(w, "  %s %s: %s\n", gr.Kind, gr.Subject, strings.Join(ops, ", "))
	}
	return nil
}

func newKeysRotateCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate NAME",
		Short: "Add a new version that encrypts and signs from now on; older ones stay decrypt-only",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				k, err := a.Keys.Rotate(cmd.Context(), keysActor(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rotated key %s: version %d is active, older versions decrypt only\n",
					k.Name, k.Latest().Version)
				return nil
			})
		},
	}
}

func newKeysDisableCommand(g *globalFlags) *cobra.Command { return newKeysStateCommand(g, false) }

func newKeysEnableCommand(g *globalFlags) *cobra.Command { return newKeysStateCommand(g, true) }

// newKeysStateCommand makes `anzen keys disable` or `anzen keys enable`.
func newKeysStateCommand(g *globalFlags, enable bool) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "disable NAME --version N",
		Short: "Stop a key version from encrypting, decrypting, signing and verifying until enabled again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version < 1 {
				return fieldErrors{"--version: required, the version number (see anzen keys show)"}
			}
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				if err := a.Keys.SetVersionState(cmd.Context(), keysActor(), args[0], version, enable); err != nil {
					if errors.Is(err, keys.ErrVersion) {
						return fmt.Errorf("key %s has no version %d that can be changed (unknown or destroyed)", args[0], version)
					}
					return err
				}
				k, err := a.Keys.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key %s version %d is now %s\n", k.Name, version, k.Version(version).State)
				return nil
			})
		},
	}
	if enable {
		cmd.Use = "enable NAME --version N"
		cmd.Short = "Make a disabled key version usable again (active when newest, else decrypt-only)"
	}
	cmd.Flags().IntVar(&version, "version", 0, "the version number")
	return cmd
}
