package config

import (
	"errors"
	"strings"
)

// DetectConfig is the configuration of log analysis.
type DetectConfig struct {
	// Rules are the hospital's rule files and folders, run besides the
	// built-in packs.
	Rules []string
}

// detectOptions are the settings of log analysis.
var detectOptions = []option{
	{"detect.rules", "ANZEN_DETECT_RULES", "",
		"The hospital's Sigma rule files and folders, run over the audit log besides the built-in medical pack (a list; folders are read for *.yml and *.yaml). A file that cannot be run is left out and named in the log at start; check files first with anzen detect check. Empty: the built-in pack only.",
		"組み込みの医療向けルールパックに加えて監査ログに実行する、病院の Sigma ルールのファイルとフォルダー（リスト。フォルダーは *.yml と *.yaml を読みます）。実行できないファイルは除き、起動時のログに名前と理由を出します。事前に anzen detect check で確かめてください。空欄なら組み込みのパックだけです。",
		func(c *Config, v value) error { return v.list(&c.Detect.Rules, rulePath) },
		func(c *Config) string { return strings.Join(c.Detect.Rules, ",") }},
}

// rulePath checks one entry of detect.rules.
func rulePath(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("an empty path")
	}
	return nil
}
