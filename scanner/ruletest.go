package scanner

import (
	"fmt"

	"github.com/leakstop/leakstop/rules"
)

// ExampleFailure is a rule example that did not behave as declared.
type ExampleFailure struct {
	Rule    string
	Source  rules.Pos
	Example string // the template, never its expansion
	Counter bool   // a counter-example that matched
	Err     error  // the template did not expand, or the detector failed
	// Want and Got are set for a name example of a name model that was
	// classified otherwise.
	Want, Got rules.NameClass
}

func (f ExampleFailure) Error() string {
	loc := f.Source.File
	if f.Source.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, f.Source.Line)
	}
	switch {
	case f.Want != f.Got:
		return fmt.Sprintf("%s: names %q: %q is %s, want %s", loc, f.Rule, f.Example, f.Got, f.Want)
	case f.Err != nil:
		return fmt.Sprintf("%s: rule %q: example %q: %v", loc, f.Rule, f.Example, f.Err)
	case f.Counter:
		return fmt.Sprintf("%s: rule %q: counter-example matched: %q", loc, f.Rule, f.Example)
	default:
		return fmt.Sprintf("%s: rule %q: example did not match: %q", loc, f.Rule, f.Example)
	}
}

// CheckExamples classifies every name model's example names, and runs
// every rule's and pair's examples and counter-examples,
// expanded with values generated from seed, and returns what failed. A
// rule's examples run that rule alone (with the identifier a near rule
// needs); a pair's examples run the whole set.
func CheckExamples(set *rules.Set, seed uint64) []ExampleFailure {
	var fails []ExampleFailure
	for _, m := range set.Names {
		for _, ex := range m.Examples {
			if got := m.Classify(ex.Name); got != ex.Class {
				fails = append(fails, ExampleFailure{Rule: m.ID, Source: ex.Source, Example: ex.Name, Want: ex.Class, Got: got})
			}
		}
	}
	g := rules.NewGenerator(seed)
	for _, r := range set.Rules {
		sub := []*rules.Rule{r}
		var pairs []*rules.Pair
		if r.Near != "" {
			sub = append(sub, set.Rule(r.Near))
			pairs = set.PairFor(r.ID)
		}
		d, err := NewDetector(rules.NewSet(sub, pairs, set.Allowlist, set.TestMarkers, set.Names))
		if err != nil {
			fails = append(fails, ExampleFailure{Rule: r.ID, Source: r.Source, Err: err})
			continue
		}
		matched := func(text string) bool {
			for _, h := range d.Hits([]byte(text)) {
				if h.Rule.ID == r.ID {
					return true
				}
			}
			return false
		}
		fails = append(fails, runExamples(g, r.ID, r.Source, r.Examples, r.Counter, matched)...)
	}
	d, err := NewDetector(set)
	if err != nil {
		return append(fails, ExampleFailure{Err: err})
	}
	for _, p := range set.Pairs {
		matched := func(text string) bool {
			for _, f := range d.Pair([]FileHits{{Path: "example", Hits: d.Hits([]byte(text))}}) {
				if f.RuleID == p.ID {
					return true
				}
			}
			return false
		}
		fails = append(fails, runExamples(g, p.ID, p.Source, p.Examples, p.Counter, matched)...)
	}
	return fails
}

func runExamples(g *rules.Generator, id string, src rules.Pos, examples, counter []string, matched func(string) bool) []ExampleFailure {
	var fails []ExampleFailure
	for i, tmpls := range [][]string{examples, counter} {
		for _, t := range tmpls {
			g.Values = map[string]string{}
			text, err := g.Expand(t)
			if err != nil {
				fails = append(fails, ExampleFailure{Rule: id, Source: src, Example: t, Err: err})
				continue
			}
			if matched(text) != (i == 0) {
				fails = append(fails, ExampleFailure{Rule: id, Source: src, Example: t, Counter: i == 1})
			}
		}
	}
	return fails
}
