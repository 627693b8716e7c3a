package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leakstop/leakstop/hook"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
)

const scanUsage = `scan [flags] [PATH | -]

Scans PATH (default ".") for Twilio credentials. A git repository is
scanned through its whole history (every ref, every commit); a directory
that is not a repository, or any directory with --no-git, is scanned as
files; "-" reads standard input.

--verify checks each distinct credential against Twilio (read-only) and
adds the answer (live, dead, unknown, test) and when to the report.
--revoke plan|apply --config FILE then hands the findings to the revoker in
this same process (see leakstop revoke --help): the secrets never leave it.
Its plan or result follows the report on standard output, or goes to
standard error when a json, sarif or csv report is on standard output.

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
}

func runScan(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("scan", scanUsage, s.out)
	var f scanFlags
	fs.StringVar(&f.rules, "rules", "", "rules `FILE` replacing the embedded defaults (or added to them with [extend] default = true)")
	fs.StringVar(&f.rulesExtend, "rules-extend", "", "rules `FILE` added to the rules in use")
	fs.StringVar(&f.format, "format", "text", "report format: text, json, sarif or csv")
	fs.StringVar(&f.output, "output", "", "write the report to `FILE` instead of standard output")
	fs.BoolVar(&f.noRedact, "no-redact", false, "print full secrets in the report (dangerous)")
	fs.StringVar(&f.baseline, "baseline", "", "report only findings not in this earlier JSON `REPORT`")
	fs.StringVar(&f.ignoreFile, "ignore-file", "", "fingerprints to ignore (default: .leakstopignore in the scanned directory)")
	fs.Int64Var(&f.maxFileSize, "max-file-size", scanner.DefaultMaxFileSize, "skip files and blobs larger than this many `BYTES`")
	fs.IntVar(&f.workers, "workers", 0, "parallel workers (default: number of CPUs)")
	fs.BoolVar(&f.noGit, "no-git", false, "scan a repository's working tree as files, not its history")
	fs.BoolVar(&f.staged, "staged", false, "scan what is staged for the next commit (pre-commit)")
	fs.StringVar(&f.rangeSpec, "range", "", "scan what `BASE..HEAD` adds (a pull request)")
	fs.StringVar(&f.since, "since", "", "scan only commits after `DATE` (YYYY-MM-DD or RFC 3339)")
	fs.StringVar(&f.branch, "branch", "", "scan only the history of `REF`")
	fs.BoolVar(&f.allObjects, "all-objects", false, "also scan unreachable git objects")
	fs.BoolVar(&f.allLocations, "all-locations", false, "report every commit and path holding a credential")
	fs.StringVar(&f.color, "color", "auto", "colour text output: auto, always or never")
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
	if f.verify || f.revoke != "" {
		// A broken configuration fails now, not after a long scan.
		if _, err := loadRevokerConfig(f.rf); err != nil {
			return err
		}
	}

	set, err := loadRules(f.rules, f.rulesExtend)
	if err != nil {
		return err
	}
	d, err := scanner.NewDetector(set)
	if err != nil {
		return err
	}
	opts := scanner.Options{
		MaxFileSize: f.maxFileSize,
		Workers:     f.workers,
		Warn:        func(msg string) { s.warnf("%s", msg) },
		Trace:       s.gitTrace(),
	}

	var res *scanner.Result
	isRepo := target != "-" && !f.noGit && scanner.IsGitRepo(target)
	switch {
	case target == "-":
		res, err = scanner.ScanReader(ctx, d, "stdin", s.in, opts)
	case isRepo:
		gopts := scanner.GitOptions{
			Options: opts, Range: f.rangeSpec, Staged: f.staged, Branch: f.branch,
			AllObjects: f.allObjects, AllLocations: f.allLocations,
		}
		if f.staged {
			if gopts.IndexFile, err = hook.IndexFileFromEnv(); err != nil {
				return err
			}
		}
		if f.since != "" {
			if gopts.Since, err = parseDate(f.since); err != nil {
				return &usageError{msg: err.Error()}
			}
		}
		res, err = scanner.ScanGit(ctx, d, target, gopts)
	default:
		if gitFlags {
			return fmt.Errorf("scan %s: not a git repository, and git flags were given", target)
		}
		res, err = scanner.ScanDir(ctx, d, target, opts)
	}
	if err != nil {
		return err
	}

	findings := res.Findings
	ignorePath := f.ignoreFile
	if ignorePath == "" {
		ignorePath = defaultIgnorePath(target)
	}
	ig, err := report.LoadIgnore(ignorePath)
	if err != nil {
		return err
	}
	findings, ignored := ig.Filter(findings)
	if len(ignored) > 0 {
		s.hintf("%d credential(s) ignored by %s", len(ignored), ignorePath)
	}
	if f.baseline != "" {
		b, err := report.LoadBaseline(f.baseline)
		if err != nil {
			return err
		}
		var known []scanner.Finding
		findings, known = b.Filter(findings)
		if len(known) > 0 {
			s.hintf("%d credential(s) already in baseline %s", len(known), f.baseline)
		}
	}
	// The revoker, in this process: its plan or result is held until the
	// report is out, and the findings get the verification.
	var revokeOut bytes.Buffer
	var revokeErr error
	switch {
	case f.revoke != "":
		revokeErr = revokeFindings(ctx, s, f.rf, revokeMode, findings, &revokeOut, "text")
	case f.verify:
		if err := verifyFindings(ctx, s, f.rf, findings); err != nil {
			return err
		}
	}
	rep := report.Report{Findings: findings, Stats: res.Stats, Notes: res.Notes, Target: target}
	ropts := report.Options{NoRedact: f.noRedact, ToolVersion: toolVersion(), Root: target}
	if err := writeReport(s, f, format, rep, ropts); err != nil {
		return err
	}
	if revokeOut.Len() > 0 {
		w := s.out
		if f.output == "" && format != report.Text {
			w = s.err // keep a machine-readable report parseable
		} else {
			fmt.Fprintln(w)
		}
		if _, err := w.Write(revokeOut.Bytes()); err != nil {
			return fmt.Errorf("write revoke output: %w", err)
		}
	}
	if revokeErr != nil && !errors.Is(revokeErr, errFindings) {
		return revokeErr
	}
	if len(findings) > 0 {
		return errFindings
	}
	return nil
}

// writeReport writes to --output atomically, or to stdout.
func writeReport(s *stdio, f scanFlags, format report.Format, rep report.Report, o report.Options) error {
	if f.output == "" {
		o.Color = useColor(f.color, s.out)
		return report.Write(s.out, format, rep, o)
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, format, rep, o); err != nil {
		return err
	}
	return writeFileAtomic(f.output, buf.Bytes())
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".leakstop-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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

func defaultIgnorePath(target string) string {
	if target != "-" {
		if st, err := os.Stat(target); err == nil && st.IsDir() {
			return filepath.Join(target, ".leakstopignore")
		}
	}
	return ".leakstopignore"
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
