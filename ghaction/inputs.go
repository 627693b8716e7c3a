// Package ghaction is the GitHub Action's logic ("leakstop action"): it
// reads the workflow's event, fetches the history the scan needs from a
// shallow checkout, scans exactly what the event adds (a pull request's
// commits, a push's range, or the whole history), and reports through the
// runner: annotations, a job summary, outputs, a SARIF file for code
// scanning and one pull request review with a comment per finding.
//
// Inputs come from INPUT_* environment variables that action.yml sets from
// its inputs (never interpolated into a script), GitHub's context from the
// GITHUB_* variables: main reads them (ReadInputs, ReadContext) and hands
// Run the typed Config; the package itself reads no environment. The scan,
// its policy and the revoker are package pipeline's, as for "leakstop
// scan" and the pre-commit hook. Secrets never leave the process in full: every
// report, annotation, summary and comment carries the redacted form.
package ghaction

import (
	"fmt"
	"strings"
)

// RevokeMode is the revoke input.
type RevokeMode string

// The revoke modes.
const (
	RevokeOff   RevokeMode = "off"
	RevokePlan  RevokeMode = "plan"
	RevokeApply RevokeMode = "apply"
)

// Inputs are the action's inputs (action.yml), with their defaults.
type Inputs struct {
	Config         string // revoker configuration file
	Rules          string // rules file added to the defaults
	FailOnFindings bool
	Verify         bool
	Revoke         RevokeMode
	Token          string
	Comment        bool
	SARIF          bool
	// TrustPRConfig reads .leakstopignore and .leakstop.toml from the
	// checkout on pull_request, pull_request_target and merge_group events
	// too (else they come from the base commit), and honours every inline
	// leakstop:allow (else only those already on the base commit's line).
	TrustPRConfig bool
}

// InputError is an input with a value the action does not accept.
type InputError struct {
	Name, Want string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("input %s: want %s", e.Name, e.Want)
}

// input reads an input as action.yml passes it (INPUT_FAIL_ON_FINDINGS),
// or as the runner names it for other kinds of action
// (INPUT_FAIL-ON-FINDINGS). Surrounding space is dropped.
func input(getenv func(string) string, name string) string {
	up := strings.ToUpper(name)
	if v := getenv("INPUT_" + strings.ReplaceAll(up, "-", "_")); v != "" {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(getenv("INPUT_" + up))
}

func boolInput(getenv func(string) string, name string, def bool) (bool, error) {
	switch strings.ToLower(input(getenv, name)) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	// The value itself is not echoed: a secret may have been pasted in.
	return false, &InputError{Name: name, Want: "true or false"}
}

// ReadInputs reads and checks the inputs through getenv (main passes
// os.Getenv).
func ReadInputs(getenv func(string) string) (Inputs, error) {
	in := Inputs{
		Config: input(getenv, "config"),
		Rules:  input(getenv, "rules"),
		Token:  input(getenv, "github-token"),
	}
	var err error
	if in.FailOnFindings, err = boolInput(getenv, "fail-on-findings", true); err != nil {
		return in, err
	}
	if in.Verify, err = boolInput(getenv, "verify", false); err != nil {
		return in, err
	}
	if in.Comment, err = boolInput(getenv, "comment", true); err != nil {
		return in, err
	}
	if in.SARIF, err = boolInput(getenv, "sarif", true); err != nil {
		return in, err
	}
	if in.TrustPRConfig, err = boolInput(getenv, "trust-pr-config", false); err != nil {
		return in, err
	}
	switch m := RevokeMode(strings.ToLower(input(getenv, "revoke"))); m {
	case "":
		in.Revoke = RevokeOff
	case RevokeOff, RevokePlan, RevokeApply:
		in.Revoke = m
	default:
		return in, &InputError{Name: "revoke", Want: "off, plan or apply"}
	}
	return in, nil
}
