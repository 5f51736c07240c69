package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/keys"
)

// The key operations as Unix filters: `anzen keys encrypt NAME` reads the
// plaintext on standard input and writes the ciphertext's text form and a
// newline; `anzen keys decrypt` reads a ciphertext and writes the plaintext
// exactly as it was.

func init() {
	keysSubcommands = append(keysSubcommands, newKeysEncryptCommand, newKeysDecryptCommand, newKeysRewrapCommand,
		newKeysDataKeyCommand, newKeysSignCommand, newKeysVerifyCommand)
}

// maxTextInput is the most a command reads as a ciphertext or signature:
// the text form of the largest ciphertext, with room for its header.
const maxTextInput = keys.MaxPlaintext/3*4 + 4096

// readInput reads standard input, refusing more than limit bytes.
func readInput(cmd *cobra.Command, limit int, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s from standard input: %w", what, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("the %s on standard input is larger than %d bytes", what, limit)
	}
	return b, nil
}

// readBlob reads the text form of a ciphertext, wrapped data key or
// signature from standard input.
func readBlob(cmd *cobra.Command, what string) ([]byte, error) {
	text, err := readInput(cmd, maxTextInput, what)
	if err != nil {
		return nil, err
	}
	b, err := keys.DecodeText(string(text))
	if err != nil {
		return nil, fmt.Errorf("standard input is not an anzen %s (anzen:...)", what)
	}
	return b, nil
}

// contextFlag adds --context to cmd.
func contextFlag(cmd *cobra.Command, pairs *[]string) {
	cmd.Flags().StringArrayVar(pairs, "context", nil,
		"encryption context pair key=value, repeated (patient id, table, column ...); decryption needs the same pairs")
}

// parseContextFlag reads the --context pairs.
func parseContextFlag(pairs []string) (keys.Context, error) {
	ec, err := keys.ParseContext(pairs)
	if err != nil {
		return nil, fieldErrors{"--context: " + err.Error()}
	}
	return ec, nil
}

// explainOp words the errors of a key operation for the command line.
func explainOp(err error) error {
	switch {
	case errors.Is(err, keys.ErrContext):
		return errors.New("the --context pairs do not match those the data was encrypted with, or the ciphertext was altered")
	case errors.Is(err, keys.ErrVersion):
		return errors.New("the key version is unknown, disabled, destroyed or below the minimum decryption version " +
			"(or the key has no active version)")
	}
	return err
}

func newKeysEncryptCommand(g *globalFlags) *cobra.Command {
	var pairs []string
	cmd := &cobra.Command{
		Use:   "encrypt NAME [--context k=v ...]",
		Short: "Encrypt standard input; write the ciphertext (anzen:...) and a newline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ec, err := parseContextFlag(pairs)
			if err != nil {
				return err
			}
			plain, err := readInput(cmd, keys.MaxPlaintext, "plaintext")
			if err != nil {
				return err
			}
			defer clear(plain)
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				ct, err := a.Keys.Encrypt(cmd.Context(), keysCaller(), args[0], plain, ec)
				if err != nil {
					return explainOp(err)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), keys.EncodeText(ct))
				return err
			})
		},
	}
	contextFlag(cmd, &pairs)
	return cmd
}

func newKeysDecryptCommand(g *globalFlags) *cobra.Command {
	var pairs []string
	cmd := &cobra.Command{
		Use:   "decrypt [--context k=v ...]",
		Short: "Decrypt the ciphertext on standard input; write the plaintext exactly",
		Long: "Decrypt the ciphertext (anzen:...) on standard input with the context it was made with, and " +
			"write the plaintext to standard output as it was, with nothing added. The ciphertext names its " +
			"key. A wrapped data key from `anzen keys datakey` decrypts to the 32 bytes of the data key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ec, err := parseContextFlag(pairs)
			if err != nil {
				return err
			}
			blob, err := readBlob(cmd, "ciphertext")
			if err != nil {
				return err
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				plain, err := a.Keys.Decrypt(cmd.Context(), keysCaller(), blob, ec)
				if errors.Is(err, keys.ErrMalformed) {
					// Perhaps a wrapped data key rather than a ciphertext.
					if dek, derr := a.Keys.DecryptDataKey(cmd.Context(), keysCaller(), blob, ec); !errors.Is(derr, keys.ErrMalformed) {
						plain, err = dek, derr
					}
				}
				if err != nil {
					return explainOp(err)
				}
				defer clear(plain)
				_, err = cmd.OutOrStdout().Write(plain)
				return err
			})
		},
	}
	contextFlag(cmd, &pairs)
	return cmd
}

func newKeysRewrapCommand(g *globalFlags) *cobra.Command {
	var pairs []string
	cmd := &cobra.Command{
		Use:   "rewrap [--context k=v ...]",
		Short: "Move the ciphertext on standard input to its key's newest version, without decrypting the data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ec, err := parseContextFlag(pairs)
			if err != nil {
				return err
			}
			blob, err := readBlob(cmd, "ciphertext")
			if err != nil {
				return err
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				out, err := a.Keys.Rewrap(cmd.Context(), keysCaller(), blob, ec)
				if err != nil {
					return explainOp(err)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), keys.EncodeText(out))
				return err
			})
		},
	}
	contextFlag(cmd, &pairs)
	return cmd
}

func newKeysDataKeyCommand(g *globalFlags) *cobra.Command {
	var pairs []string
	var wrappedOnly bool
	cmd := &cobra.Command{
		Use:   "datakey NAME [--context k=v ...] [--wrapped-only]",
		Short: "Make a data key; write JSON with the key (base64) and its wrapped form",
		Long: "Make a fresh 256-bit data key for a program to encrypt with itself, and write " +
			`{"plaintext": base64, "wrapped": "anzen:..."} to standard output. Store the wrapped form beside ` +
			"the data; `anzen keys decrypt` (or the API) opens it again with the same context. With " +
			"--wrapped-only the key itself is not written.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ec, err := parseContextFlag(pairs)
			if err != nil {
				return err
			}
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				dek, wrapped, err := a.Keys.DataKey(cmd.Context(), keysCaller(), args[0], ec, !wrappedOnly)
				if err != nil {
					return explainOp(err)
				}
				resp := keys.DataKeyResponse{Wrapped: keys.EncodeText(wrapped)}
				if !wrappedOnly {
					resp.Plaintext = base64.StdEncoding.EncodeToString(dek)
					clear(dek)
				}
				return writeJSON(cmd.OutOrStdout(), resp)
			})
		},
	}
	contextFlag(cmd, &pairs)
	cmd.Flags().BoolVar(&wrappedOnly, "wrapped-only", false, "write only the wrapped form, not the data key")
	return cmd
}

func newKeysSignCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "sign NAME",
		Short: "Sign the message on standard input; write the signature (anzen:...) and a newline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := readInput(cmd, keys.MaxPlaintext, "message")
			if err != nil {
				return err
			}
			return withKeys(cmd, g, args[0], func(a *app.App) error {
				sig, err := a.Keys.Sign(cmd.Context(), keysCaller(), args[0], msg)
				if err != nil {
					return explainOp(err)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), keys.EncodeText(sig))
				return err
			})
		},
	}
}

func newKeysVerifyCommand(g *globalFlags) *cobra.Command {
	var signature, want string
	cmd := &cobra.Command{
		Use:   "verify --signature S [--key NAME]",
		Short: "Check a signature or MAC over the message on standard input (exit 0 valid, 1 not)",
		Long: "Check a signature made by `anzen keys sign` (or a MAC made through the API's hmac) over the " +
			"message on standard input. It exits 0 and names the signing key and version when the signature " +
			"holds, and exits 1 with one line saying why when it does not. The signature names its key; " +
			"--key also requires that it be that key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if signature == "" {
				return fieldErrors{"--signature: required, the signature (anzen:...)"}
			}
			sig, err := keys.DecodeText(signature)
			if err != nil {
				return errors.New("--signature: not an anzen signature (anzen:...)")
			}
			msg, err := readInput(cmd, keys.MaxPlaintext, "message")
			if err != nil {
				return err
			}
			return withKeys(cmd, g, "", func(a *app.App) error {
				key, version, err := a.Keys.Signer(cmd.Context(), sig)
				if err != nil {
					return explainOp(err)
				}
				if want != "" && key != want {
					return fmt.Errorf("the signature was made by key %s, not %s", key, want)
				}
				if err := a.Keys.Verify(cmd.Context(), keysCaller(), msg, sig); err != nil {
					if errors.Is(err, keys.ErrBadSignature) {
						return fmt.Errorf("the signature does not match the message (key %s version %d)", key, version)
					}
					return explainOp(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "valid: signed by key %s version %d\n", key, version)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&signature, "signature", "", "the signature or MAC (anzen:...)")
	cmd.Flags().StringVar(&want, "key", "", "require the signature to be made by this key")
	return cmd
}
