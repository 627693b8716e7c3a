package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
)

// revokerFlags are the flags that wire the revoker, shared by scan
// (--verify, --revoke) and revoke.
type revokerFlags struct {
	config      string // revoker configuration file
	state       string // store DSN, overriding the configuration's
	twilioAPI   string // Twilio base URLs (tests point them at a fake)
	twilioAccts string
	verbose     bool
}

func (rf *revokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&rf.config, "config", "", "revoker configuration `FILE` (accounts you own, sinks, notifiers, state store; see docs/revoke.md)")
	fs.StringVar(&rf.state, "state", "", "state store `DSN` (a SQLite path or postgres://…); default $"+stateEnv+", else the configuration's state")
	fs.StringVar(&rf.twilioAPI, "twilio-api-url", "", "Twilio REST API base `URL` (default https://api.twilio.com; for tests)")
	fs.StringVar(&rf.twilioAccts, "twilio-accounts-url", "", "Twilio Accounts API base `URL` (default https://accounts.twilio.com and https://iam.twilio.com, or --twilio-api-url when only that is set; for tests)")
	fs.BoolVar(&rf.verbose, "verbose", false, "log every step of a rotation to standard error")
}

// stateEnv names the variable that may hold the store's DSN, so that a
// database password need not be in the configuration file or on a
// command line.
const stateEnv = "LEAKSTOP_STATE"

// revokerSession is a Revoker with the store it owns.
type revokerSession struct {
	rv  *revoker.Revoker
	cfg revoker.Config
	st  state.Store
	// closeFn closes the store (and removes a throwaway one).
	closeFn func()
}

func (rs *revokerSession) Close() {
	if rs != nil && rs.closeFn != nil {
		rs.closeFn()
	}
}

// sessionOptions say what a command needs of the revoker.
type sessionOptions struct {
	// mode overrides the configuration's mode ("" keeps it).
	mode revoker.Mode
	// throwaway: without --config and --state, keep the state in a
	// temporary store deleted on Close (scan --verify records nothing).
	throwaway bool
	// sinks: build the configured sinks and notifiers (not needed to
	// verify, or to read the status).
	sinks bool
}

// loadRevokerConfig reads --config, or returns an empty configuration (no
// account is owned: nothing can be rotated).
func loadRevokerConfig(rf revokerFlags) (revoker.Config, error) {
	if rf.config == "" {
		return revoker.Config{}, nil
	}
	cfg, err := revoker.LoadConfig(rf.config)
	if err != nil {
		return revoker.Config{}, fmt.Errorf("revoker configuration: %w", err)
	}
	return cfg, nil
}

// openRevoker wires configuration, store, Twilio client, sinks and
// notifiers into a Revoker (see revoker's Example).
func openRevoker(ctx context.Context, s *stdio, rf revokerFlags, o sessionOptions) (*revokerSession, error) {
	cfg, err := loadRevokerConfig(rf)
	if err != nil {
		return nil, err
	}
	if o.mode != "" {
		cfg.Mode = o.mode
	}
	if rf.state == "" {
		rf.state = os.Getenv(stateEnv)
	}
	if rf.state != "" {
		cfg.State = rf.state
	}
	rs := &revokerSession{cfg: cfg}
	dsn := cfg.State
	var tmpDir string
	if o.throwaway && rf.config == "" && rf.state == "" {
		if tmpDir, err = os.MkdirTemp("", "leakstop-verify-"); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		dsn = filepath.Join(tmpDir, "state.db")
	}
	if dsn == "" {
		if dsn, err = state.DefaultPath(os.Getenv("XDG_STATE_HOME")); err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
	}
	st, err := state.Open(ctx, dsn, state.Options{})
	if err != nil {
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
		return nil, err
	}
	rs.st = st
	rs.closeFn = func() {
		st.Close()
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
	}
	var sinks map[string]revoker.Sink
	var notifiers map[string]revoker.Notifier
	if o.sinks {
		var berr error
		sinks, notifiers, berr = cfg.Build(ctx, revoker.DefaultFactories(), os.Getenv)
		if berr != nil {
			// The plan shows which rotations this blocks.
			for _, e := range splitJoined(berr) {
				s.warnf("%v", e)
			}
		}
	}
	accts := rf.twilioAccts
	if accts == "" {
		accts = rf.twilioAPI
	}
	level := slog.LevelWarn
	if rf.verbose {
		level = slog.LevelInfo
	}
	rv, err := revoker.New(cfg, revoker.Deps{
		Store:     st,
		Twilio:    twilio.New(twilio.Options{APIBaseURL: rf.twilioAPI, AccountsBaseURL: accts, IAMBaseURL: accts}),
		Sinks:     sinks,
		Notifiers: notifiers,
		Getenv:    os.Getenv,
		Log:       slog.New(&cliLogHandler{mu: &sync.Mutex{}, w: s.err, level: level}),
	})
	if err != nil {
		rs.Close()
		return nil, fmt.Errorf("revoker configuration: %w", err)
	}
	rs.rv, rs.cfg = rv, rv.Config()
	return rs, nil
}

// splitJoined undoes errors.Join, for one diagnostic line per error.
func splitJoined(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

// leaksOf turns findings into the revoker's input, skipping credentials
// that are not Twilio's (a user's own secret rules). repo names the
// repository for notifications ("" outside the Action). keys[i] is the
// identity of findings[i] ("" when skipped): two findings of one
// credential (two rules) share it.
func leaksOf(findings []scanner.Finding, repo string) (leaks []revoker.Leak, keys []string) {
	keys = make([]string, len(findings))
	for i := range findings {
		f := &findings[i]
		l := revoker.Leak{Fingerprint: f.Fingerprint, Secret: f.Secret, Test: f.Test}
		switch f.Credential {
		case revoker.KindAuthToken:
			l.Kind, l.AccountSID = revoker.KindAuthToken, f.Identifier
		case revoker.KindAPIKey:
			l.Kind, l.KeySID, l.AccountSID = revoker.KindAPIKey, f.Identifier, f.Account
		default:
			continue
		}
		if f.Secret.IsZero() {
			continue
		}
		for _, loc := range f.Locations {
			nl := revoker.Location{Repo: repo, Path: loc.Path, Line: loc.Line}
			if loc.Commit != nil {
				nl.Commit = loc.Commit.Hash
			}
			l.Locations = append(l.Locations, nl)
		}
		keys[i] = l.Kind + "\x00" + f.Identifier + "\x00" + f.Secret.Reveal()
		leaks = append(leaks, l)
	}
	return leaks, keys
}

// annotate sets each finding's verification from the plan's or result's
// items, which carry the scanner fingerprint of the first finding of each
// distinct credential.
func annotate(findings []scanner.Finding, keys []string, items []revoker.Item, at time.Time) {
	byFP := map[string]revoker.Item{}
	for _, it := range items {
		if it.Fingerprint != "" {
			byFP[it.Fingerprint] = it
		}
	}
	first := map[string]string{} // identity → fingerprint of its first finding
	for i, k := range keys {
		if k == "" {
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = findings[i].Fingerprint
		}
		if it, ok := byFP[first[k]]; ok && it.Verification != "" {
			findings[i].Verification, findings[i].VerifiedAt = it.Verification, at
		}
	}
}

// verifyFindings checks every distinct Twilio credential against Twilio,
// read-only, and records the answer in the findings. The revoker's plan
// does the work (deduplicated, bounded concurrency); nothing is rotated,
// whatever the configuration's mode.
func verifyFindings(ctx context.Context, s *stdio, rf revokerFlags, findings []scanner.Finding) error {
	leaks, keys := leaksOf(findings, "")
	if len(leaks) == 0 {
		return nil
	}
	rs, err := openRevoker(ctx, s, rf, sessionOptions{mode: revoker.ModePlan, throwaway: true})
	if err != nil {
		return err
	}
	defer rs.Close()
	plan, err := rs.rv.Plan(ctx, leaks)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	annotate(findings, keys, plan.Items, time.Now().UTC().Truncate(time.Second))
	return nil
}

// cliLogHandler prints the revoker's log as leakstop diagnostics:
// "leakstop: warning: msg (key=value …)". Nothing secret is logged.
type cliLogHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
}

func (h *cliLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *cliLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("leakstop: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	var kv []string
	add := func(a slog.Attr) bool {
		kv = append(kv, a.Key+"="+a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, " ") + ")")
	}
	b.WriteString("\n")
	if h.mu != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *cliLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *cliLogHandler) WithGroup(string) slog.Handler { return h }
