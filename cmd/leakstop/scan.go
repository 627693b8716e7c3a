package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/hook"
	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
)

const scanUsage = `scan [flags] [PATH | -]

Scans PATH (default ".") for Twilio credentials. A git repository is
scanned through its whole history (every ref, every commit) and what is
not committed (staged, modified, untracked and not ignored); a subfolder
of one, as that repository limited to the subfolder; a directory that is
not in a repository, or any directory with --no-git, is scanned as
files; "-" reads standard input. Files of any size and binary files are
scanned; one that cannot be read is an error (--skip-unreadable). The rules are the embedded ones plus
those of ` + policy.RulesFile + ` at the top of the scanned directory (the current
one for a file or "-"), as the pre-commit hook and the GitHub Action read
it; --rules-extend takes its place. ` + report.IgnoreFileName + ` and
leakstop:allow comments are honoured.

--verify checks each distinct credential against Twilio (read-only) and
adds the answer (live, dead, unknown, test) and when to the report.
--revoke plan|apply --config FILE then hands the findings to the revoker in
this same process (see leakstop revoke --help): the secrets never leave it.
Its plan or result follows the report on standard output, or goes to
standard error when a json, sarif or csv report is on standard output.

Twilio test credentials (named so where they are found, or answered so by
Twilio with --verify) are reported as notes and do not change the exit
status, unless --fail-on-test-credentials is given.

Exit status: 0 no findings, 1 findings, 2 error (with --revoke also: a
rotation failed or is unfinished).`

type scanFlags struct {
	rules, rulesExtend       string
	format, output           string
	noRedact                 bool
	baseline, ignoreFile     string
	maxFileSize              int64
	workers                  int
	noGit, staged            bool
	rangeSpec, since, branch string
	allObjects, allLocations bool
	color                    string
	failOnTest               bool
	verify                   bool
	revoke                   string
	rf                       revokerFlags
	skipUnreadable           bool
}

func runScan(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("scan", scanUsage, s.out)
	var f scanFlags
	fs.StringVar(&f.rules, "rules", "", "rules `FILE` replacing the embedded defaults (or added to them with [extend] default = true)")
	fs.StringVar(&f.rulesExtend, "rules-extend", "", "rules `FILE` added to the rules in use (default: "+policy.RulesFile+" in the scanned directory, if any)")
	fs.StringVar(&f.format, "format", "text", "report format: text, json, sarif or csv")
	fs.StringVar(&f.output, "output", "", "write the report to `FILE` instead of standard output")
	fs.BoolVar(&f.noRedact, "no-redact", false, "print full secrets in the report (dangerous)")
	fs.StringVar(&f.baseline, "baseline", "", "report only findings not in this earlier JSON `REPORT`")
	fs.StringVar(&f.ignoreFile, "ignore-file", "", "fingerprints to ignore (default: "+report.IgnoreFileName+" in the scanned directory)")
	fs.Int64Var(&f.maxFileSize, "max-file-size", scanner.DefaultMaxFileSize, "skip files and blobs larger than this many `BYTES` (default: no limit)")
	fs.BoolVar(&f.skipUnreadable, "skip-unreadable", false, "warn about files and folders that cannot be read and scan the rest (default: an error, exit 2)")
	fs.IntVar(&f.workers, "workers", 0, "parallel workers (default: number of CPUs)")
	fs.BoolVar(&f.noGit, "no-git", false, "scan a repository's working tree as files, not its history")
	fs.BoolVar(&f.staged, "staged", false, "scan what is staged for the next commit (pre-commit)")
	fs.StringVar(&f.rangeSpec, "range", "", "scan what `BASE..HEAD` adds (a pull request)")
	fs.StringVar(&f.since, "since", "", "scan only commits after `DATE` (YYYY-MM-DD or RFC 3339)")
	fs.StringVar(&f.branch, "branch", "", "scan only the history of `REF`")
	fs.BoolVar(&f.allObjects, "all-objects", false, "also scan unreachable git objects")
	fs.BoolVar(&f.allLocations, "all-locations", false, "report every commit and path holding a credential")
	fs.StringVar(&f.color, "color", "auto", "colour text output: auto, always or never")
	fs.BoolVar(&f.failOnTest, "fail-on-test-credentials", false, "count Twilio test credentials as findings (by default they are notes: reported, exit status unchanged)")
	fs.BoolVar(&f.verify, "verify", false, "check each credential against Twilio (read-only) and report live, dead, unknown or test")
	fs.StringVar(&f.revoke, "revoke", "", "then hand the findings to the revoker; `MODE` is plan (verify, print what would be done) or apply (rotate the live credentials of the accounts in --config)")
	f.rf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return &usageError{msg: "scan takes one PATH"}
	}
	target := "."
	if len(pos) == 1 {
		target = pos[0]
	}
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	gitFlags := f.staged || f.rangeSpec != "" || f.since != "" || f.branch != "" || f.allObjects || f.allLocations
	if target == "-" && (gitFlags || f.noGit) {
		return &usageError{msg: "git flags do not apply to standard input"}
	}
	if f.noGit && gitFlags {
		return &usageError{msg: "--no-git cannot be combined with git flags"}
	}
	var revokeMode revoker.Mode
	if f.revoke != "" {
		if revokeMode, err = parseRevokeMode(f.revoke); err != nil {
			return &usageError{msg: err.Error()}
		}
		if revokeMode == revoker.ModeApply && f.rf.config == "" {
			return &usageError{msg: "--revoke apply needs --config FILE: only the accounts listed there are ever rotated"}
		}
	}
	// Every input is checked before the scan starts: a mistake fails now,
	// not after a long scan, and nothing that is not a regular file (a
	// FIFO would block the open) is ever opened.
	if err := preflight(target, f); err != nil {
		return err
	}
	if f.verify || f.revoke != "" {
		if _, err := pipeline.LoadRevokerConfig(f.rf.config); err != nil {
			return err
		}
	}

	o := pipeline.Options{
		Source:         pipeline.Source{Path: target},
		MaxFileSize:    f.maxFileSize,
		Workers:        f.workers,
		SkipUnreadable: f.skipUnreadable,
		Warn:           func(msg string) { s.warnf("%s", msg) },
		Target:         target,
		Trace:          s.gitTrace(),
	}
	cfgDir, root := configDir(target), target
	if top, ok := enclosingRepo(target, f.noGit); ok {
		// A repository's subfolder is scanned as that repository,
		// limited to it: paths and configuration are the repository's.
		cfgDir, root = top, top
	}
	o.Policy = policy.Options{Dir: cfgDir, Rules: f.rules, RulesExtend: f.rulesExtend,
		IgnoreFile: f.ignoreFile, Baseline: f.baseline, Log: func(format string, a ...any) { s.hintf(format, a...) }}
	switch {
	case target == "-":
		o.Source = pipeline.Source{Kind: pipeline.SourceStdin, Stdin: s.in, StdinName: "stdin"}
	case f.noGit:
		o.Source.Kind = pipeline.SourceFiles
	default:
		o.Source.Git = scanner.GitOptions{Range: f.rangeSpec, Staged: f.staged, Branch: f.branch,
			AllObjects: f.allObjects, AllLocations: f.allLocations}
		if f.staged {
			if o.Source.Git.IndexFile, err = hook.IndexFile(os.Getenv("GIT_INDEX_FILE")); err != nil {
				return err
			}
		}
		if f.since != "" {
			if o.Source.Git.Since, err = parseDate(f.since); err != nil {
				return &usageError{msg: err.Error()}
			}
		}
	}
	// The revoker, in this process: its plan or result is held until the
	// report is out, and the findings get the verification.
	switch {
	case f.revoke != "":
		o.Revoke = pipeline.RevokeStep{Mode: pipeline.RevokePlan, Options: revokerOptions(s, f.rf)}
		if revokeMode == revoker.ModeApply {
			o.Revoke.Mode = pipeline.RevokeApply
		}
	case f.verify:
		o.Revoke = pipeline.RevokeStep{Mode: pipeline.RevokeVerify, Options: revokerOptions(s, f.rf)}
	}
	ropts := report.Options{NoRedact: f.noRedact, ToolVersion: toolVersion(), Root: root}
	if f.output == "" {
		ropts.Color = useColor(f.color, s.out)
	}
	o.Reports = []pipeline.Output{{Format: format, Path: f.output, W: s.out, Options: ropts}}
	res, err := pipeline.Run(ctx, o)
	if err != nil {
		return err
	}
	if len(res.Published) > 0 && format != report.Text {
		s.hintf("%d published example credential(s) ignored (Twilio's own example values, listed in the rules' [published_examples])", len(res.Published))
	}
	if len(res.Ignored) > 0 {
		s.hintf("%d credential(s) ignored by %s", len(res.Ignored), res.Policy.IgnoreFrom())
	}
	if len(res.Known) > 0 {
		s.hintf("%d credential(s) already in baseline %s", len(res.Known), f.baseline)
	}
	if len(res.RevokeOutput) > 0 {
		w := s.out
		if f.output == "" && format != report.Text {
			w = s.err // keep a machine-readable report parseable
		} else {
			fmt.Fprintln(w)
		}
		if _, err := w.Write(res.RevokeOutput); err != nil {
			return fmt.Errorf("write revoke output: %w", err)
		}
	}
	if res.RevokeErr != nil && !errors.Is(res.RevokeErr, errFindings) {
		return res.RevokeErr
	}
	if len(res.Failing(f.failOnTest)) > 0 {
		return errFindings
	}
	return nil
}

// preflight checks the inputs of a scan without opening any: the target
// is a directory or a regular file, each named input file is a regular
// file, and the report's folder exists and takes a new file.
func preflight(target string, f scanFlags) error {
	if target != "-" {
		st, err := os.Stat(target)
		if err != nil {
			return fmt.Errorf("scan %s: %w", target, err)
		}
		if !st.IsDir() && !st.Mode().IsRegular() {
			return &policy.NotRegularError{What: "scan target", Path: target, Mode: st.Mode()}
		}
	}
	for _, in := range []struct{ what, path string }{
		{"rules file", f.rules}, {"rules file", f.rulesExtend}, {"ignore file", f.ignoreFile},
		{"baseline", f.baseline}, {"revoker configuration", f.rf.config},
	} {
		if in.path == "" {
			continue
		}
		if err := policy.CheckRegular(in.what, in.path); err != nil {
			return err
		}
	}
	if f.output != "" {
		return checkOutput(f.output)
	}
	return nil
}

// checkOutput checks that a report can be written to path: its folder
// exists and takes a new file, and path is not something other than a
// regular file.
func checkOutput(path string) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return &policy.NotRegularError{What: "--output", Path: path, Mode: st.Mode()}
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check --output %s: folder %s: %w", path, dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("check --output %s: %s is not a folder", path, dir)
	}
	probe, err := os.CreateTemp(dir, ".leakstop-probe-*")
	if err != nil {
		return fmt.Errorf("check --output %s: folder %s is not writable: %w", path, dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

func useColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// configDir is where the scanned tree's own configuration
// (policy.RulesFile, the ignore file) is read: the directory scanned, or
// the current one for a file or standard input.
func configDir(target string) string {
	if target != "-" {
		if st, err := os.Stat(target); err == nil && st.IsDir() {
			return target
		}
	}
	return "."
}

// enclosingRepo returns the top of the work tree that target is a
// subfolder (or file) of, as a path from the current directory, when it
// is scanned as that repository (see pipeline.SourceAuto).
func enclosingRepo(target string, noGit bool) (string, bool) {
	if noGit || target == "-" || scanner.IsGitRepo(target) {
		return "", false
	}
	top, _, ok := gitdb.FindWorkTree(target)
	if !ok {
		return "", false
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, top); err == nil {
			return rel, true
		}
	}
	return top, true
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want YYYY-MM-DD or RFC 3339", strings.TrimSpace(s))
}
