package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
)

// RevokerOptions wire the revoker: what "leakstop scan --verify",
// "--revoke", "leakstop revoke" and the Action's verify and revoke inputs
// need besides the findings.
type RevokerOptions struct {
	// Config is the revoker configuration file ("": no account is owned,
	// nothing can be rotated).
	Config string
	// State is the store DSN, overriding the configuration's.
	State string
	// TwilioAPI and TwilioAccounts are Twilio's base URLs ("": the real
	// ones; TwilioAccounts defaults to TwilioAPI when only that is set).
	TwilioAPI, TwilioAccounts string
	// Verbose logs every step of a rotation.
	Verbose bool
	// Getenv looks up the secrets the configuration names by variable
	// (credential_env, token_env, url_env); nil finds none.
	Getenv func(string) string
	// Diag receives the revoker's diagnostics as "leakstop: …" lines
	// (nil: discarded).
	Diag io.Writer
	// Repo names the repository (owner/name) in notifications.
	Repo string
	// Now is the clock of the verification time recorded in findings
	// (nil: time.Now).
	Now func() time.Time
}

func (o *RevokerOptions) diag() io.Writer {
	if o.Diag == nil {
		return io.Discard
	}
	return o.Diag
}

func (o *RevokerOptions) hintf(format string, a ...any) {
	fmt.Fprintf(o.diag(), "leakstop: hint: "+format+"\n", a...)
}

func (o *RevokerOptions) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

func (o *RevokerOptions) now() time.Time {
	t := time.Now()
	if o.Now != nil {
		t = o.Now()
	}
	return t.UTC().Truncate(time.Second)
}

// Session is a Revoker with the store it owns.
type Session struct {
	Revoker *revoker.Revoker
	Config  revoker.Config
	Store   state.Store
	// closeFn closes the store (and removes a throwaway one).
	closeFn func()
}

// Close releases the store.
func (s *Session) Close() {
	if s != nil && s.closeFn != nil {
		s.closeFn()
	}
}

// SessionOptions say what a caller needs of the revoker.
type SessionOptions struct {
	// Mode overrides the configuration's mode ("" keeps it).
	Mode revoker.Mode
	// Throwaway: without a configuration and a state DSN, keep the state
	// in a temporary store deleted on Close (verifying records nothing).
	Throwaway bool
	// Sinks: build the configured sinks and notifiers (not needed to
	// verify, or to read the status).
	Sinks bool
}

// LoadRevokerConfig reads the configuration at path, or returns an empty
// one for "" (no account is owned: nothing can be rotated).
func LoadRevokerConfig(path string) (revoker.Config, error) {
	if path == "" {
		return revoker.Config{}, nil
	}
	cfg, err := revoker.LoadConfig(path)
	if err != nil {
		return revoker.Config{}, fmt.Errorf("revoker configuration: %w", err)
	}
	return cfg, nil
}

// OpenRevoker wires configuration, store, Twilio client, sinks and
// notifiers into a Revoker (see revoker's Example).
func OpenRevoker(ctx context.Context, o RevokerOptions, so SessionOptions) (*Session, error) {
	cfg, err := LoadRevokerConfig(o.Config)
	if err != nil {
		return nil, err
	}
	if so.Mode != "" {
		cfg.Mode = so.Mode
	}
	if o.State != "" {
		cfg.State = o.State
	}
	s := &Session{Config: cfg}
	dsn := cfg.State
	var tmpDir string
	if so.Throwaway && o.Config == "" && o.State == "" {
		if tmpDir, err = os.MkdirTemp("", "leakstop-verify-"); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		dsn = filepath.Join(tmpDir, "state.db")
	}
	if dsn == "" {
		// The user's state directory: XDG_STATE_HOME as the injected
		// environment has it, else ~/.local/state.
		if dsn, err = state.DefaultPath(o.getenv("XDG_STATE_HOME")); err != nil {
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
	s.Store = st
	s.closeFn = func() {
		st.Close()
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
	}
	var sinks map[string]revoker.Sink
	var notifiers map[string]revoker.Notifier
	if so.Sinks {
		var berr error
		sinks, notifiers, berr = cfg.Build(ctx, revoker.DefaultFactories(), o.getenv)
		if berr != nil {
			// The plan shows which rotations this blocks.
			for _, e := range splitJoined(berr) {
				fmt.Fprintf(o.diag(), "leakstop: warning: %v\n", e)
			}
		}
	}
	accts := o.TwilioAccounts
	if accts == "" {
		accts = o.TwilioAPI
	}
	level := slog.LevelWarn
	if o.Verbose {
		level = slog.LevelInfo
	}
	rv, err := revoker.New(cfg, revoker.Deps{
		Store:     st,
		Twilio:    twilio.New(twilio.Options{APIBaseURL: o.TwilioAPI, AccountsBaseURL: accts, IAMBaseURL: accts}),
		Sinks:     sinks,
		Notifiers: notifiers,
		Getenv:    o.getenv,
		Log:       slog.New(&diagHandler{mu: &sync.Mutex{}, w: o.diag(), level: level}),
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("revoker configuration: %w", err)
	}
	s.Revoker, s.Config = rv, rv.Config()
	return s, nil
}

// splitJoined undoes errors.Join, for one diagnostic line per error.
func splitJoined(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

// LeaksOf turns findings into the revoker's input, skipping credentials
// that are not Twilio's (a user's own secret rules). repo names the
// repository for notifications ("" when unknown). keys[i] is the identity
// of findings[i] ("" when skipped): two findings of one credential (two
// rules) share it.
func LeaksOf(findings []scanner.Finding, repo string) (leaks []revoker.Leak, keys []string) {
	keys = make([]string, len(findings))
	for i := range findings {
		f := &findings[i]
		kind := f.Credential
		l := revoker.Leak{Fingerprint: f.Fingerprint, Secret: f.Secret, Test: f.Test, Kind: kind}
		switch kind {
		case credential.AuthToken:
			l.AccountSID = f.Identifier
		case credential.APIKey:
			l.KeySID, l.AccountSID = f.Identifier, f.Account
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
		keys[i] = string(l.Kind) + "\x00" + f.Identifier + "\x00" + f.Secret.Reveal()
		leaks = append(leaks, l)
	}
	return leaks, keys
}

// VerificationUnreachable is a finding's verification when Twilio could
// not be reached (a network error or a timeout): unlike "unknown" (Twilio
// answered, inconclusively) it says nothing of the credential, which may
// well be live.
const VerificationUnreachable = "unreachable"

// Annotate sets each finding's verification from the plan's or result's
// items, which carry the scanner fingerprint of the first finding of each
// distinct credential.
func Annotate(findings []scanner.Finding, keys []string, items []revoker.Item, at time.Time) {
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
			if it.Verification == revoker.StatusUnknown && it.Unreachable {
				findings[i].Verification = VerificationUnreachable
			}
		}
	}
}

// Verify checks every distinct Twilio credential against Twilio,
// read-only, and records the answer in the findings. The revoker's plan
// does the work (deduplicated, bounded concurrency); nothing is rotated,
// whatever the configuration's mode.
func Verify(ctx context.Context, o RevokerOptions, findings []scanner.Finding) error {
	leaks, keys := LeaksOf(findings, o.Repo)
	if len(leaks) == 0 {
		return nil
	}
	s, err := OpenRevoker(ctx, o, SessionOptions{Mode: revoker.ModePlan, Throwaway: true})
	if err != nil {
		return err
	}
	defer s.Close()
	plan, err := s.Revoker.Plan(ctx, leaks)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	Annotate(findings, keys, plan.Items, o.now())
	return nil
}

// Revoke plans (or, in apply mode, applies) the revoker on findings,
// writes the plan or result to w in format ("text" or "json"), and
// records the verification in the findings. mode "" keeps the
// configuration's. It returns ErrFindings when a credential may still be
// live and was not rotated, an error wrapping ErrRevokeFailed when a
// rotation failed (see PlanExit, ResultExit).
func Revoke(ctx context.Context, o RevokerOptions, mode revoker.Mode, findings []scanner.Finding, w io.Writer, format string) error {
	leaks, keys := LeaksOf(findings, o.Repo)
	s, err := OpenRevoker(ctx, o, SessionOptions{Mode: mode, Sinks: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if s.Config.Mode != revoker.ModeApply {
		p, err := s.Revoker.Plan(ctx, leaks)
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		Annotate(findings, keys, p.Items, o.now())
		if err := writeOut(w, format, p.WriteText, p.WriteJSON); err != nil {
			return err
		}
		return PlanExit(p, o.hintf)
	}
	res, err := s.Revoker.Apply(ctx, leaks)
	Annotate(findings, keys, res.Items, o.now())
	if werr := writeOut(w, format, res.WriteText, res.WriteJSON); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return ResultExit(res)
}

// Resume finishes interrupted rotations, with the findings' secrets when
// given.
func Resume(ctx context.Context, o RevokerOptions, findings []scanner.Finding, w io.Writer, format string) error {
	leaks, _ := LeaksOf(findings, o.Repo)
	s, err := OpenRevoker(ctx, o, SessionOptions{Mode: revoker.ModeApply, Sinks: true})
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Revoker.Resume(ctx, leaks...)
	if werr := writeOut(w, format, res.WriteText, res.WriteJSON); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if len(res.Items) == 0 {
		o.hintf("no unfinished rotation in %s", s.Store.Location())
	}
	return ResultExit(res)
}

func writeOut(w io.Writer, format string, text, js func(io.Writer) error) error {
	if format == "json" {
		return js(w)
	}
	return text(w)
}
