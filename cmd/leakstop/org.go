package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	leakstop "github.com/leakstop/leakstop"
	"github.com/leakstop/leakstop/orgscan"
	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
)

const orgUsage = `org scan --org NAME [--org NAME…] [flags]

Scans every repository of the GitHub organisations named by --org: lists
them through the GitHub API (private, forks and archived included unless
filtered out), mirrors each into --cache with the git binary, and scans
its whole history — on later runs only what was pushed since, and never a
blob the organisation already scanned clean. The report covers the whole
organisation every run: one entry per credential, with every repository
and location, when it was first and last seen, and whether it is new.

Authentication: the token in $GITHUB_TOKEN (or the variable --token-env
names), or a GitHub App (--app-id, --app-key-file; the installation token
is renewed before it expires). Tokens are read from the environment or a
file only, and never written anywhere.

Several processes given the same --state postgres://… DSN (and --round)
share the work: each repository is scanned by one of them, and a process
that dies loses nothing. See docs/org-scans.md.

Exit status: 0 no findings, 1 findings, 2 a repository could not be
scanned (it is named, and retried on the next run; the others are still
scanned and reported) or another error.`

type orgFlags struct {
	orgs, include, exclude               multiFlag
	apiURL, cache, round, format, output string
	tokenEnv, appKeyFile                 string
	appID, appInstallation               int64
	workers                              int
	lease                                time.Duration
	noForks, noArchived, noPrivate       bool
	rules, rulesExtend                   string
	revoke                               string
	rf                                   revokerFlags
}

// multiFlag is a flag that may be repeated.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runOrg(ctx context.Context, s *stdio, args []string) error {
	if len(args) == 0 || (args[0] != "scan" && args[0] != "-h" && args[0] != "--help") {
		return &usageError{msg: "org takes a subcommand: leakstop org scan --org NAME"}
	}
	if args[0] == "scan" {
		args = args[1:]
	}
	fs := newFlagSet("org scan", orgUsage, s.out)
	var f orgFlags
	fs.Var(&f.orgs, "org", "organisation `NAME` to scan (repeatable)")
	fs.StringVar(&f.apiURL, "github-api-url", "", "GitHub API base `URL` (GitHub Enterprise: https://HOST/api/v3; default https://api.github.com)")
	fs.StringVar(&f.cache, "cache", "", "`DIR` holding the repositories' mirrors (default: the user's cache directory)")
	fs.IntVar(&f.workers, "workers", 2, "repositories scanned at once by this process")
	fs.StringVar(&f.round, "round", "", "`NAME` of the round shared by the workers of one run (default: join the open round or start one)")
	fs.DurationVar(&f.lease, "lease", 30*time.Minute, "a repository not finished after this long by its worker (which died) is given to another")
	fs.StringVar(&f.format, "format", "text", "report format: text, json or sarif (one file per repository in the --output directory)")
	fs.StringVar(&f.output, "output", "", "write the report to `FILE` (sarif: a directory) instead of standard output")
	fs.StringVar(&f.tokenEnv, "token-env", "GITHUB_TOKEN", "environment `VARIABLE` holding the GitHub token")
	fs.Int64Var(&f.appID, "app-id", 0, "GitHub App `ID` (with --app-key-file): authenticate as the App's installation")
	fs.StringVar(&f.appKeyFile, "app-key-file", "", "GitHub App private key `FILE` (PEM)")
	fs.Int64Var(&f.appInstallation, "app-installation-id", 0, "GitHub App installation `ID` (default: the organisation's installation)")
	fs.BoolVar(&f.noForks, "no-forks", false, "leave forks out")
	fs.BoolVar(&f.noArchived, "no-archived", false, "leave archived repositories out")
	fs.BoolVar(&f.noPrivate, "no-private", false, "leave private repositories out")
	fs.Var(&f.include, "include", "scan only repositories whose name or owner/name matches `GLOB` (repeatable)")
	fs.Var(&f.exclude, "exclude", "leave out repositories whose name or owner/name matches `GLOB` (repeatable)")
	fs.StringVar(&f.rules, "rules", "", "rules `FILE` replacing the embedded defaults")
	fs.StringVar(&f.rulesExtend, "rules-extend", "", "rules `FILE` added to the rules in use")
	fs.StringVar(&f.revoke, "revoke", "", "hand verified credentials to the revoker: `MODE` plan or apply (with --config)")
	f.rf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "org scan takes no arguments; name organisations with --org"}
	}
	if len(f.orgs) == 0 {
		return &usageError{msg: "name at least one organisation with --org"}
	}
	if f.workers < 1 {
		return &usageError{msg: "--workers must be at least 1"}
	}
	filter := orgscan.Filter{NoForks: f.noForks, NoArchived: f.noArchived, NoPrivate: f.noPrivate,
		Include: f.include, Exclude: f.exclude}
	if err := filter.Validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	switch {
	case f.format != "text" && f.format != "json" && f.format != "sarif":
		return &usageError{msg: fmt.Sprintf("unknown format %q: want text, json or sarif", f.format)}
	case f.format == "sarif" && f.output == "":
		return &usageError{msg: "--format sarif writes one file per repository: name a directory with --output"}
	}
	var revokeMode revoker.Mode
	if f.revoke != "" {
		if revokeMode, err = parseRevokeMode(f.revoke); err != nil {
			return &usageError{msg: err.Error()}
		}
		if f.rf.config == "" {
			return &usageError{msg: "--revoke needs --config (the accounts you own and where tokens are delivered)"}
		}
	}
	return orgScan(ctx, s, f, revokeMode)
}

// orgRulesHash identifies the rules in force (see orgscan.RulesHash):
// the embedded rules unless --rules replaces them, and every rules file's
// bytes. A different hash means every repository is scanned again in full.
func orgRulesHash(replace, extend *policy.RulesSource) string {
	files := [][]byte{leakstop.DefaultRules}
	if replace != nil {
		files = [][]byte{replace.Data}
	}
	if extend != nil {
		files = append(files, extend.Data)
	}
	return orgscan.RulesHash(toolVersion(), files)
}

// orgMemoryLimit is an org scan's soft limit on Go's memory (GOMEMLIMIT
// overrides it): the heap's share of the 512 MiB a worker may use, the
// rest being mapped pack pages and git.
const orgMemoryLimit = 384 << 20

// orgOutput is where an org scan shows its progress and logs: on a
// terminal, progress bars with warnings printed above them; otherwise
// JSON log lines (log/slog) on standard error.
func orgOutput(w io.Writer) (orgscan.Progress, *slog.Logger) {
	if orgscan.IsTerminal(w) {
		tp := orgscan.NewTTYProgress(w)
		return tp, slog.New(slog.NewTextHandler(tp, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return orgscan.NewProgress(w, false, log), log
}

// orgScan runs one round of an org scan in this process and reports.
func orgScan(ctx context.Context, s *stdio, f orgFlags, mode revoker.Mode) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// A worker is meant to stay under 512 MiB: past this the garbage
		// collector works harder rather than let the heap double.
		debug.SetMemoryLimit(orgMemoryLimit)
	}
	prog, log := orgOutput(s.err)
	tokens, err := orgTokens(f)
	if err != nil {
		return err
	}
	client, err := orgscan.NewClient(f.apiURL, tokens, orgscan.ClientOptions{Log: log})
	if err != nil {
		return err
	}
	var replace, extend *policy.RulesSource
	if f.rules != "" {
		if replace, err = policy.ReadRules(f.rules); err != nil {
			return err
		}
	}
	if f.rulesExtend != "" {
		if extend, err = policy.ReadRules(f.rulesExtend); err != nil {
			return err
		}
	}
	set, err := policy.ResolveRules(replace, extend)
	if err != nil {
		return err
	}
	det, err := scanner.NewDetector(set)
	if err != nil {
		return err
	}
	hash := orgRulesHash(replace, extend) // the bytes the detector was built from, read once
	dsn := f.rf.state
	if dsn == "" {
		dsn = os.Getenv(stateEnv)
	}
	if dsn == "" {
		if dsn, err = state.DefaultPath(os.Getenv("XDG_STATE_HOME")); err != nil {
			return err
		}
	}
	store, err := state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{orgscan.StateSchema}})
	if err != nil {
		return err
	}
	defer store.Close()
	cache := f.cache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("find the cache directory (set --cache): %w", err)
		}
		cache = filepath.Join(dir, "leakstop", "mirrors")
	}
	out, runErr := orgscan.Run(ctx, orgscan.Config{
		Orgs: f.orgs,
		Filter: orgscan.Filter{NoForks: f.noForks, NoArchived: f.noArchived, NoPrivate: f.noPrivate,
			Include: f.include, Exclude: f.exclude}, // checked by runOrg
		Client: client,
		Mirror: &orgscan.Mirror{Root: cache, Tokens: tokens, Log: log},
		Store:  store, DSN: dsn,
		Detector: det, RulesHash: hash,
		Round: f.round, Workers: f.workers, Lease: f.lease,
		Progress: prog, Log: log,
	})
	if out == nil {
		return runErr
	}
	if err := writeOrgReport(s, f, out.Report); err != nil {
		return err
	}
	for _, fr := range out.Report.Failed {
		fmt.Fprintf(s.err, "leakstop: error: %s could not be scanned: %s\n", fr.FullName, fr.Reason)
	}
	var revokeErr error
	if mode != "" && len(out.Fresh) > 0 {
		w := s.out
		if f.output == "" && f.format != "text" {
			w = s.err
		}
		revokeErr = pipeline.Revoke(ctx, revokerOptions(s, f.rf), mode, out.Fresh, w, "text")
	}
	switch {
	case runErr != nil:
		if errors.Is(runErr, orgscan.ErrRepos) {
			s.hintf("the repositories named above are retried on the next run")
		}
		return runErr
	case revokeErr != nil:
		return revokeErr
	case out.Report.ExitCode() == exitFindings:
		return errFindings
	}
	return nil
}

// orgTokens is the GitHub token source: a GitHub App's installation
// tokens, or the token in the environment.
func orgTokens(f orgFlags) (orgscan.TokenSource, error) {
	if f.appID != 0 || f.appKeyFile != "" {
		if f.appID == 0 || f.appKeyFile == "" {
			return nil, &usageError{msg: "a GitHub App needs both --app-id and --app-key-file"}
		}
		if len(f.orgs) > 1 {
			// Each organisation has its own installation, and its own tokens.
			return nil, &usageError{msg: "a GitHub App is installed per organisation: run one org scan per --org (they may share --state)"}
		}
		key, err := os.ReadFile(f.appKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read GitHub App key: %w", err)
		}
		return orgscan.NewAppTokenSource(orgscan.AppConfig{APIURL: f.apiURL, AppID: f.appID, PrivateKeyPEM: key,
			InstallationID: f.appInstallation, Org: f.orgs[0]})
	}
	tok := strings.TrimSpace(os.Getenv(f.tokenEnv))
	if tok == "" {
		return nil, &usageError{msg: fmt.Sprintf("no GitHub token: set $%s (or --token-env NAME), or use a GitHub App (--app-id, --app-key-file)", f.tokenEnv)}
	}
	return orgscan.NewStaticToken(tok), nil
}

// writeOrgReport writes the organisation's report in the chosen format.
func writeOrgReport(s *stdio, f orgFlags, r *orgscan.OrgReport) error {
	switch f.format {
	case "sarif":
		if f.output == "" {
			return &usageError{msg: "--format sarif writes one file per repository: name a directory with --output"}
		}
		_, err := r.WriteSARIF(f.output, report.Options{})
		return err
	case "json", "text":
		w := s.out
		var file *os.File
		if f.output != "" {
			var err error
			if file, err = os.OpenFile(f.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			w = file
		}
		var err error
		if f.format == "json" {
			err = r.WriteJSON(w)
		} else {
			err = r.WriteText(w)
		}
		if file != nil {
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown format %q: want text, json or sarif", f.format)}
}
