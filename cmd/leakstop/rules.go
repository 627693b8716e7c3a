package main

import (
	"context"
	"fmt"

	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/scanner"
)

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
	set, err := policy.LoadRules(path, "")
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
