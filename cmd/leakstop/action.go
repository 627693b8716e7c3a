package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/leakstop/leakstop/ghaction"
	"github.com/leakstop/leakstop/scanner"
)

const actionUsage = `action

Runs the GitHub Action (action.yml): reads the workflow event and the
INPUT_* variables that action.yml sets, fetches the history the scan
needs, scans what the event adds (a pull request's commits, a push's
range, or the whole history on schedule and workflow_dispatch), and
reports with annotations, a job summary, a SARIF file, a JSON report and
a pull request review. Outputs: findings, sarif, report.

Exit status: 0 no findings (or fail-on-findings: false), 1 findings, 2 error.`

func runAction(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("action", actionUsage, s.out)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "action takes no arguments: it reads the INPUT_* and GITHUB_* variables"}
	}
	_, err = ghaction.Run(ctx, ghaction.Config{
		Getenv: os.Getenv,
		Stdout: s.out,
		Stderr: s.err,
		Detector: func(extend string) (*scanner.Detector, error) {
			set, err := loadRules("", extend)
			if err != nil {
				return nil, err
			}
			return scanner.NewDetector(set)
		},
		ToolVersion: toolVersion(),
		// TODO: Verify and Revoke call the revoker as "leakstop scan
		// --verify" and "leakstop revoke" do, once those commands exist;
		// until then the verify and revoke inputs are refused.
	})
	if errors.Is(err, ghaction.ErrFindings) {
		return errFindings
	}
	if err != nil {
		// Also as an annotation, so the failure shows on the run's page.
		fmt.Fprintln(s.out, ghaction.Annotation{Level: "error", Title: "leakstop", Message: err.Error()}.String())
	}
	return err
}
