package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testRule = `title: Export
id: r-export
name: export
logsource: {product: anzen, category: access}
detection:
  selection: {action: export}
  condition: selection
level: high
`

const testCorrelation = `title: Many exports
id: c-many-exports
correlation:
  type: event_count
  rules: [export]
  group-by: [user]
  timespan: 1h
  condition: {gte: 3}
level: critical
`

// writeRules writes files (name → content) under a new folder.
func writeRules(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadRuleFiles_FoldersAreWalkedInNameOrder(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"b/export.yml":       testRule,
		"a/many.yaml":        testCorrelation, // refers to a rule in a later file
		"a/notes.txt":        "not a rule",
		".git/ignored.yml":   "title: [",
		"c/.hidden/x.yml":    "title: [",
		"c/broken.yml":       "title: Broken\nlogsource: {product: anzen}\ndetection:\n  selection: {action|foo: x}\n  condition: selection\n",
		"c/missing_base.yml": strings.NewReplacer("[export]", "[no-such-rule]", "c-many-exports", "c-other").Replace(testCorrelation),
	})
	files, err := LoadRuleFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f.Path)
		state := "loaded"
		if !f.Loaded() {
			state = "rejected: " + f.Err.Error()
		}
		got = append(got, rel+" "+state)
	}
	want := []string{
		"a/many.yaml loaded",
		"b/export.yml loaded",
		"c/broken.yml rejected",
		"c/missing_base.yml rejected",
	}
	if len(got) != len(want) {
		t.Fatalf("files:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("file %d: %s, want %s", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[2], "foo") {
		t.Errorf("the reason does not name the modifier: %s", got[2])
	}
	if !strings.Contains(got[3], "no-such-rule") {
		t.Errorf("the reason does not name the missing rule: %s", got[3])
	}
	if loaded, rejected := files.Counts(); loaded != 2 || rejected != 2 {
		t.Errorf("counts %d, %d", loaded, rejected)
	}
	if n := len(files.Rules()); n != 1 {
		t.Errorf("%d rules", n)
	}
	if n := len(files.Correlations()); n != 1 {
		t.Errorf("%d correlations", n)
	}
}

func TestLoadRuleFiles_AFileIsLoadedWholeOrNotAtAll(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"two.yml": testRule + "---\ntitle: Bad\nlogsource: {product: anzen}\ndetection:\n  condition: selection\n",
	})
	files, err := LoadRuleFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Loaded() || len(files.Rules()) != 0 {
		t.Fatalf("a file with one bad document was loaded: %+v", files)
	}
}

func TestLoadRuleFiles_IOErrorsAreErrors(t *testing.T) {
	if _, err := LoadRuleFiles([]string{filepath.Join(t.TempDir(), "nothing")}); err == nil {
		t.Error("a missing path gave no error")
	}
	if _, err := LoadRuleFiles([]string{"builtin:nothing"}); err == nil || !strings.Contains(err.Error(), "builtin:medical") {
		t.Errorf("an unknown pack: %v", err)
	}
}

func TestLoadRuleFiles_TooLargeIsRejected(t *testing.T) {
	dir := writeRules(t, map[string]string{"big.yml": testRule + "# " + strings.Repeat("x", maxRuleFile) + "\n"})
	files, err := LoadRuleFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Loaded() || !strings.Contains(files[0].Err.Error(), "larger") {
		t.Errorf("a file over %d bytes: %v", maxRuleFile, files[0].Err)
	}
}

func TestBuiltinPacks_LoadWithoutRejects(t *testing.T) {
	packs := BuiltinPacks()
	if len(packs) == 0 {
		t.Fatal("no built-in packs")
	}
	files, err := LoadRuleFiles(packs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !f.Loaded() {
			t.Errorf("%s: %v", f.Path, f.Err)
		}
	}
	// Every rule that reports on its own, and every correlation, says
	// what it found in Japanese and English.
	for _, r := range files.Rules() {
		if r.Description == "" || r.Custom["description_ja"] == nil {
			t.Errorf("%s: a description in English and Japanese (description_ja) is needed", r.Key())
		}
	}
	for _, c := range files.Correlations() {
		if c.Description == "" || c.Custom["description_ja"] == nil {
			t.Errorf("%s: a description in English and Japanese (description_ja) is needed", c.Key())
		}
	}
}
