package ghaction

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/scanner"
)

// runWith is w.run with the Config changed by mutate (the revoker hooks).
func (w *world) runWith(env map[string]string, mutate func(*Config)) (*Result, error) {
	w.t.Helper()
	cfg := Config{
		Getenv:      func(k string) string { return env[k] },
		Stdout:      &w.stdout,
		Stderr:      &w.stderr,
		Detector:    detectorFor,
		ToolVersion: "test",
		Clock:       ghretry.Clock{Sleep: func(ctx context.Context, d time.Duration) error { return nil }},
	}
	mutate(&cfg)
	return Run(context.Background(), cfg)
}

// TestVerifyAndRevokeInputs: verify and revoke hand the findings, with
// their secrets, in memory, to the hooks; the hooks' verification reaches
// the (redacted) reports; the revoker's output is logged escaped; a
// failed rotation fails the run; a config input that does not exist fails
// before the scan.
func TestVerifyAndRevokeInputs(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: githubDiff()})
	writeFile(t, w.ws, "leakstop.toml", "# revoker configuration\n")
	wantConfig := filepath.Join(w.ws, "leakstop.toml")
	// The checkout's configuration is trusted here; TestRevokerConfigFromBase
	// covers the default.
	base := maps(w.prEvent(2), "INPUT_COMMENT", "false", "INPUT_CONFIG", "leakstop.toml", "INPUT_TRUST_PR_CONFIG", "true")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mark := func(findings []scanner.Finding) {
		for i := range findings {
			findings[i].Verification, findings[i].VerifiedAt = "live", at
		}
	}
	secretsOf := func(findings []scanner.Finding) map[string]bool {
		out := map[string]bool{}
		for _, f := range findings {
			out[f.Secret.Reveal()] = true
		}
		return out
	}

	// verify: true
	var gotConfig string
	var gotSecrets map[string]bool
	res, err := w.runWith(maps(base, "INPUT_VERIFY", "true"), func(c *Config) {
		c.Verify = func(_ context.Context, findings []scanner.Finding, configPath string) error {
			gotConfig, gotSecrets = configPath, secretsOf(findings)
			mark(findings)
			return nil
		}
	})
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("verify: %v\n%s", err, w.stderr.String())
	}
	if gotConfig != wantConfig || !gotSecrets[w.newCred.token] || !gotSecrets[w.oldCred.token] {
		t.Fatalf("Verify got config %q and the secrets: %v", gotConfig, len(gotSecrets))
	}
	for _, p := range []string{res.Report, res.SARIF} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"verification": "live"`) || !strings.Contains(string(b), "2025-01-02T03:04:05Z") {
			t.Errorf("%s lacks the verification", filepath.Base(p))
		}
	}
	w.noSecrets(w.newCred.token, w.oldCred.token)

	// revoke: plan — the output is logged, escaped, one line each.
	w.stdout.Reset()
	var gotMode RevokeMode
	_, err = w.runWith(maps(base, "INPUT_REVOKE", "plan"), func(c *Config) {
		c.Revoke = func(_ context.Context, findings []scanner.Finding, configPath string, mode RevokeMode) (string, error) {
			gotMode, gotSecrets = mode, secretsOf(findings)
			mark(findings)
			return "leakstop plan (mode plan): 2 credential(s)\n::error::from a hostile path\n", nil
		}
	})
	if !errors.Is(err, ErrFindings) || gotMode != RevokePlan || !gotSecrets[w.newCred.token] {
		t.Fatalf("revoke plan: %v, mode %q", err, gotMode)
	}
	out := w.stdout.String()
	if !strings.Contains(out, "\nleakstop: leakstop plan (mode plan): 2 credential(s)\n") || !strings.Contains(out, "\nleakstop: ::error::from a hostile path\n") ||
		strings.Contains(out, "\n::error::from") {
		t.Errorf("the revoker's output is not logged escaped:\n%s", out)
	}

	// revoke: apply whose rotation fails: the run fails, after the reports.
	failed := errors.New("rotation failed: 1 rotation(s) failed")
	res, err = w.runWith(maps(base, "INPUT_REVOKE", "apply", "INPUT_FAIL_ON_FINDINGS", "false"), func(c *Config) {
		c.Revoke = func(_ context.Context, _ []scanner.Finding, _ string, mode RevokeMode) (string, error) {
			gotMode = mode
			return "", failed
		}
	})
	if !errors.Is(err, failed) || gotMode != RevokeApply || res == nil || w.outputs()["report"] == "" {
		t.Errorf("revoke apply failing: %v, mode %q", err, gotMode)
	}

	// A config input that is not there: an error before any scan.
	called := false
	_, err = w.runWith(maps(base, "INPUT_REVOKE", "apply", "INPUT_CONFIG", "missing.toml"), func(c *Config) {
		c.Revoke = func(context.Context, []scanner.Finding, string, RevokeMode) (string, error) {
			called = true
			return "", nil
		}
	})
	if err == nil || !strings.Contains(err.Error(), "input config:") || called {
		t.Errorf("missing config: %v (revoker called: %v)", err, called)
	}
}

// TestRevokerConfigFromBase: for a pull request the revoker configuration
// (which names the sinks that receive new tokens) is read from the base
// commit, not from what the pull request changed; a configuration outside
// the checkout is the workflow's own and used as is.
func TestRevokerConfigFromBase(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: githubDiff()})
	// README.md is in the base commit as "# app\n"; the checkout's differs.
	writeFile(t, w.ws, "README.md", "# changed by the pull request\n")
	var got []byte
	verify := func(c *Config) {
		c.Verify = func(_ context.Context, _ []scanner.Finding, configPath string) error {
			b, err := os.ReadFile(configPath)
			got = b
			return err
		}
	}
	env := maps(w.prEvent(2), "INPUT_COMMENT", "false", "INPUT_VERIFY", "true", "INPUT_CONFIG", "README.md")
	if _, err := w.runWith(env, verify); !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\n%s", err, w.stderr.String())
	}
	if string(got) != "# app\n" {
		t.Errorf("the revoker got %q, want the base commit's configuration", got)
	}

	// Only in the checkout: refused, with the way out.
	writeFile(t, w.ws, "leakstop.toml", "# revoker configuration\n")
	_, err := w.runWith(maps(env, "INPUT_CONFIG", "leakstop.toml"), verify)
	if err == nil || !strings.Contains(err.Error(), "not in the base commit") || !strings.Contains(err.Error(), "trust-pr-config") {
		t.Errorf("config only in the pull request: %v", err)
	}

	// Outside the checkout: the workflow wrote it; used as is.
	outside := filepath.Join(t.TempDir(), "revoker.toml")
	writeFile(t, filepath.Dir(outside), "revoker.toml", "# the workflow's\n")
	if _, err := w.runWith(maps(env, "INPUT_CONFIG", outside), verify); !errors.Is(err, ErrFindings) {
		t.Fatalf("outside: %v", err)
	}
	if string(got) != "# the workflow's\n" {
		t.Errorf("outside the checkout: got %q", got)
	}
}
