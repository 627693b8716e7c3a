package scanner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// evalCounts is a precision/recall tally over credentials: a true positive
// is an expected credential found (same pair, identifier, secret and test
// flag), a false positive a finding not expected, a false negative an
// expected credential not found.
type evalCounts struct{ tp, fp, fn int }

func (c evalCounts) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c evalCounts) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

func tally(got, want []credKey) evalCounts {
	var c evalCounts
	for _, g := range got {
		if slices.Contains(want, g) {
			c.tp++
		} else {
			c.fp++
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			c.fn++
		}
	}
	return c
}

// TestPrecisionRecall prints precision and recall over the corpora of
// testdata/ (seed 1; every credential is freshly generated, so the counts
// do not depend on the seed) and fails below the floors.
//
//	go test ./scanner -run PrecisionRecall -v
func TestPrecisionRecall(t *testing.T) {
	d := defaultDetector(t)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-8s %4s %4s %4s %9s %7s\n", "corpus", "TP", "FP", "FN", "precision", "recall")
	var all evalCounts
	floors := map[string]float64{corpusDir: 1, shapesDir: 1}
	for _, dir := range []string{corpusDir, shapesDir} {
		got, want := scanCorpus(t, d, dir, 1)
		var c evalCounts
		var misses []string
		for name := range got {
			fc := tally(got[name], want[name])
			c.tp, c.fp, c.fn = c.tp+fc.tp, c.fp+fc.fp, c.fn+fc.fn
			if fc.fp+fc.fn > 0 {
				misses = append(misses, fmt.Sprintf("%s (FP %d, FN %d)", name, fc.fp, fc.fn))
			}
		}
		all = evalCounts{all.tp + c.tp, all.fp + c.fp, all.fn + c.fn}
		name := strings.TrimPrefix(dir, "../testdata/")
		fmt.Fprintf(&b, "%-8s %4d %4d %4d %9.3f %7.3f\n", name, c.tp, c.fp, c.fn, c.precision(), c.recall())
		slices.Sort(misses)
		for _, m := range misses {
			t.Logf("%s: %s", name, m)
		}
		if c.precision() < floors[dir] || c.recall() < floors[dir] {
			t.Errorf("%s: precision %.3f, recall %.3f: below %.3f", name, c.precision(), c.recall(), floors[dir])
		}
	}
	fmt.Fprintf(&b, "%-8s %4d %4d %4d %9.3f %7.3f\n", "all", all.tp, all.fp, all.fn, all.precision(), all.recall())
	t.Log(b.String())
}
