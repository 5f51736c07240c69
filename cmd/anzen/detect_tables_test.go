package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// TestDetectTables_ImportListExportFromTheShell loads a roster in
// Shift_JIS, refuses a bad one naming its line and column (the roster
// stays), lists and exports it, on both databases.
func TestDetectTables_ImportListExportFromTheShell(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			dir := t.TempDir()
			sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte("利用者ID,姓,退職日\nn1,山田,\nr1,佐藤,2026/03/31\n"))
			good := filepath.Join(dir, "職員名簿.csv")
			bad := filepath.Join(dir, "bad.csv")
			if err := os.WriteFile(good, sjis, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, []byte("user_id,end_date\nx1,\nx2,someday\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := c.mustRun("detect", "tables", "import", "staff", good); !strings.Contains(r.out, "loaded 2 rows of 職員名簿.csv into the staff table of facility 1") {
				t.Errorf("import: %q", r.out)
			}
			r := c.run("", "detect", "tables", "import", "staff", bad)
			if r.err == nil || r.err.Error() != "bad.csv: Line 3, column end_date: This is not a date (2026-03-31 or 2026/03/31). Nothing was changed." {
				t.Errorf("bad file: %v", r.err)
			}
			if r := c.run("", "detect", "tables", "import", "shoes", good); r.err == nil || !strings.Contains(r.err.Error(), "unknown reference table kind") {
				t.Errorf("bad kind: %v", r.err)
			}
			if r := c.mustRun("detect", "tables", "list"); !strings.Contains(r.out, "1         staff  2") || !strings.Contains(r.out, "cli") {
				t.Errorf("list: %q", r.out)
			}
			if r := c.mustRun("detect", "tables", "export", "staff"); r.out != "user_id,name,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\n"+
				"n1,,山田,,,,,,0,\nr1,,佐藤,,,,2026-03-31,,0,\n" {
				t.Errorf("export: %q", r.out)
			}
			// Newest first: the refused file, then the load.
			if rec := eventsBy(t, c.open(), "detect.tables.load"); len(rec) != 2 || rec[1].Detail["rows"] != "2" ||
				rec[1].Detail["encoding"] != "shift_jis" || rec[0].Outcome != "failure" || rec[0].Detail["line"] != "3" {
				t.Errorf("recorded %+v", rec)
			}
		})
	}
}
