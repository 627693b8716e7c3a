package scanner

import (
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// TestDefaultRuleExamples runs every example and counter-example of the
// embedded rules, with several generated values each.
func TestDefaultRuleExamples(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 20; seed++ {
		for _, f := range CheckExamples(set, seed) {
			t.Errorf("seed %d: %v", seed, f)
		}
	}
}
