package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/leakstop/leakstop/ghaction"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

const actionUsage = `action

Runs the GitHub Action (action.yml): reads the workflow event and the
INPUT_* variables that action.yml sets, fetches the history the scan
needs, scans what the event adds (a pull request's commits, a push's
range, or the whole history on schedule and workflow_dispatch), and
reports with annotations, a job summary, a SARIF file, a JSON report and
a pull request review. Outputs: findings, sarif, report.

On pull_request, pull_request_target and merge_group events,
.leakstopignore and .leakstop.toml are read from the base commit, not
from the checkout, so that a pull request cannot silence its own
findings; a finding that only the pull request's own .leakstopignore
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
	_, err = ghaction.Run(ctx, actionConfig(s, revokerFlags{}))
	if errors.Is(err, ghaction.ErrFindings) {
		return errFindings
	}
	if err != nil {
		// Also as an annotation, so the failure shows on the run's page.
		fmt.Fprintln(s.out, ghaction.Annotation{Level: "error", Title: "leakstop", Message: err.Error()}.String())
	}
	return err
}

// actionConfig wires ghaction to the scanner and the revoker; rf carries
// what is not an input (tests point the Twilio URLs at a fake).
func actionConfig(s *stdio, rf revokerFlags) ghaction.Config {
	// Diagnostics of the revoker go to stderr one escaped line each, so
	// that nothing in them can start a workflow command.
	rs := &stdio{in: s.in, out: s.out, err: &escapeLines{w: s.err}}
	return ghaction.Config{
		Getenv: os.Getenv,
		Stdout: s.out,
		Stderr: s.err,
		Detector: func(name string, data []byte, opts ...scanner.DetectorOption) (*scanner.Detector, error) {
			// As --rules-extend: the file's rules added to the embedded
			// ones (the action reads the file, from the checkout or, for
			// a pull request, from its base commit).
			set, err := rules.Default()
			if err != nil {
				return nil, err
			}
			if data != nil {
				f, err := rules.Parse(name, data)
				if err != nil {
					return nil, err
				}
				if set, err = rules.Merge(set, f); err != nil {
					return nil, err
				}
			}
			return scanner.NewDetector(set, opts...)
		},
		ToolVersion: toolVersion(),
		Verify: func(ctx context.Context, findings []scanner.Finding, configPath string) error {
			f := rf
			f.config = configPath
			return verifyFindings(ctx, rs, f, findings)
		},
		Revoke: func(ctx context.Context, findings []scanner.Finding, configPath string, mode ghaction.RevokeMode) (string, error) {
			f := rf
			f.config = configPath
			m := revoker.ModePlan
			if mode == ghaction.RevokeApply {
				m = revoker.ModeApply
			}
			var out bytes.Buffer
			err := revokeFindings(ctx, rs, f, m, findings, &out, "text")
			if errors.Is(err, errFindings) {
				err = nil // live credentials are findings: fail-on-findings decides
			}
			return out.String(), err
		},
	}
}

// escapeLines writes each complete line through ghaction.EscapeData,
// starting with "leakstop: " (never "::").
type escapeLines struct {
	w   io.Writer
	buf []byte
}

func (e *escapeLines) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(e.buf[:i])
		e.buf = e.buf[i+1:]
		if !strings.HasPrefix(line, "leakstop: ") {
			line = "leakstop: " + line
		}
		if _, err := fmt.Fprintln(e.w, ghaction.EscapeData(line)); err != nil {
			return len(p), err
		}
	}
}
