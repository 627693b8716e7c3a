package ghaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// RulesFile is the repository's conventional rules file: when the
// rules input is empty and it is at the root of the repository, its rules
// are added to the defaults (as the pre-commit hook does). On a pull
// request or merge group it is read from the base commit (see
// repoConfig).
const RulesFile = ".leakstop.toml"

// ErrFindings is returned when credentials were found and the
// fail-on-findings input is true.
var ErrFindings = errors.New("findings")

// ErrUnsupported is returned for inputs this build cannot honour.
var ErrUnsupported = errors.New("unsupported")

// Config is what Run needs from the command line.
type Config struct {
	Getenv func(string) string
	// Stdout receives workflow commands and the log; Stderr warnings.
	Stdout, Stderr io.Writer
	// Detector builds the detector: the embedded rules plus those of a
	// rules file's content data, named name in messages (as
	// --rules-extend; nil data: the embedded rules only), with opts.
	// Errors are reported as they are.
	Detector    func(name string, data []byte, opts ...scanner.DetectorOption) (*scanner.Detector, error)
	ToolVersion string
	// HTTPClient talks to the GitHub API (nil: http.DefaultClient).
	HTTPClient *http.Client
	// Retry is the rate-limit policy of GitHub calls (a zero MaxWait is
	// ActionMaxWait); Clock is its clock (tests replace it).
	Retry ghretry.Policy
	Clock ghretry.Clock
	// Verify and Revoke run the revoker, as "leakstop scan --verify" and
	// "leakstop scan --revoke" do, on the findings in memory (the reports
	// the action writes are redacted: they could not be verified). Both
	// record Twilio's answer in each finding (Verification, VerifiedAt)
	// before the reports are written. configPath is the config input,
	// absolute. Revoke returns its plan or result for the log, and an
	// error only when the run or a rotation failed (live credentials are
	// findings: fail-on-findings decides). When nil, the verify and
	// revoke inputs are refused.
	Verify func(ctx context.Context, findings []scanner.Finding, configPath string) error
	Revoke func(ctx context.Context, findings []scanner.Finding, configPath string, mode RevokeMode) (string, error)
}

// Result is what a run found and wrote.
type Result struct {
	Findings   int
	SARIF      string // path of the SARIF file
	Report     string // path of the JSON report
	Review     ReviewResult
	ReviewErr  error
	Scope      Scope
	MergeBase  string
	IgnoredNum int
	// Pending counts the findings that the proposal's own .leakstopignore
	// lists but the base commit's does not, or that are reported only for
	// lines with an inline leakstop:allow the proposal adds: reported all
	// the same.
	Pending int
	// InlineAllowed counts the locations of a proposal left out for an
	// inline leakstop:allow already on the base commit's line.
	InlineAllowed int
	// ConfigFrom is the commit .leakstopignore and .leakstop.toml were
	// read from ("" for the checkout).
	ConfigFrom string
}

// Run is "leakstop action". It returns ErrFindings when it found
// credentials and fail-on-findings is set; any other error means the
// scan could not be trusted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	logf := func(format string, a ...any) {
		// One line each, so scanned text cannot start a workflow command.
		fmt.Fprintln(cfg.Stdout, "leakstop: "+EscapeData(fmt.Sprintf(format, a...)))
	}
	warnf := func(format string, a ...any) {
		fmt.Fprintln(cfg.Stderr, "leakstop: warning: "+EscapeData(fmt.Sprintf(format, a...)))
	}
	in, err := ReadInputs(cfg.Getenv)
	if err != nil {
		return nil, err
	}
	if in.Verify && cfg.Verify == nil {
		return nil, fmt.Errorf("input verify: %w: verify requires leakstop scan --verify, which this caller does not provide", ErrUnsupported)
	}
	if in.Revoke != RevokeOff && cfg.Revoke == nil {
		return nil, fmt.Errorf("input revoke: %w: revoke requires leakstop revoke, which this caller does not provide", ErrUnsupported)
	}
	if (in.Verify || in.Revoke != RevokeOff) && in.Config == "" {
		return nil, fmt.Errorf("inputs verify and revoke need the revoker configuration: set input config")
	}
	gc := ReadContext(cfg.Getenv)
	ws, err := filepath.Abs(gc.Workspace)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	// The revoker configuration, relative to the checkout; checked before
	// the scan so that a wrong path fails at once.
	configPath := in.Config
	if configPath != "" && !filepath.IsAbs(configPath) {
		configPath = filepath.Join(ws, configPath)
	}
	if in.Verify || in.Revoke != RevokeOff {
		if _, err := os.Stat(configPath); err != nil {
			return nil, fmt.Errorf("input config: %w", err)
		}
	}
	ev, err := ReadEvent(gc.EventPath)
	if err != nil {
		return nil, err
	}
	scope, err := ScopeFor(gc.EventName, ev)
	if err != nil {
		return nil, err
	}
	res := &Result{Scope: scope}
	logf("scanning %s", scope.Describe)

	// History, then the scan.
	g := &gitRepo{dir: ws, remote: "origin", token: in.Token, server: gc.ServerURL, log: logf}
	gopts := scanner.GitOptions{Options: scanner.Options{Warn: func(msg string) { warnf("%s", msg) }}}
	var scanRes *scanner.Result
	switch scope.Kind {
	case ScopeNothing:
		scanRes = &scanner.Result{}
	case ScopeRange:
		var fallback []string
		if scope.PR > 0 {
			n := strconv.Itoa(scope.PR)
			fallback = []string{"+refs/pull/" + n + "/head:refs/remotes/" + g.remote + "/pull/" + n + "/head"}
		}
		if scope.DefaultBranch != "" && !g.hasCommit(ctx, scope.Base) {
			// A force push can drop "before" from the server: compare
			// with the default branch then.
			if err := g.ensureCommits(ctx, 1, nil, scope.Base); err != nil {
				logf("the push's previous commit %s cannot be fetched (%v); scanning what is not on %s instead", short(scope.Base), err, scope.DefaultBranch)
				base, err := g.fetchBranch(ctx, scope.DefaultBranch, 1)
				if err != nil {
					return nil, err
				}
				scope.Base = base
			}
		}
		mb, err := g.ensureMergeBase(ctx, scope.Base, scope.Head, scope.Commits, fallback)
		if err != nil {
			return nil, err
		}
		res.MergeBase = mb
		gopts.Range = scope.Base + ".." + scope.Head
	case ScopeNewBranch:
		if scope.DefaultBranch != "" {
			base, err := g.fetchBranch(ctx, scope.DefaultBranch, 1)
			if err != nil {
				return nil, err
			}
			mb, err := g.ensureMergeBase(ctx, base, scope.Head, 0, nil)
			if err != nil {
				return nil, err
			}
			scope.Base, res.MergeBase = base, mb
			gopts.Range = base + ".." + scope.Head
		} else {
			if err := g.ensureCommits(ctx, 1, nil, scope.Head); err != nil {
				return nil, err
			}
			if sh, err := g.shallow(ctx); err != nil {
				return nil, err
			} else if sh {
				if err := g.fetch(ctx, "--unshallow", g.remote, scope.Head); err != nil {
					return nil, fmt.Errorf("unshallow the checkout: %w", err)
				}
			}
			gopts.Branch = scope.Head
		}
	case ScopeHistory:
		if err := g.fetchAll(ctx); err != nil {
			return nil, err
		}
	}
	res.Scope = scope

	// The rules and the ignores: for a proposal, from its base commit
	// (which the history above brought).
	rc, err := loadRepoConfig(ctx, in, ws, scope, g, logf, warnf)
	if err != nil {
		return nil, err
	}
	res.ConfigFrom = rc.base
	if in.Verify || in.Revoke != RevokeOff {
		// The revoker configuration names sinks (commands, secret
		// stores) that receive new tokens: a proposal must not choose
		// them, so it too comes from the base commit.
		var cleanup func()
		if configPath, cleanup, err = revokerConfigAt(ctx, in, ws, scope, g, configPath, logf); err != nil {
			return nil, err
		}
		defer cleanup()
	}
	var inlineAdded map[string]bool
	if scanRes == nil {
		d, err := cfg.Detector(rc.rulesName, rc.rulesData)
		if err != nil {
			return nil, err
		}
		if scanRes, err = scanner.ScanGit(ctx, d, ws, gopts); err != nil {
			return nil, err
		}
		if rc.base != "" {
			// A proposal cannot allow its own leak inline either: scan
			// again with leakstop:allow disabled (see inlineAllowed).
			da, err := cfg.Detector(rc.rulesName, rc.rulesData, scanner.WithInlineAllow(false))
			if err != nil {
				return nil, err
			}
			aopts := gopts
			aopts.Warn = func(string) {} // the first scan said it all
			allRes, err := scanner.ScanGit(ctx, da, ws, aopts)
			if err != nil {
				return nil, err
			}
			all, added, kept := inlineAllowed(ctx, g, ws, scope.Base, scanRes.Findings, allRes.Findings, warnf)
			scanRes.Findings, inlineAdded, res.InlineAllowed = all, added, kept
			if kept > 0 {
				logf("%d location(s) left out for an inline %s already on the base commit's line", kept, scanner.AllowComment)
			}
		}
	}

	findings, ignored := rc.ignore.Filter(scanRes.Findings)
	// pending maps the fingerprint of a finding that the proposal's own
	// configuration would silence to the note that says so.
	pending := map[string]string{}
	var notes []string
	for fp := range rc.pending(findings) {
		pending[fp] = pendingNote(scope)
	}
	if len(pending) > 0 {
		notes = append(notes, pendingNote(scope))
	}
	var inlineN int
	for _, f := range findings {
		if inlineAdded[f.Fingerprint] && pending[f.Fingerprint] == "" {
			pending[f.Fingerprint] = inlineAllowNote(scope)
			inlineN++
		}
	}
	if inlineN > 0 {
		notes = append(notes, inlineAllowNote(scope))
	}
	res.Findings, res.IgnoredNum, res.Pending = len(findings), len(ignored), len(pending)
	if len(ignored) > 0 {
		from := ignoreFileName
		if rc.base != "" {
			from = short(rc.base) + ":" + ignoreFileName
		}
		logf("%d credential(s) ignored by %s", len(ignored), from)
	}
	for _, note := range notes {
		n := 0
		for _, v := range pending {
			if v == note {
				n++
			}
		}
		logf("%d credential(s) still reported, %s", n, note)
	}

	// The revoker, on the findings in memory (with their secrets, which
	// never leave the process): it records Twilio's answer in each finding
	// for the reports; its plan or result is logged after them.
	var revokeLog string
	var revokeErr error
	switch {
	case in.Revoke != RevokeOff && len(findings) > 0:
		logf("revoke (%s) with the configuration %s", in.Revoke, relTo(ws, configPath))
		revokeLog, revokeErr = cfg.Revoke(ctx, findings, configPath, in.Revoke)
	case in.Verify && len(findings) > 0:
		logf("verifying %d credential(s) with Twilio", len(findings))
		if err := cfg.Verify(ctx, findings, configPath); err != nil {
			return nil, err
		}
	}

	// Files: the JSON report and SARIF, both redacted.
	outDir := gc.RunnerTemp
	if outDir == "" {
		outDir = os.TempDir()
	}
	outDir = filepath.Join(outDir, "leakstop")
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nil, fmt.Errorf("write reports: %w", err)
	}
	rep := report.Report{Findings: findings, Stats: scanRes.Stats, Notes: scanRes.Notes, Target: scope.Describe}
	ropts := report.Options{ToolVersion: cfg.ToolVersion, Root: ws}
	res.Report = filepath.Join(outDir, "leakstop.json")
	res.SARIF = filepath.Join(outDir, "leakstop.sarif")
	if err := writeReport(res.Report, report.JSON, rep, ropts); err != nil {
		return nil, err
	}
	if err := writeReport(res.SARIF, report.SARIF, rep, ropts); err != nil {
		return nil, err
	}

	// Outputs before anything that may fail, so later steps see them.
	if err := writeOutputs(gc.Output, map[string]string{
		"findings": strconv.Itoa(len(findings)),
		"sarif":    res.SARIF,
		"report":   res.Report,
	}); err != nil {
		return nil, err
	}
	for _, a := range annotations(findings, pending) {
		fmt.Fprintln(cfg.Stdout, a.String())
	}
	if gc.Summary != "" {
		sum := summaryMarkdown(summaryInput{scope: scope, findings: findings, ignored: len(ignored), ignoreFrom: rc.base,
			stats: scanRes.Stats, notes: append(slices.Clone(scanRes.Notes), rc.notes...), pending: pending, pendingNotes: notes})
		if err := appendFile(gc.Summary, sum); err != nil {
			return nil, err
		}
	}

	// The pull request review.
	if scope.PR > 0 && in.Comment && len(findings) > 0 {
		res.Review, res.ReviewErr = review(ctx, cfg, in, gc, g, scope, res.MergeBase, findings, pending, logf)
		if res.ReviewErr != nil {
			// Reporting on the pull request is a courtesy: the annotations,
			// summary and exit status still say it all.
			fmt.Fprintln(cfg.Stdout, Annotation{Level: "warning", Title: "leakstop could not comment on the pull request",
				Message: res.ReviewErr.Error()}.String())
		}
	}

	// The revoker's plan or result: one escaped log line each.
	for _, line := range strings.Split(strings.TrimRight(revokeLog, "\n"), "\n") {
		if line != "" {
			logf("%s", line)
		}
	}
	if revokeErr != nil {
		return res, revokeErr
	}

	if len(findings) == 0 {
		logf("no Twilio credentials found")
		return res, nil
	}
	logf("%d Twilio credential(s) found", len(findings))
	if in.FailOnFindings {
		return res, ErrFindings
	}
	return res, nil
}

func review(ctx context.Context, cfg Config, in Inputs, gc Context, g *gitRepo, scope Scope, mergeBase string,
	findings []scanner.Finding, pending map[string]string, logf func(string, ...any)) (ReviewResult, error) {
	if in.Token == "" {
		return ReviewResult{}, errors.New("no github-token: cannot comment")
	}
	owner, repo, ok := strings.Cut(gc.Repository, "/")
	if !ok || owner == "" || repo == "" {
		return ReviewResult{}, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", gc.Repository)
	}
	from := mergeBase
	if from == "" {
		from = scope.Base
	}
	diffText, err := g.git(ctx, "-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv",
		"--src-prefix=a/", "--dst-prefix=b/", "-M", "-U3", from, scope.Head)
	if err != nil {
		return ReviewResult{}, fmt.Errorf("diff the pull request: %w", err)
	}
	client := github.NewClient(cfg.HTTPClient).WithAuthToken(in.Token)
	base := gc.APIURL + "/"
	u, err := client.BaseURL.Parse(base)
	if err != nil {
		return ReviewResult{}, fmt.Errorf("GITHUB_API_URL: %w", err)
	}
	client.BaseURL = u
	rv := &Reviewer{Client: client, Owner: owner, Repo: repo, Number: scope.PR, CommitID: scope.Head, Retry: cfg.Retry, Clock: cfg.Clock, Log: logf,
		Pending: pending}
	r, err := rv.Review(ctx, findings, parseDiffLines(diffText))
	if err != nil {
		return r, err
	}
	switch {
	case !r.Posted:
		logf("every finding was already commented on the pull request")
	default:
		logf("posted a review: %d comment(s) on lines, %d in the review body, %d already there", r.Comments, r.BodyEntries, r.Skipped)
	}
	return r, nil
}

func writeReport(path string, f report.Format, rep report.Report, o report.Options) error {
	var buf bytes.Buffer
	if err := report.Write(&buf, f, rep, o); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
