package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
)

const revokeUsage = `revoke [flags] [REPORT.json | -]
       leakstop revoke --resume [flags] [REPORT.json | -]
       leakstop revoke status [--json] [flags]
       leakstop revoke audit [flags]

Verifies the credentials of an UNREDACTED JSON report (a file, or "-" for
standard input) against Twilio, and rotates the live ones of the accounts
listed in the configuration without downtime: Auth Tokens by secondary
token → delivery to the configured sinks → promotion; API keys by a
replacement key → delivery → deletion of the leaked one. Credentials of
other accounts are reported, never touched; dead and test credentials are
left alone.

The default is a plan: verify (read-only) and print what would be done.
--apply (or mode = "apply" in the configuration) acts. --resume finishes
the rotations an interrupted run left (give the report again when the
rotation still needs the leaked secret). Every step is recorded in the
state store before and after it runs; "revoke status" lists rotations and
their last steps, "revoke audit" prints the whole audit trail as JSON.
Output never holds a full secret.

Without secrets leaving the process, scan and revoke in one go:
  leakstop scan --revoke plan|apply --config FILE [PATH]
or pipe:
  leakstop scan --format json --no-redact PATH | leakstop revoke --config FILE -

Exit status:
  0  nothing needed doing, or every live credential was rotated
  1  a credential may still be live and was not rotated: plan mode, an
     account not in the configuration, a blocked rotation, or an
     inconclusive verification
  2  error: bad flags or configuration, unreadable or redacted report,
     a rotation that failed or is unfinished (see "revoke status")`

func runRevoke(ctx context.Context, s *stdio, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runRevokeStatus(ctx, s, args[1:])
		case "audit":
			return runRevokeAudit(ctx, s, args[1:])
		}
	}
	fs := newFlagSet("revoke", revokeUsage, s.out)
	var rf revokerFlags
	rf.register(fs)
	apply := fs.Bool("apply", false, "rotate the live credentials of the configured accounts (default: the configuration's mode, plan unless it says apply)")
	plan := fs.Bool("plan", false, "only verify and print the plan, even when the configuration says mode = \"apply\"")
	resume := fs.Bool("resume", false, "finish rotations an interrupted run left unfinished")
	format := fs.String("format", "text", "output format: text or json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return &usageError{msg: "revoke takes one REPORT (a JSON report, or - for standard input)"}
	case len(pos) == 0 && !*resume:
		return &usageError{msg: "revoke needs an unredacted JSON report: leakstop revoke REPORT.json, or - for standard input"}
	case *apply && *plan:
		return &usageError{msg: "--apply and --plan contradict each other"}
	case *resume && *plan:
		return &usageError{msg: "--resume acts: it cannot be combined with --plan"}
	case (*apply || *resume) && rf.config == "":
		return &usageError{msg: "--apply and --resume need --config FILE: only the accounts listed there are ever rotated"}
	case *format != "text" && *format != "json":
		return &usageError{msg: fmt.Sprintf("unknown output format %q (want text or json)", *format)}
	}
	var findings []scanner.Finding
	if len(pos) == 1 {
		if findings, err = readUnredactedReport(pos[0], s.in); err != nil {
			return err
		}
	}
	var mode revoker.Mode
	switch {
	case *apply || *resume:
		mode = revoker.ModeApply
	case *plan:
		mode = revoker.ModePlan
	}
	if *resume {
		return resumeFindings(ctx, s, rf, findings, s.out, *format)
	}
	return revokeFindings(ctx, s, rf, mode, findings, s.out, *format)
}

// readUnredactedReport reads a JSON report (path, or "-" for in) whose
// secrets are in full: a redacted one cannot be verified or rotated.
func readUnredactedReport(path string, in io.Reader) ([]scanner.Finding, error) {
	r := in
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	doc, err := report.ReadJSON(r)
	if err != nil {
		if errors.Is(err, report.ErrNotReport) {
			return nil, fmt.Errorf("%s: %w\nleakstop: hint: revoke reads the JSON report of leakstop scan --format json --no-redact", name, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, f := range doc.Findings {
		if f.SecretRedacted {
			return nil, fmt.Errorf("%s is a redacted report: it holds no secrets, so its credentials can be neither verified nor rotated\n"+
				"leakstop: hint: leakstop scan --revoke=plan|apply --config FILE scans and revokes in one process, without the secrets ever leaving it\n"+
				"leakstop: hint: or pipe an unredacted report, never stored: leakstop scan --format json --no-redact PATH | leakstop revoke --config FILE -", name)
		}
	}
	return doc.ScannerFindings(), nil
}

// revokeFindings plans (or, in apply mode, applies) the revoker on
// findings and writes the plan or result to w; see pipeline.Revoke for
// what it returns.
func revokeFindings(ctx context.Context, s *stdio, rf revokerFlags, mode revoker.Mode, findings []scanner.Finding, w io.Writer, format string) error {
	return pipeline.Revoke(ctx, revokerOptions(s, rf), mode, findings, w, format)
}

// resumeFindings finishes interrupted rotations, with the report's
// secrets when given.
func resumeFindings(ctx context.Context, s *stdio, rf revokerFlags, findings []scanner.Finding, w io.Writer, format string) error {
	return pipeline.Resume(ctx, revokerOptions(s, rf), findings, w, format)
}

const revokeStatusUsage = `revoke status [--json] [--config FILE | --state DSN]

Lists every rotation in the state store: its state, attempt, last step and
who holds its account now. Nothing secret is stored, so nothing secret is
printed.

Exit status: 0, or 2 on error.`

func runRevokeStatus(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("revoke status", revokeStatusUsage, s.out)
	var rf revokerFlags
	rf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "revoke status takes no arguments"}
	}
	rs, err := pipeline.OpenRevoker(ctx, revokerOptions(s, rf), pipeline.SessionOptions{})
	if err != nil {
		return err
	}
	defer rs.Close()
	st, err := rs.Revoker.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if st == nil {
			st = []revoker.RotationStatus{}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if len(st) == 0 {
		fmt.Fprintf(s.out, "no rotations in %s\n", rs.Store.Location())
		return nil
	}
	return revoker.WriteStatusText(s.out, st)
}

const revokeAuditUsage = `revoke audit [--config FILE | --state DSN]

Prints the state store's audit trail as JSON: every verification, rotation,
step and decision, in time order. It holds no secret.

Exit status: 0, or 2 on error.`

func runRevokeAudit(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("revoke audit", revokeAuditUsage, s.out)
	var rf revokerFlags
	rf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "revoke audit takes no arguments"}
	}
	rs, err := pipeline.OpenRevoker(ctx, revokerOptions(s, rf), pipeline.SessionOptions{})
	if err != nil {
		return err
	}
	defer rs.Close()
	return rs.Revoker.Audit(ctx, s.out)
}

// parseRevokeMode reads scan's --revoke: "plan" or "apply".
func parseRevokeMode(v string) (revoker.Mode, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "plan":
		return revoker.ModePlan, nil
	case "apply":
		return revoker.ModeApply, nil
	}
	return "", fmt.Errorf("--revoke %q: want plan or apply", v)
}
