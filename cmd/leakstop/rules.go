package main

import (
	"context"
	"fmt"
	"os"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

// loadRules builds the rule set: the embedded defaults, or the --rules file
// (added to the defaults when it says [extend] default = true), then the
// --rules-extend file on top.
func loadRules(rulesPath, extendPath string) (*rules.Set, error) {
	set, err := rules.Default()
	if err != nil {
		return nil, err
	}
	if rulesPath != "" {
		f, err := parseRulesFile(rulesPath)
		if err != nil {
			return nil, err
		}
		if f.ExtendDefault {
			if set, err = rules.Merge(set, f); err != nil {
				return nil, err
			}
		} else {
			set = f.Set
		}
	}
	if extendPath != "" {
		f, err := parseRulesFile(extendPath)
		if err != nil {
			return nil, err
		}
		if set, err = rules.Merge(set, f); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func parseRulesFile(path string) (*rules.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return rules.Parse(path, data)
}

func runRules(_ context.Context, s *stdio, args []string) error {
	fs := newFlagSet("rules", "rules test [FILE]\n\nRuns every example and counter-example of the rules in FILE (the\nembedded defaults when FILE is omitted; FILE is added to them when it\nsays [extend] default = true).", s.out)
	seeds := fs.Int("seeds", 5, "run each example with this many generated values")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || pos[0] != "test" || len(pos) > 2 {
		return &usageError{msg: "usage: leakstop rules test [FILE]"}
	}
	path := ""
	if len(pos) == 2 {
		path = pos[1]
	}
	set, err := loadRules(path, "")
	if err != nil {
		return err
	}
	failed := 0
	for seed := 1; seed <= *seeds; seed++ {
		for _, f := range scanner.CheckExamples(set, uint64(seed)) {
			fmt.Fprintf(s.err, "leakstop: error: %v\n", f)
			failed++
		}
		if failed > 0 {
			break
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d rule example(s) failed", failed)
	}
	n := 0
	for _, r := range set.Rules {
		n += len(r.Examples) + len(r.Counter)
	}
	for _, p := range set.Pairs {
		n += len(p.Examples) + len(p.Counter)
	}
	fmt.Fprintf(s.out, "ok: %d rules, %d pairs, %d examples × %d seeds\n", len(set.Rules), len(set.Pairs), n, *seeds)
	return nil
}
