package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// `anzen detect check` and `anzen detect eval` hunt offline, as Hayabusa
// and Chainsaw do: they need no database and no running anzen, so that IT
// staff can try rules on exported logs on any machine. Both exit non-zero
// only on usage or I/O errors: a rejected rule or a bad event line is
// reported, not fatal.

func init() {
	extraCommands = append(extraCommands, newDetectCommand)
}

func newDetectCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "detect", Short: "Sigma rules: check rule files and hunt through exported logs; the reference tables"}
	c.AddCommand(newDetectCheckCommand(), newDetectEvalCommand(), newDetectTablesCommand(g))
	return c
}

func newDetectCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check PATH...",
		Short: "Load Sigma rule files or folders and say, per file, whether it loaded or why not",
		Long: "Load each rule file (folders are walked for *.yml and *.yaml) as anzen would, and print one line " +
			"per file: loaded, with its number of rules, or rejected, with the reason naming the construct that " +
			"cannot be run. The last line is \"total: N loaded, M rejected\" (files). A file is loaded whole or not " +
			"at all.\n\nExit status: 0 whatever was rejected; 1 when a path cannot be read.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := detect.LoadRuleFiles(args)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			for _, f := range files {
				if f.Loaded() {
					fmt.Fprintf(w, "loaded    %s (%s)\n", f.Path, ruleCount(len(f.Rules), len(f.Correlations)))
				} else {
					fmt.Fprintf(w, "rejected  %s: %s\n", f.Path, oneLine(f.Err))
				}
			}
			loaded, rejected := files.Counts()
			fmt.Fprintf(w, "total: %d loaded, %d rejected\n", loaded, rejected)
			return w.Flush()
		},
	}
}

func ruleCount(rules, correlations int) string {
	s := plural(rules, "rule", "rules")
	if correlations > 0 {
		s += ", " + plural(correlations, "correlation", "correlations")
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// oneLine joins the lines of an error (errors.Join gives one a line).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ; ")), " ")
}

// evalFlags are the flags of anzen detect eval.
type evalFlags struct {
	rules            []string
	events, fieldMap string
	output           string
}

func newDetectEvalCommand() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval --rules PATH --events FILE.jsonl [--field-map anzen|windows|FILE]",
		Short: "Apply every loaded rule to every event of a JSON Lines file and print the matches",
		Long: "Load the rules at --rules (files or folders, repeatable), read --events (one JSON object a line; - " +
			"for standard input) and print one JSON line per match: the event's line number, the rule's id, " +
			"title and level; correlation rules add their type, group, count and the lines of the events, using " +
			"the events' times. --field-map resolves Sigma's field names to the events' fields: anzen (anzen's " +
			"access events), windows (Windows event logs as JSON, Event.System and Event.EventData) or a mapping " +
			"file. Without a field map, or with one that has no logsources, every rule runs on every event; " +
			"with logsources, a rule runs on the events its logsource selects. Rules that cannot be loaded and " +
			"lines that are not JSON objects are listed on standard error.\n\n" +
			"Exit status: 0 whatever matched; 1 on a usage or I/O error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDetectEval(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.rules, "rules", nil, "rule file or folder (repeatable)")
	fl.StringVar(&f.events, "events", "", "JSON Lines file of events (- for standard input)")
	fl.StringVar(&f.fieldMap, "field-map", "", "field mapping: anzen, windows or a mapping file")
	fl.StringVarP(&f.output, "output", "o", "", "write the matches to this file instead of standard output")
	_ = cmd.MarkFlagRequired("rules")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

func runDetectEval(cmd *cobra.Command, f *evalFlags) error {
	stderr := cmd.ErrOrStderr()
	fields, err := loadFieldMap(f.fieldMap)
	if err != nil {
		return err
	}
	files, err := detect.LoadRuleFiles(f.rules)
	if err != nil {
		return err
	}
	for _, rf := range files {
		if !rf.Loaded() {
			fmt.Fprintf(stderr, "rejected  %s: %s\n", rf.Path, oneLine(rf.Err))
		}
	}
	hunt, err := detect.NewHunt(files, fields)
	if err != nil {
		return err
	}
	in, size, _, err := openImportFile(cmd, f.events)
	if err != nil {
		return fmt.Errorf("--events: %w", err)
	}
	defer in.Close()
	out := cmd.OutOrStdout()
	var file *os.File
	if f.output != "" {
		if file, err = os.OpenFile(f.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil { // matches name users and patients
			return fmt.Errorf("--output: %w", err)
		}
		defer file.Close()
		out = file
	}
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	shown, hidden := 0, 0
	bad := func(line int64, err error) {
		if shown < maxRejectsShown {
			shown++
			fmt.Fprintf(stderr, "line %d: %v\n", line, err)
		} else {
			hidden++
		}
	}
	progress, done := byteProgress(stderr, size, "eval")
	st, err := hunt.Run(cmd.Context(), in, func(m detect.HuntMatch) error { return enc.Encode(m) }, bad, progress)
	done()
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	if hidden > 0 {
		fmt.Fprintf(stderr, "... and %d more lines that are not JSON objects\n", hidden)
	}
	loaded, rejected := files.Counts()
	fmt.Fprintf(stderr, "%s, %s (rule files: %d loaded, %d rejected; lines that are not JSON objects: %d",
		plural(int(st.Events), "event", "events"), plural(int(st.Matches), "match", "matches"), loaded, rejected, st.BadLines)
	if st.Untimed > 0 {
		fmt.Fprintf(stderr, "; %d matching events without a time, skipped by correlation rules", st.Untimed)
	}
	fmt.Fprintln(stderr, ")")
	return nil
}

// loadFieldMap returns the field map named (anzen, windows) or in a file;
// none for "".
func loadFieldMap(name string) (*sigma.FieldMap, error) {
	if name == "" {
		return nil, nil
	}
	if m, err := sigma.FieldMapNamed(name); err == nil {
		return m, nil
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(name, `/\.`) {
		return nil, fmt.Errorf("--field-map: %q is neither anzen, windows nor a file", name)
	}
	if err != nil {
		return nil, fmt.Errorf("--field-map: %w", err)
	}
	m, err := sigma.ParseFieldMap(data)
	if err != nil {
		return nil, fmt.Errorf("--field-map %s: %w", name, err)
	}
	return m, nil
}
