package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/leakstop/leakstop/ghaction"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
)

const actionUsage = `action

Runs the GitHub Action (action.yml): reads the workflow event and the
INPUT_* variables that action.yml sets, fetches the history the scan
needs, scans what the event adds (a pull request's commits, a push's
range, or the whole history on schedule and workflow_dispatch), and
reports with annotations, a job summary, a SARIF file, a JSON report and
a pull request review. Outputs: findings, sarif, report.

On pull_request, pull_request_target and merge_group events,
` + report.IgnoreFileName + ` and ` + policy.RulesFile + ` are read from the base commit, not
from the checkout, so that a pull request cannot silence its own
findings; a finding that only the pull request's own ` + report.IgnoreFileName + `
lists is reported with a note. trust-pr-config: true reads them from the
checkout instead. An explicit rules input is read from the checkout.

With verify: true the credentials are checked against Twilio (as scan
--verify); with revoke: plan or apply they go to the revoker (as scan
--revoke) with the configuration of the config input. Secrets the
configuration names (credential_env, token_env, url_env) come from the
step's environment only.

Exit status: 0 no findings (or fail-on-findings: false), 1 findings, 2 error
(also: a rotation failed).`

func runAction(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("action", actionUsage, s.out)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "action takes no arguments: it reads the INPUT_* and GITHUB_* variables"}
	}
	cfg, err := actionConfig(s, os.Getenv, revokerFlags{})
	if err == nil {
		_, err = ghaction.Run(ctx, cfg)
	}
	if errors.Is(err, errFindings) {
		return errFindings
	}
	if err != nil {
		// Also as an annotation, so the failure shows on the run's page.
		fmt.Fprintln(s.out, ghaction.Annotation{Level: "error", Title: "leakstop", Message: err.Error()}.String())
	}
	return err
}

// actionConfig reads the action's INPUT_* and GITHUB_* variables from
// getenv into ghaction's configuration; rf carries what is not an input
// (tests point the Twilio URLs at a fake). The secrets the revoker
// configuration names come from the step's environment (os.Getenv).
func actionConfig(s *stdio, getenv func(string) string, rf revokerFlags) (ghaction.Config, error) {
	in, err := ghaction.ReadInputs(getenv)
	if err != nil {
		return ghaction.Config{}, err
	}
	ro := revokerOptions(s, rf)
	ro.Getenv = os.Getenv
	return ghaction.Config{
		Inputs:      in,
		Context:     ghaction.ReadContext(getenv),
		Stdout:      s.out,
		Stderr:      s.err,
		ToolVersion: toolVersion(),
		Revoker:     ro,
	}, nil
}
