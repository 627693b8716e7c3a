package ghaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

// twilioWorld is a pull request world whose two leaked credentials are
// live accounts of a fake Twilio: old.env's (not in the configuration)
// and config.env's (the configuration's, rotated into a sink).
type twilioWorld struct {
	*prWorld
	fake             *twiliotest.Server
	newTok, oldTok   secret.Value
	state, sink, log string
}

func newTwilioWorld(t *testing.T) *twilioWorld {
	fake := twiliotest.NewServer(t)
	oldSID, oldTok := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "other"})
	newSID, newTok := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	w := &twilioWorld{prWorld: newPRWorldWith(t, cred{oldSID, oldTok.Reveal()}, cred{newSID, newTok.Reveal()}),
		fake: fake, newTok: newTok, oldTok: oldTok}
	dir := t.TempDir()
	w.state, w.sink = filepath.Join(dir, "state.db"), filepath.Join(dir, "sink")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: githubDiff()})
	return w
}

// revokerConfig is a configuration that owns config.env's account and
// delivers to a sink running command.
func (w *twilioWorld) revokerConfig(command string) string {
	return fmt.Sprintf("state = %q\ngrace_period = \"0s\"\n\n[[accounts]]\nsid = %q\nsinks = [\"file\"]\n\n"+
		"[[sinks]]\nname = \"file\"\ntype = \"command\"\ncommand = [\"sh\", \"-c\", %q]\n", w.state, w.newCred.sid, command)
}

// runWith is w.run with the revoker wired to the fake Twilio, its clock
// fixed at at.
func (w *twilioWorld) runWith(env map[string]string, at time.Time) (*Result, error) {
	w.t.Helper()
	cfg, err := w.config(env)
	if err != nil {
		return nil, err
	}
	cfg.Clock = ghretry.Clock{Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
	cfg.Revoker = pipeline.RevokerOptions{TwilioAPI: w.fake.URL(), Now: func() time.Time { return at }}
	return Run(context.Background(), cfg)
}

// TestVerifyAndRevokeInputs: verify and revoke hand the findings, with
// their secrets, in memory, to the revoker; its verification reaches the
// (redacted) reports; its output is logged escaped; a failed rotation
// fails the run; a config input that does not exist fails before the
// scan.
func TestVerifyAndRevokeInputs(t *testing.T) {
	w := newTwilioWorld(t)
	writeFile(t, w.ws, "leakstop.toml", w.revokerConfig("cat > "+w.sink))
	// The checkout's configuration is trusted here; TestRevokerConfigFromBase
	// covers the default.
	base := maps(w.prEvent(2), "INPUT_COMMENT", "false", "INPUT_CONFIG", "leakstop.toml", "INPUT_TRUST_PR_CONFIG", "true")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	// verify: true — both credentials reach Twilio, read-only, with the
	// configuration of the config input (its state store).
	res, err := w.runWith(maps(base, "INPUT_VERIFY", "true"), at)
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("verify: %v\n%s", err, w.stderr.String())
	}
	if _, err := os.Stat(w.state); err != nil {
		t.Errorf("the configuration of the config input was not used: %v", err)
	}
	for _, p := range []string{res.Report, res.SARIF} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), `"verification": "live"`); n < 2 || !strings.Contains(string(b), "2025-01-02T03:04:05Z") {
			t.Errorf("%s lacks the verification of both credentials (%d)", filepath.Base(p), n)
		}
	}
	if !w.fake.Authenticates(w.newCred.sid, w.newTok) || !w.fake.Authenticates(w.oldCred.sid, w.oldTok) {
		t.Fatal("verify changed a credential")
	}
	w.noSecrets(w.newCred.token, w.oldCred.token)

	// revoke: plan — nothing changes; the plan is logged, escaped, one
	// line each.
	w.stdout.Reset()
	_, err = w.runWith(maps(base, "INPUT_REVOKE", "plan"), at)
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("revoke plan: %v\n%s", err, w.stderr.String())
	}
	out := w.stdout.String()
	if !strings.Contains(out, "\nleakstop: leakstop plan (mode plan): 2 credential(s)\n") || !strings.Contains(out, "\nleakstop:     decision: rotate") ||
		strings.Contains(out, "\n    decision:") {
		t.Errorf("the revoker's plan is not logged escaped:\n%s", out)
	}
	if !w.fake.Authenticates(w.newCred.sid, w.newTok) {
		t.Fatal("the plan rotated")
	}

	// revoke: apply whose rotation fails (the sink refuses the new
	// token): the run fails, after the reports.
	writeFile(t, w.ws, "leakstop.toml", w.revokerConfig("exit 3"))
	if err := os.Remove(w.state); err != nil {
		t.Fatal(err)
	}
	res, err = w.runWith(maps(base, "INPUT_REVOKE", "apply", "INPUT_FAIL_ON_FINDINGS", "false"), at)
	if !errors.Is(err, pipeline.ErrRevokeFailed) || res == nil || w.outputs()["report"] == "" {
		t.Errorf("revoke apply failing: %v", err)
	}
	if !w.fake.Authenticates(w.oldCred.sid, w.oldTok) {
		t.Error("apply touched an account not in the configuration")
	}

	// A config input that is not there: an error before any scan or call.
	w.fake.ResetCalls()
	_, err = w.runWith(maps(base, "INPUT_REVOKE", "apply", "INPUT_CONFIG", "missing.toml"), at)
	if err == nil || !strings.Contains(err.Error(), "input config:") || len(w.fake.Calls()) != 0 {
		t.Errorf("missing config: %v (Twilio calls: %d)", err, len(w.fake.Calls()))
	}
	w.noSecrets(w.newCred.token, w.oldCred.token)
}

// TestRevokeInputRotates: revoke: apply with a working sink rotates the
// owned credential into it and leaves the other account alone.
func TestRevokeInputRotates(t *testing.T) {
	w := newTwilioWorld(t)
	writeFile(t, w.ws, "leakstop.toml", w.revokerConfig("cat > "+w.sink))
	env := maps(w.prEvent(2), "INPUT_COMMENT", "false", "INPUT_CONFIG", "leakstop.toml", "INPUT_TRUST_PR_CONFIG", "true",
		"INPUT_REVOKE", "apply")
	if _, err := w.runWith(env, time.Now()); !errors.Is(err, ErrFindings) {
		t.Fatalf("apply: %v\n%s\n%s", err, w.stdout.String(), w.stderr.String())
	}
	primary, _ := w.fake.Tokens(w.newCred.sid)
	if b, _ := os.ReadFile(w.sink); w.fake.Authenticates(w.newCred.sid, w.newTok) || !bytes.Equal(b, []byte(primary.Reveal())) ||
		!w.fake.Authenticates(w.oldCred.sid, w.oldTok) {
		t.Fatal("apply did not rotate the owned token into the sink, or touched the other account")
	}
	if !strings.Contains(w.stdout.String(), "outcome: rotated") {
		t.Errorf("the result is not logged:\n%s", w.stdout.String())
	}
	w.noSecrets(w.newCred.token, w.oldCred.token, primary.Reveal())
}

// TestRevokerConfigFromBase: for a pull request the revoker configuration
// (which names the sinks that receive new tokens) is read from the base
// commit, not from what the pull request changed; a configuration outside
// the checkout is the workflow's own and used as is.
func TestRevokerConfigFromBase(t *testing.T) {
	w := newTwilioWorld(t)
	// README.md is in the base commit as "# app\n" (an empty, valid
	// configuration); the checkout's is not a configuration at all.
	writeFile(t, w.ws, "README.md", "# changed by the pull request\n[[[ not toml\n")
	env := maps(w.prEvent(2), "INPUT_COMMENT", "false", "INPUT_VERIFY", "true", "INPUT_CONFIG", "README.md")
	if _, err := w.runWith(env, time.Now()); !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\n%s", err, w.stderr.String())
	}
	if !strings.Contains(w.stdout.String(), "revoker configuration README.md read from the base commit "+short(w.base)) {
		t.Errorf("the revoker did not get the base commit's configuration:\n%s", w.stdout.String())
	}

	// Only in the checkout: refused, with the way out.
	writeFile(t, w.ws, "leakstop.toml", w.revokerConfig("cat > "+w.sink))
	_, err := w.runWith(maps(env, "INPUT_CONFIG", "leakstop.toml"), time.Now())
	if err == nil || !strings.Contains(err.Error(), "not in the base commit") || !strings.Contains(err.Error(), "trust-pr-config") {
		t.Errorf("config only in the pull request: %v", err)
	}

	// Outside the checkout: the workflow wrote it; used as is.
	outside := filepath.Join(t.TempDir(), "revoker.toml")
	writeFile(t, filepath.Dir(outside), "revoker.toml", w.revokerConfig("cat > "+w.sink))
	if _, err := w.runWith(maps(env, "INPUT_CONFIG", outside), time.Now()); !errors.Is(err, ErrFindings) {
		t.Fatalf("outside: %v", err)
	}
	if _, err := os.Stat(w.state); err != nil {
		t.Errorf("outside the checkout: its configuration was not used: %v", err)
	}
}

// TestLogLines: the revoker's output is logged one line at a time, each
// escaped and behind "leakstop: ", so that no line of it — a hostile path
// in a plan — starts a workflow command; its diagnostics likewise.
func TestLogLines(t *testing.T) {
	var b bytes.Buffer
	logf := func(format string, a ...any) { fmt.Fprintln(&b, "leakstop: "+EscapeData(fmt.Sprintf(format, a...))) }
	logLines(logf, "leakstop plan (mode plan): 2 credential(s)\n::error::from a hostile path\n")
	out := "\n" + b.String()
	if !strings.Contains(out, "\nleakstop: leakstop plan (mode plan): 2 credential(s)\n") || !strings.Contains(out, "\nleakstop: ::error::from a hostile path\n") ||
		strings.Contains(out, "\n::error::from") {
		t.Errorf("the revoker's output is not logged escaped:\n%s", out)
	}
	b.Reset()
	e := &escapeLines{w: &b}
	fmt.Fprint(e, "leakstop: warning: a\n::error::b%0A\nc")
	if got := b.String(); got != "leakstop: warning: a\nleakstop: ::error::b%250A\n" {
		t.Errorf("escapeLines wrote %q", got)
	}
}
