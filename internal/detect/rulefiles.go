package detect

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// RuleFile is what loading one rule file gave: its rules, or why it was
// rejected. A file is loaded whole or not at all: a file whose one
// document cannot be run is rejected, so that a correlation never runs
// without a base rule written beside it.
type RuleFile struct {
	Path         string
	Rules        []*sigma.Rule
	Correlations []*sigma.Correlation
	Err          error // why the file was rejected; nil when loaded
}

// Loaded reports whether the file was loaded.
func (f *RuleFile) Loaded() bool { return f.Err == nil }

// RuleFiles is the outcome of loading rule files and folders.
type RuleFiles []RuleFile

// Rules returns the rules of the loaded files.
func (files RuleFiles) Rules() []*sigma.Rule {
	var out []*sigma.Rule
	for _, f := range files {
		if f.Loaded() {
			out = append(out, f.Rules...)
		}
	}
	return out
}

// Correlations returns the correlation rules of the loaded files.
func (files RuleFiles) Correlations() []*sigma.Correlation {
	var out []*sigma.Correlation
	for _, f := range files {
		if f.Loaded() {
			out = append(out, f.Correlations...)
		}
	}
	return out
}

// Counts returns how many files were loaded and how many rejected.
func (files RuleFiles) Counts() (loaded, rejected int) {
	for _, f := range files {
		if f.Loaded() {
			loaded++
		} else {
			rejected++
		}
	}
	return loaded, rejected
}

// The built-in rule packs, named builtin:PACK where a path is expected.
//
//go:embed rules
var builtinRules embed.FS

const builtinPrefix = "builtin:"

// BuiltinPacks returns the paths of the built-in rule packs, such as
// builtin:medical.
func BuiltinPacks() []string {
	entries, _ := builtinRules.ReadDir("rules")
	var out []string
	for _, e := range entries {
		out = append(out, builtinPrefix+e.Name())
	}
	return out
}

// maxRuleFile is the largest rule file read: SigmaHQ's largest rules are
// a few tens of kilobytes.
const maxRuleFile = 4 << 20

// LoadRuleFiles reads the rule files at paths: files as given, folders
// walked for *.yml and *.yaml (hidden folders skipped), in name order, and
// built-in packs named builtin:PACK (BuiltinPacks).
// Each file is parsed, then the correlation rules are linked to the rules
// of every loaded file; a correlation that refers to no loaded rule
// rejects its file. The error is for paths that cannot be read at all;
// a rule that cannot be run only rejects its file.
func LoadRuleFiles(paths []string, opts ...sigma.Option) (RuleFiles, error) {
	var names []string
	for _, p := range paths {
		found, err := ruleFileNames(p)
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	files := make(RuleFiles, 0, len(names))
	for _, name := range names {
		f := RuleFile{Path: name}
		data, tooBig, err := readRuleFile(name)
		if err != nil {
			return nil, err
		}
		f.Err = tooBig
		if f.Err == nil {
			f = ParseRuleText(name, data, opts...)
		}
		files = append(files, f)
	}
	files.link()
	return files, nil
}

// ParseRuleText reads one rule file's text as LoadRuleFiles reads a file
// (name is where it came from): its rules, or why it cannot be run. The
// correlations are not linked here (see RuleFiles.link).
func ParseRuleText(name string, data []byte, opts ...sigma.Option) RuleFile {
	f := RuleFile{Path: name}
	if len(data) > maxRuleFile {
		f.Err = fmt.Errorf("the file is larger than a rule file can be (%d MiB)", maxRuleFile>>20)
		return f
	}
	set, err := sigma.Parse(data, opts...)
	if f.Err = err; err == nil {
		f.Rules, f.Correlations = set.Rules, set.Correlations
	}
	return f
}

// link rejects the files holding correlations that cannot be linked to
// the loaded rules. A correlation may refer to one in a later file, so
// this repeats until nothing more is rejected.
func (files RuleFiles) link() {
	for {
		if _, err := sigma.NewCorrelator(files.Rules(), files.Correlations()); err == nil {
			return
		}
		rejected := false
		for i := range files {
			f := &files[i]
			if !f.Loaded() || len(f.Correlations) == 0 {
				continue
			}
			others := slices.DeleteFunc(files.Correlations(), func(c *sigma.Correlation) bool {
				return slices.Contains(f.Correlations, c)
			})
			_, err := sigma.NewCorrelator(files.Rules(), append(others, f.Correlations...))
			if _, errOthers := sigma.NewCorrelator(files.Rules(), others); err != nil && errOthers == nil {
				f.Err, rejected = err, true
			}
		}
		if !rejected {
			// Every subset fails alike (correlations that refer to each
			// other in a cycle): reject all that hold correlations.
			for i := range files {
				if files[i].Loaded() && len(files[i].Correlations) > 0 {
					_, files[i].Err = sigma.NewCorrelator(files.Rules(), files[i].Correlations)
					if files[i].Err == nil {
						files[i].Err = errors.New("its correlation rules cannot be linked with those of the other files")
					}
				}
			}
			return
		}
	}
}

func ruleFileNames(path string) ([]string, error) {
	if pack, ok := strings.CutPrefix(path, builtinPrefix); ok {
		names, err := fs.Glob(builtinRules, "rules/"+pack+"/*.yml")
		if err != nil || len(names) == 0 {
			return nil, fmt.Errorf("rules: there is no built-in pack %q (there is %s)", pack, strings.Join(BuiltinPacks(), ", "))
		}
		for i, n := range names {
			names[i] = builtinPrefix + strings.TrimPrefix(n, "rules/")
		}
		return names, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var names []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(p)); ext == ".yml" || ext == ".yaml" {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// readRuleFile reads one rule file. A file too large to be a rule
// rejects the file (tooBig); other errors are I/O errors.
func readRuleFile(name string) (data []byte, tooBig, err error) {
	if rest, ok := strings.CutPrefix(name, builtinPrefix); ok {
		data, err := builtinRules.ReadFile("rules/" + rest)
		return data, nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxRuleFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	if len(data) > maxRuleFile {
		return nil, fmt.Errorf("the file is larger than a rule file can be (%d MiB)", maxRuleFile>>20), nil
	}
	return data, nil, nil
}
