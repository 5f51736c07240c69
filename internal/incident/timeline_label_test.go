package incident

import (
	"testing"

	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// TestTimelineActions_AreNamedInBothLanguages walks every action the
// timeline writes and wants a label for it in Japanese and English.
func TestTimelineActions_AreNamedInBothLanguages(t *testing.T) {
	cat := i18n.New()
	if err := cat.Add(Locales()); err != nil {
		t.Fatal(err)
	}
	actions := append([]string{"create", "state", "task.add", "task.seed", "task.update", "task.done", "task.cancel",
		"task.reopen", "observable.add", "observable.delete", "evidence.add", "evidence.transfer", "evidence.verify",
		"link.add"}, incidentFields...)
	for _, a := range actions {
		for _, lang := range []string{"ja", "en"} {
			if id := actionLabelID(a); !cat.Has(lang, id) {
				t.Errorf("timeline action %s: no %s message %s", a, lang, id)
			}
		}
	}
}
