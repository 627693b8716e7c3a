package ghaction

import (
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
	"github.com/leakstop/leakstop/internal/gitcmd"
	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// ErrFindings is returned when credentials were found and the
// fail-on-findings input is true: the pipeline's, as for every front end.
var ErrFindings = pipeline.ErrFindings

// Config is what Run needs: the inputs and the runner's context as main
// read them from the environment, and where to write.
type Config struct {
	Inputs  Inputs
	Context Context
	// Stdout receives workflow commands and the log; Stderr warnings and
	// the revoker's diagnostics.
	Stdout, Stderr io.Writer
	ToolVersion    string
	// HTTPClient talks to the GitHub API (nil: http.DefaultClient).
	HTTPClient *http.Client
	// Retry is the rate-limit policy of GitHub calls (a zero MaxWait is
	// ActionMaxWait); Clock is its clock (tests replace it).
	Retry ghretry.Policy
	Clock ghretry.Clock
	// Revoker wires the revoker for the verify and revoke inputs, which
	// run it on the findings in memory, as "leakstop scan --verify" and
	// "--revoke" do (the reports the action writes are redacted: they
	// could not be verified). Run sets its Config (the config input, for
	// a proposal read from the base commit), Repo and Diag.
	Revoker pipeline.RevokerOptions
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
	// PreExisting counts the findings of a proposal that its base commit
	// already holds (notices: they do not fail the run); RemovedLater
	// those that a commit of it added and a later one removed.
	PreExisting, RemovedLater int
	// ConfigFrom is the commit .leakstopignore and .leakstop.toml were
	// read from ("" for the checkout).
	ConfigFrom string
}

// Run is "leakstop action". It returns ErrFindings when it found
// credentials and fail-on-findings is set; any other error means the
// scan could not be trusted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
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
	in, gc := cfg.Inputs, cfg.Context.withDefaults()
	if in.Revoke == "" {
		in.Revoke = RevokeOff
	}
	if (in.Verify || in.Revoke != RevokeOff) && in.Config == "" {
		return nil, fmt.Errorf("inputs verify and revoke need the revoker configuration: set input config")
	}
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

	// History, then what to scan.
	g := &gitRepo{Repo: gitcmd.Repo{Dir: ws}, remote: "origin", token: in.Token, server: gc.ServerURL, log: logf}
	src, err := fetchScope(ctx, g, &scope, res)
	if err != nil {
		return nil, err
	}
	res.Scope = scope

	// The policy: on a proposal, the rules, the ignores and the revoker
	// configuration come from its base commit (which the history above
	// brought), so that it cannot silence its own findings nor choose
	// where new secrets go.
	popts := policy.Options{Dir: ws, Log: logf, Warn: warnf}
	if in.Rules != "" {
		popts.RulesExtend = in.Rules
		if !filepath.IsAbs(popts.RulesExtend) {
			popts.RulesExtend = filepath.Join(ws, popts.RulesExtend)
		}
	}
	switch noun := scope.proposalNoun(); {
	case scope.Proposal && !in.TrustPRConfig:
		popts.Proposal = &policy.Proposal{Base: scope.Base, Head: scope.Head, Noun: noun, Git: g.Repo, Worktree: ws}
		res.ConfigFrom = scope.Base
		logf("reading %s and %s from the base commit %s, not from the %s (input trust-pr-config: false)",
			report.IgnoreFileName, policy.RulesFile, short(scope.Base), noun)
	case scope.Proposal:
		logf("trust-pr-config: reading %s and %s from the checkout, as the %s leaves them", report.IgnoreFileName, policy.RulesFile, noun)
	}
	rv := cfg.Revoker
	rv.Config, rv.Repo, rv.Diag = configPath, gc.Repository, &escapeLines{w: cfg.Stderr}
	if in.Verify || in.Revoke != RevokeOff {
		path, cleanup, err := popts.Proposal.TrustedFile(ctx, ws, configPath)
		var nb *policy.NotInBaseError
		if errors.As(err, &nb) {
			return nil, fmt.Errorf("input config: %w (input trust-pr-config: true reads the checkout's)", err)
		}
		if err != nil {
			return nil, fmt.Errorf("read the revoker configuration at the base commit: %w", err)
		}
		defer cleanup()
		if path != configPath {
			logf("revoker configuration %s read from the base commit %s", relTo(ws, configPath), short(scope.Base))
		}
		rv.Config = path
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
	res.Report = filepath.Join(outDir, "leakstop.json")
	res.SARIF = filepath.Join(outDir, "leakstop.sarif")
	ropts := report.Options{ToolVersion: cfg.ToolVersion, Root: ws}

	// The scan, the filters, the revoker on the findings in memory (with
	// their secrets, which never leave the process: it records Twilio's
	// answer in each finding for the reports), then the reports.
	o := pipeline.Options{
		Source: src,
		Policy: popts,
		Warn:   func(msg string) { warnf("%s", msg) },
		Target: scope.Describe,
	}
	switch {
	case in.Revoke != RevokeOff:
		o.Revoke = pipeline.RevokeStep{Mode: pipeline.RevokePlan, Options: rv, SkipWhenClean: true}
		if in.Revoke == RevokeApply {
			o.Revoke.Mode = pipeline.RevokeApply
		}
	case in.Verify:
		o.Revoke = pipeline.RevokeStep{Mode: pipeline.RevokeVerify, Options: rv, SkipWhenClean: true}
	}
	pr, err := pipeline.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	// A proposal's findings are placed where its head holds them, and
	// those its base commit already holds are told apart; then the
	// reports, which say so.
	findings := pr.Findings
	pl := placement{status: map[string]standing{}}
	if scope.Proposal && scope.Kind == ScopeRange {
		if findings, pl, err = place(ctx, g, pr.Policy.Rules, scope, res.MergeBase, findings); err != nil {
			return nil, err
		}
	}
	ropts.Remarks = map[string]report.Remark{}
	for _, f := range findings {
		if r := pl.remark(f.Fingerprint); r != "" {
			ropts.Remarks[f.Fingerprint] = report.Remark{Text: r, Notice: pl.of(f.Fingerprint) == preExisting}
		}
	}
	rep := report.Report{Findings: findings, Stats: pr.Stats, Notes: pr.Notes, Target: scope.Describe}
	for _, out := range []struct {
		format report.Format
		path   string
	}{{report.JSON, res.Report}, {report.SARIF, res.SARIF}} {
		if err := report.WriteFile(out.path, out.format, rep, ropts); err != nil {
			return nil, err
		}
	}
	res.Findings, res.IgnoredNum, res.Pending, res.InlineAllowed = len(findings), len(pr.Ignored), len(pr.Pending), pr.InlineAllowed
	res.PreExisting, res.RemovedLater = pl.count(preExisting), pl.count(removedLater)
	if res.PreExisting > 0 {
		logf("%d pre-existing credential(s) already on the base branch (base commit %s): notices, which do not fail the run", res.PreExisting, short(scope.Base))
	}
	if res.RemovedLater > 0 {
		logf("%d credential(s) added and removed again within the %s: still in its history", res.RemovedLater, scope.proposalNoun())
	}
	if pr.InlineAllowed > 0 {
		logf("%d location(s) left out for an inline %s already on the base commit's line", pr.InlineAllowed, scanner.AllowComment)
	}
	if len(pr.Ignored) > 0 {
		from := report.IgnoreFileName
		if res.ConfigFrom != "" {
			from = short(res.ConfigFrom) + ":" + report.IgnoreFileName
		}
		logf("%d credential(s) ignored by %s", len(pr.Ignored), from)
	}
	for _, note := range pr.PendingNotes {
		logf("%d credential(s) still reported, %s", pr.PendingCount(note), note)
	}
	switch {
	case in.Revoke != RevokeOff && len(findings) > 0:
		logf("revoke (%s) with the configuration %s", in.Revoke, relTo(ws, configPath))
	case in.Verify && len(findings) > 0:
		logf("verified %d credential(s) with Twilio", len(findings))
	}

	// Outputs before anything that may fail, so later steps see them.
	if err := writeOutputs(gc.Output, map[string]string{
		"findings":     strconv.Itoa(len(findings)),
		"pre-existing": strconv.Itoa(res.PreExisting),
		"sarif":        res.SARIF,
		"report":       res.Report,
	}); err != nil {
		return nil, err
	}
	for _, a := range annotations(findings, pr.Pending, pl) {
		fmt.Fprintln(cfg.Stdout, a.String())
	}
	if gc.Summary != "" {
		sum := summaryMarkdown(summaryInput{scope: scope, findings: findings, ignored: len(pr.Ignored), ignoreFrom: res.ConfigFrom,
			stats: pr.Stats, notes: append(slices.Clone(pr.Notes), pr.Policy.Notes...), pending: pr.Pending, pendingNotes: pr.PendingNotes,
			place: pl})
		if err := appendFile(gc.Summary, sum); err != nil {
			return nil, err
		}
	}

	// The pull request review.
	// The pull request review: what it adds, not what its base holds.
	var reviewed []scanner.Finding
	for _, f := range findings {
		if pl.of(f.Fingerprint) != preExisting {
			reviewed = append(reviewed, f)
		}
	}
	if scope.PR > 0 && in.Comment && len(reviewed) > 0 {
		res.Review, res.ReviewErr = review(ctx, cfg, in, gc, g, scope, res.MergeBase, reviewed, pr.Pending, pl, logf)
		if res.ReviewErr != nil {
			// Reporting on the pull request is a courtesy: the annotations,
			// summary and exit status still say it all.
			fmt.Fprintln(cfg.Stdout, Annotation{Level: "warning", Title: "leakstop could not comment on the pull request",
				Message: res.ReviewErr.Error()}.String())
		}
	}

	// The revoker's plan or result: one escaped log line each. Live
	// credentials are findings: fail-on-findings decides.
	logLines(logf, string(pr.RevokeOutput))
	if pr.RevokeErr != nil && !errors.Is(pr.RevokeErr, pipeline.ErrFindings) {
		return res, pr.RevokeErr
	}

	if len(findings) == 0 {
		logf("no Twilio credentials found")
		return res, nil
	}
	var failing []scanner.Finding
	tests := 0
	for _, f := range findings {
		switch {
		case pl.of(f.Fingerprint) == preExisting:
		case f.IsTestCredential():
			tests++
		default:
			failing = append(failing, f)
		}
	}
	logf("%d Twilio credential(s) found", len(findings))
	if tests > 0 {
		logf("%d of them are Twilio test credentials: notes, which do not fail the run", tests)
	}
	if in.FailOnFindings && len(failing) > 0 {
		return res, ErrFindings
	}
	return res, nil
}

// logLines logs text one escaped line at a time (a line of it cannot
// start a workflow command).
func logLines(logf func(string, ...any), text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line != "" {
			logf("%s", line)
		}
	}
}

// fetchScope brings the history the scope needs into the checkout and
// says what to scan; it sets res.MergeBase and may move scope.Base (a
// force push whose previous commit is gone).
func fetchScope(ctx context.Context, g *gitRepo, scope *Scope, res *Result) (pipeline.Source, error) {
	src := pipeline.Source{Kind: pipeline.SourceGit, Path: g.Dir}
	switch scope.Kind {
	case ScopeNothing:
		src.Kind = pipeline.SourceNothing
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
				g.log("the push's previous commit %s cannot be fetched (%v); scanning what is not on %s instead", short(scope.Base), err, scope.DefaultBranch)
				base, err := g.fetchBranch(ctx, scope.DefaultBranch, 1)
				if err != nil {
					return src, err
				}
				scope.Base = base
			}
		}
		mb, err := g.ensureMergeBase(ctx, scope.Base, scope.Head, scope.Commits, fallback)
		if err != nil {
			return src, err
		}
		res.MergeBase = mb
		src.Git.Range = scope.Base + ".." + scope.Head
	case ScopeNewBranch:
		if scope.DefaultBranch != "" {
			base, err := g.fetchBranch(ctx, scope.DefaultBranch, 1)
			if err != nil {
				return src, err
			}
			mb, err := g.ensureMergeBase(ctx, base, scope.Head, 0, nil)
			if err != nil {
				return src, err
			}
			scope.Base, res.MergeBase = base, mb
			src.Git.Range = base + ".." + scope.Head
			break
		}
		if err := g.ensureCommits(ctx, 1, nil, scope.Head); err != nil {
			return src, err
		}
		if sh, err := g.shallow(ctx); err != nil {
			return src, err
		} else if sh {
			if err := g.fetch(ctx, "--unshallow", g.remote, scope.Head); err != nil {
				return src, fmt.Errorf("unshallow the checkout: %w", err)
			}
		}
		src.Git.Branch = scope.Head
	case ScopeHistory:
		if err := g.fetchAll(ctx); err != nil {
			return src, err
		}
	}
	return src, nil
}

func review(ctx context.Context, cfg Config, in Inputs, gc Context, g *gitRepo, scope Scope, mergeBase string,
	findings []scanner.Finding, pending map[string]string, pl placement, logf func(string, ...any)) (ReviewResult, error) {
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
		Pending: pending, place: pl}
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

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
