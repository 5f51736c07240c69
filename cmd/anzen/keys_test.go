package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
)

// mustPipe runs anzen with stdin and fails the test when it fails.
func (c *cliEnv) mustPipe(stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.err != nil {
		c.t.Fatalf("anzen %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.errOut)
	}
	return r
}

// refuses runs anzen with stdin and checks that it fails with a reason
// containing want and writes nothing on standard output.
func (c *cliEnv) refuses(want, stdin string, args ...string) {
	c.t.Helper()
	r := c.run(stdin, args...)
	switch {
	case r.err == nil:
		c.t.Errorf("anzen %s succeeded: %q", strings.Join(args, " "), r.out)
	case !strings.Contains(r.err.Error(), want):
		c.t.Errorf("anzen %s: %q, want a reason with %q", strings.Join(args, " "), r.err, want)
	case strings.Contains(r.err.Error(), "\n"):
		c.t.Errorf("anzen %s: the reason is not one line: %q", strings.Join(args, " "), r.err)
	}
	if r.out != "" {
		c.t.Errorf("anzen %s wrote %q on standard output while failing", strings.Join(args, " "), r.out)
	}
}

// ciphertextLine returns the one line of a ciphertext or signature that a
// command printed.
func ciphertextLine(t *testing.T, r result) string {
	t.Helper()
	if !strings.HasPrefix(r.out, keys.TextPrefix) || !strings.HasSuffix(r.out, "\n") || strings.Count(r.out, "\n") != 1 {
		t.Fatalf("stdout is %q, want one line anzen:... and a newline", r.out)
	}
	return r.out
}

func TestKeysCLI_EncryptDecryptPipeRoundTripNeedsTheContext(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			if r := c.mustRun("keys", "create", "ehr-notes", "--purpose", "storage", "--rotation", "365d",
				"--owner", "医療情報部"); !strings.Contains(r.out, "created key ehr-notes: purpose storage, algorithm aes256-gcm") ||
				!strings.Contains(r.out, "rotation 365d") {
				t.Fatalf("create said %q", r.out)
			}
			plain := "既往歴：特記事項なし\n\x00\xff binary tail without newline"
			ctx := []string{"--context", "patient=P-000123", "--context", "column=body,text"}
			ct := ciphertextLine(t, c.mustPipe(plain, append([]string{"keys", "encrypt", "ehr-notes"}, ctx...)...))
			if strings.Contains(ct, "P-000123") {
				t.Fatal("the ciphertext shows the context")
			}
			// The pairs may come in any order.
			back := c.mustPipe(ct, "keys", "decrypt", "--context", "column=body,text", "--context", "patient=P-000123")
			if back.out != plain {
				t.Fatalf("decrypt wrote %q, want %q", back.out, plain)
			}
			c.refuses("--context pairs do not match", ct, "keys", "decrypt", "--context", "patient=P-000124",
				"--context", "column=body,text")
			c.refuses("--context pairs do not match", ct, "keys", "decrypt")
			c.refuses("--context pairs do not match", ct, "keys", "decrypt", "--context", "patient=P-000123")
			raw, _ := keys.DecodeText(ct)
			raw[len(raw)-3] ^= 1
			c.refuses("--context pairs do not match", keys.EncodeText(raw), append([]string{"keys", "decrypt"}, ctx...)...)
			c.refuses("not an anzen ciphertext", "hello", "keys", "decrypt")
			c.refuses("not an anzen ciphertext", "", "keys", "decrypt")
			c.refuses("no key named \"nope\"", "x", "keys", "encrypt", "nope")
			c.refuses("expected key=value", "x", "keys", "encrypt", "ehr-notes", "--context", "patient")
			c.refuses("given twice", "x", "keys", "encrypt", "ehr-notes", "--context", "a=1", "--context", "a=2")
			c.refuses("accepts 1 arg", "x", "keys", "encrypt")
			empty := ciphertextLine(t, c.mustPipe("", "keys", "encrypt", "ehr-notes"))
			if r := c.mustPipe(empty, "keys", "decrypt"); r.out != "" {
				t.Fatalf("empty plaintext came back as %q", r.out)
			}

			a := c.open()
			eventsBy(t, a, "key.create")
			uses, _, err := a.Audit.Search(context.Background(), audit.Filter{Action: "key.use", AllFacilities: true})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, u := range uses {
				seen[u.Detail["operation"]+" "+u.Detail["result"]] = true
				if want := "system:" + cliActor().Login; u.ActorLogin != want || u.ClientAddr != "local" {
					t.Errorf("use recorded as %q at %q, want %q at local", u.ActorLogin, u.ClientAddr, want)
				}
				if strings.Contains(u.Detail["context_keys"], "P-000123") {
					t.Errorf("a context value reached the audit log: %v", u.Detail)
				}
			}
			for _, want := range []string{"encrypt success", "decrypt success", "decrypt context_mismatch"} {
				if !seen[want] {
					t.Errorf("no key.use record %q in %v", want, seen)
				}
			}
		})
	}
}

func TestKeysCLI_RewrapAfterRotateKeepsDataReadable(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			c.mustRun("keys", "create", "backup", "--purpose", "backup")
			v1 := ciphertextLine(t, c.mustPipe("generation 1", "keys", "encrypt", "backup", "--context", "file=daily.tar"))
			if r := c.mustRun("keys", "rotate", "backup"); !strings.Contains(r.out, "version 2 is active") {
				t.Fatalf("rotate said %q", r.out)
			}
			if r := c.mustPipe(v1, "keys", "decrypt", "--context", "file=daily.tar"); r.out != "generation 1" {
				t.Fatalf("old ciphertext after rotation: %q", r.out)
			}
			v2 := ciphertextLine(t, c.mustPipe(v1, "keys", "rewrap", "--context", "file=daily.tar"))
			h1, _ := keys.DecodeText(v1)
			h2, _ := keys.DecodeText(v2)
			if v1 == v2 || bytes.Equal(h1[:6], h2[:6]) {
				t.Fatalf("rewrap did not move the ciphertext to version 2:\n%s%s", v1, v2)
			}
			c.refuses("--context pairs do not match", v1, "keys", "rewrap", "--context", "file=other.tar")
			if r := c.mustPipe(v2, "keys", "decrypt", "--context", "file=daily.tar"); r.out != "generation 1" {
				t.Fatalf("rewrapped ciphertext: %q", r.out)
			}

			if r := c.mustRun("keys", "disable", "backup", "--version", "2"); !strings.Contains(r.out, "version 2 is now disabled") {
				t.Fatalf("disable said %q", r.out)
			}
			c.refuses("key version is unknown, disabled", v2, "keys", "decrypt", "--context", "file=daily.tar")
			c.refuses("key version is unknown, disabled", "x", "keys", "encrypt", "backup")
			if r := c.mustRun("keys", "enable", "backup", "--version", "2"); !strings.Contains(r.out, "version 2 is now active") {
				t.Fatalf("enable said %q", r.out)
			}
			c.mustPipe(v2, "keys", "decrypt", "--context", "file=daily.tar")
			c.refuses("--version: required", "", "keys", "disable", "backup")
			c.refuses("has no version 7", "", "keys", "disable", "backup", "--version", "7")
			c.refuses(`no key named "nope"`, "", "keys", "rotate", "nope")

			var shown keys.KeyDetail
			if err := json.Unmarshal([]byte(c.mustRun("keys", "show", "backup", "--json").out), &shown); err != nil {
				t.Fatal(err)
			}
			if shown.ActiveVersion != 2 || len(shown.Versions) != 2 || shown.Versions[0].State != keys.DecryptOnly ||
				shown.Grants == nil {
				t.Fatalf("show --json: %+v", shown)
			}
			if text := c.mustRun("keys", "show", "backup").out; !strings.Contains(text, "decrypt-only") ||
				!strings.Contains(text, "grants: none") {
				t.Fatalf("show:\n%s", text)
			}
			a := c.open()
			for _, action := range []string{"key.rotate", "key.disable", "key.enable"} {
				eventsBy(t, a, action)
			}
		})
	}
}

func TestKeysCLI_SignThenVerifyExitsByTheAnswer(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			r := c.mustRun("keys", "create", "checkpoints", "--purpose", "signing")
			if !strings.Contains(r.out, "algorithm ed25519") || !strings.Contains(r.errOut, "does not meet") {
				t.Fatalf("create of a local signing key: %q %q", r.out, r.errOut)
			}
			c.mustRun("keys", "create", "other-signer", "--purpose", "audit-checkpoint", "--algorithm", "ecdsa-p256")
			msg := "checkpoint 42\n"
			sig := strings.TrimSpace(ciphertextLine(t, c.mustPipe(msg, "keys", "sign", "checkpoints")))
			if r := c.mustPipe(msg, "keys", "verify", "--signature", sig); r.out != "valid: signed by key checkpoints version 1\n" {
				t.Fatalf("verify said %q", r.out)
			}
			c.mustPipe(msg, "keys", "verify", "--signature", sig, "--key", "checkpoints")
			c.refuses("does not match the message", "checkpoint 43\n", "keys", "verify", "--signature", sig)
			c.refuses("made by key checkpoints, not other-signer", msg, "keys", "verify", "--signature", sig,
				"--key", "other-signer")
			c.refuses("--signature: required", msg, "keys", "verify")
			c.refuses("not an anzen signature", msg, "keys", "verify", "--signature", "c2lnbmF0dXJl")
			c.refuses("does not support this operation", "x", "keys", "encrypt", "other-signer")
		})
	}
}

func TestKeysCLI_DataKeyOpensWithDecrypt(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			c.mustRun("keys", "create", "pacs", "--purpose", "transport")
			var dk keys.DataKeyResponse
			out := c.mustRun("keys", "datakey", "pacs", "--context", "study=1.2.392").out
			if err := json.Unmarshal([]byte(out), &dk); err != nil {
				t.Fatalf("datakey wrote %q: %v", out, err)
			}
			key, err := base64.StdEncoding.DecodeString(dk.Plaintext)
			if err != nil || len(key) != 32 || !strings.HasPrefix(dk.Wrapped, keys.TextPrefix) {
				t.Fatalf("datakey: %+v", dk)
			}
			if r := c.mustPipe(dk.Wrapped+"\n", "keys", "decrypt", "--context", "study=1.2.392"); r.out != string(key) {
				t.Fatal("the wrapped data key decrypts to another key")
			}
			c.refuses("--context pairs do not match", dk.Wrapped, "keys", "decrypt", "--context", "study=1.2.393")
			out = c.mustRun("keys", "datakey", "pacs", "--wrapped-only").out
			if strings.Contains(out, `"plaintext"`) || !strings.Contains(out, `"wrapped": "anzen:`) {
				t.Fatalf("datakey --wrapped-only wrote %q", out)
			}
			c.refuses("does not support this operation", "", "keys", "sign", "pacs")
		})
	}
}

func TestKeysCLI_CreateRefusesBadInputAndChangesNothing(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.mustRun("keys", "create", "ehr-notes", "--purpose", "storage")
	before := c.mustRun("keys", "list", "--json").out
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"--purpose: required", []string{"new-key"}},
		{"NAME: A key name has up to 63", []string{"New Key", "--purpose", "storage"}},
		{"--purpose: Please choose a purpose", []string{"new-key", "--purpose", "fun"}},
		{"--algorithm: This algorithm does not fit the purpose", []string{"new-key", "--purpose", "signing", "--algorithm", "aes256-gcm"}},
		{"--rotation: \"1y\" is not a period", []string{"new-key", "--purpose", "storage", "--rotation", "1y"}},
		{"--rotation: \"9999d\" is not a number of days", []string{"new-key", "--purpose", "storage", "--rotation", "9999d"}},
		{"--rotation: The rotation period is between 1 hour", []string{"new-key", "--purpose", "storage", "--rotation", "30m"}},
		{"NAME: A key with this name exists already", []string{"ehr-notes", "--purpose", "storage"}},
	} {
		c.refuses(tt.want, "", append([]string{"keys", "create"}, tt.args...)...)
	}
	if after := c.mustRun("keys", "list", "--json").out; after != before {
		t.Fatalf("refused creates changed the keys:\n%s\n%s", before, after)
	}
	table := c.mustRun("keys", "list").out
	if !strings.Contains(table, "ehr-notes") || !strings.Contains(table, "aes256-gcm") || !strings.HasPrefix(table, "NAME") {
		t.Fatalf("list:\n%s", table)
	}
}
