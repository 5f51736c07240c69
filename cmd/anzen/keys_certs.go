package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/keys"
)

// Certificates of signing keys: `anzen keys csr` prints a certificate
// signing request for the CA, `anzen keys import-cert` stores what the CA
// issued, `anzen keys certs` lists them.

func init() {
	keysSubcommands = append(keysSubcommands, newKeysCSRCommand, newKeysImportCertCommand, newKeysCertsCommand)
}

func newKeysCSRCommand(g *globalFlags) *cobra.Command {
	var subject string
	var dnsNames []string
	cmd := &cobra.Command{
		Use:   "csr NAME --subject \"CN=...,O=...,C=JP\"",
		Short: "Print a certificate signing request (PEM) signed by a signing key, for the CA",
		Long: "Print a PKCS #10 certificate signing request for the subject, signed by the signing key's active " +
			"version; a key held by the HSM signs inside it. Send it to the certification authority and import " +
			"what it issues with `anzen keys import-cert NAME < chain.pem`. The subject is written CN=...,O=...,C=JP " +
			"(attributes CN, O, OU, C, ST, L, STREET, POSTALCODE, SERIALNUMBER; a comma inside a value as \\,).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var check fieldCheck
			if strings.TrimSpace(subject) == "" {
				check.add("--subject", "required, such as \"CN=anzen e-prescription,O=Example Hospital,C=JP\"")
			}
			name, err := keys.ParseSubject(subject)
			if subject != "" && err != nil {
				check.add("--subject", "%v", err)
			}
			if len(dnsNames) > keys.MaxDNSNames {
				check.add("--dns", "at most %d DNS names", keys.MaxDNSNames)
			}
			if err := check.err(); err != nil {
				return err
			}
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				csr, err := a.Keys.CSR(cmd.Context(), keysActor(), args[0], name, dnsNames...)
				if err != nil {
					return explainLifecycle(a, err, args[0])
				}
				_, err = cmd.OutOrStdout().Write(csr)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "the certificate's subject: CN=...,O=...,C=JP")
	cmd.Flags().StringSliceVar(&dnsNames, "dns", nil, "a DNS name for the certificate (repeated or comma-separated)")
	return cmd
}

func newKeysImportCertCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "import-cert NAME < chain.pem",
		Short: "Store the certificate a CA issued for a signing key, with its chain (PEM on standard input)",
		Long: "Read the certificate chain in PEM from standard input, leaf first, then each issuer, and store it " +
			"for the signing key. The leaf's public key must be one of the key's versions and each certificate " +
			"must be signed by the next. Issuer, subject, serial, validity, certificate policies and the HPKI role " +
			"(hcRole) are read from the leaf and printed. anzen warns 90, 30 and 7 days before it ends.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			chain, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), keys.MaxChainPEM+1))
			if err != nil {
				return fmt.Errorf("read the chain from standard input: %w", err)
			}
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				c, err := a.Keys.ImportCertificate(cmd.Context(), keysActor(), args[0], chain)
				if err != nil {
					return explainLifecycle(a, err, args[0])
				}
				return printCertificate(cmd.OutOrStdout(), a, c)
			})
		},
	}
}

func printCertificate(out io.Writer, a *app.App, c *keys.Certificate) error {
	roles := make([]string, len(c.HPKIRoles))
	for i, r := range c.HPKIRoles {
		roles[i] = r.Text
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "key\t%s (version %d)\n", c.Key, c.Version)
	fmt.Fprintf(tw, "subject\t%s\n", c.Subject)
	fmt.Fprintf(tw, "issuer\t%s\n", c.Issuer)
	fmt.Fprintf(tw, "serial\t%s\n", c.Serial)
	fmt.Fprintf(tw, "valid\t%s to %s\n", timeText(a, c.NotBefore, ""), timeText(a, c.NotAfter, ""))
	fmt.Fprintf(tw, "policies\t%s\n", strings.Join(c.Policies, ", "))
	fmt.Fprintf(tw, "HPKI roles\t%s\n", strings.Join(roles, ", "))
	fmt.Fprintf(tw, "SHA-256\t%s\n", c.Fingerprint)
	return tw.Flush()
}

func newKeysCertsCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "certs NAME",
		Short: "List a signing key's certificates, the latest-ending first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				list, err := a.Keys.Certificates(cmd.Context(), args[0])
				if err != nil {
					return explainLifecycle(a, err, args[0])
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(list)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tSERIAL\tSUBJECT\tISSUER\tNOT AFTER\tHPKI ROLES")
				for _, c := range list {
					roles := make([]string, len(c.HPKIRoles))
					for i, r := range c.HPKIRoles {
						roles[i] = r.Text
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.Version, c.Serial, c.Subject, c.Issuer,
						timeText(a, c.NotAfter, ""), strings.Join(roles, ","))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}
