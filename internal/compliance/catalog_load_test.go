package compliance

import "testing"

func TestBuiltin_Loads(t *testing.T) {
	lib, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if lib.Guideline() == nil {
		t.Fatal("no guideline in the library")
	}
	for _, c := range lib.Controls {
		for _, r := range c.Requirements {
			if _, it, err := lib.Resolve(r); err != nil || !it.Assessable() {
				t.Errorf("control %s: requirement %s does not resolve to an assessable item (%v)", c.ID, r, err)
			}
		}
	}
}
