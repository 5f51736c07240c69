package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteExample writes a commented TOML file with every key at its default,
// in both languages, as `anzen config example` prints it.
func WriteExample(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# anzen configuration / anzen 設定ファイル\n")
	b.WriteString("# Every key is optional; the value shown is the default. ANZEN_* environment variables override this file.\n")
	b.WriteString("# すべて省略できます。表示している値が既定値です。ANZEN_* 環境変数がこのファイルより優先されます。\n")
	section := ""
	for _, o := range options {
		sec, name := "", o.Key
		if i := strings.LastIndex(o.Key, "."); i >= 0 {
			sec, name = o.Key[:i], o.Key[i+1:]
		}
		if sec != section {
			fmt.Fprintf(&b, "\n[%s]\n", sec)
			section = sec
		}
		fmt.Fprintf(&b, "\n# %s\n# %s\n# env: %s\n", o.HelpEN, o.HelpJA, o.Env)
		fmt.Fprintf(&b, "# %s = %s\n", name, tomlLiteral(o))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the table of settings for docs/configuration.md.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| key | environment | default | meaning | 説明 |\n| --- | --- | --- | --- | --- |\n")
	for _, o := range options {
		def := "(empty)"
		if o.Default != "" {
			def = "`" + o.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", o.Key, o.Env, def, o.HelpEN, o.HelpJA)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tomlLiteral(o option) string {
	d := o.Default
	switch {
	case d == "true" || d == "false":
		return d
	case isDigits(d):
		return d
	case strings.HasSuffix(o.Key, "required_roles") || strings.HasSuffix(o.Key, "trusted_proxies"):
		if d == "" {
			return "[]"
		}
		parts := strings.Split(d, ",")
		for i, p := range parts {
			parts[i] = fmt.Sprintf("%q", p)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf("%q", d)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
