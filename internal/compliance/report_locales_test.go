package compliance

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestReportMessages_EveryIDExistsInBothLanguages reads the reports' code
// and templates for message ids (and the ids they build from states) and
// finds each in Japanese and in English.
func TestReportMessages_EveryIDExistsInBothLanguages(t *testing.T) {
	cat := reportCatalog(t)
	ids := map[string]bool{}
	re := regexp.MustCompile(`"(compliance\.report\.[a-z_.]*[a-z_])"`)
	var files []string
	for _, g := range []string{"report*.go", "xlsx*.go", "oscal_results.go", "print/*.html", "templates/reports/*.html"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		if filepath.Ext(f) == ".go" && regexp.MustCompile(`_test\.go$`).MatchString(f) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			ids[m[1]] = true
		}
	}
	delete(ids, "compliance.report.download") // the audit action, not a message
	built := map[string][]string{
		"readiness": {Ready, Attention, NotReady, NotAssessed, Excluded},
		"check":     {"pass", "warning", "fail", "na", "error"},
		"impl":      {ImplNotStarted, ImplInProgress, ImplImplemented, ImplNotApplicable},
		"expiry":    {InDate, NearExpiry, Expired},
		"attest":    {AttestPending, AttestApproved, AttestRejected},
		"target":    {"server", "terminal", "network"},
		"answer":    {AnswerYes, AnswerNo},
		"sheet":     {"hospital", "pharmacy", "vendor"},
		"attention": {"check", "evidence", "answer", "control"},
	}
	for prefix, keys := range built {
		for _, k := range keys {
			ids["compliance.report."+prefix+"."+k] = true
		}
	}
	if len(ids) < 100 {
		t.Fatalf("found only %d ids: the scan is broken", len(ids))
	}
	for id := range ids {
		for _, lang := range []string{"ja", "en"} {
			if !cat.Has(lang, id) {
				t.Errorf("%s has no %s message", id, lang)
			}
		}
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("in one language only: %v", m)
	}
}
