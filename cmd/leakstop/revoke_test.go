package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
)

// The crash test: a real leakstop process is SIGKILLed at each point of a
// rotation in turn — while each mutating Twilio call is in flight (before
// and after it takes effect), while the sink is taking delivery (before
// and after it wrote the new token), and during the grace period — and
// another run (leakstop revoke --resume, or --apply again) finishes the
// job. After it: exactly one promotion took effect, the leaked token is
// dead, the sink holds the account's current primary and it works. And
// all along, whenever the sink's content changed, the new content worked
// at that moment; and (strict) at no moment did the sink hold a token
// Twilio rejects.

const (
	promotePath   = "/v1/AuthTokens/Promote"
	secondaryPath = "/v1/AuthTokens/Secondary"
	// sinkPause is how long the sink script waits after taking the token
	// and after writing it: the windows in which a kill lands.
	sinkPause = "0.2"
)

// sinkScript writes its standard input to $OUT atomically (a temporary
// file renamed over it), logging to $OUT.log when it has taken the token
// ("taken"), when the file is replaced ("written") and when it exits.
const sinkScript = `set -eu
tmp="$OUT.tmp.$$"
cat > "$tmp"
if [ ! -s "$tmp" ]; then rm -f "$tmp"; echo "empty $$" >> "$OUT.log"; exit 1; fi
echo "taken $$" >> "$OUT.log"
sleep ` + sinkPause + `
mv "$tmp" "$OUT"
echo "written $$" >> "$OUT.log"
sleep ` + sinkPause + `
echo "exit $$" >> "$OUT.log"
`

// killPoint is where a run is killed.
type killPoint struct {
	name string
	// A mutating Twilio call: the nth (1-based) call of method on path,
	// held in flight until the kill; afterEffect applies it first.
	method, path string
	nth          int
	afterEffect  bool
	// A sink event: the nth (1-based) "taken" or "written" line of the
	// sink's log.
	sinkEvent string
	// grace: during the grace period (the wait step started).
	grace bool
}

// crashWorld is one account, its leaked primary, a sink and a state
// store, with leakstop run as a subprocess against the fake.
type crashWorld struct {
	t      *testing.T
	bin    string
	fake   *twiliotest.Server
	sid    string
	leaked secret.Value
	dir    string
	owner  bool // credential_env holds the owner's (current primary) token

	sinkFile, config, report string
}

func newCrashWorld(t *testing.T, bin string, owner bool) *crashWorld {
	t.Helper()
	fake := twiliotest.NewServer(t)
	sid, leaked := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	dir := t.TempDir()
	w := &crashWorld{
		t: t, bin: bin, fake: fake, sid: sid, leaked: leaked, dir: dir, owner: owner,
		sinkFile: filepath.Join(dir, "secrets", "twilio-token"),
		config:   filepath.Join(dir, "leakstop.toml"),
		report:   filepath.Join(dir, "report.json"),
	}
	// The secret store holds the token the apps use: the leaked primary.
	if err := os.MkdirAll(filepath.Dir(w.sinkFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.sinkFile, []byte(leaked.Reveal()), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "sink.sh")
	if err := os.WriteFile(script, []byte(sinkScript), 0o700); err != nil {
		t.Fatal(err)
	}
	cred := ""
	if owner {
		cred = "credential_env = \"TWILIO_PROD_TOKEN\"\n"
	}
	cfg := fmt.Sprintf(`state = %q
grace_period = "300ms"
lock_ttl = "800ms"
lock_wait = "20s"

[[accounts]]
sid = %q
name = "production"
%ssinks = ["file"]

[[sinks]]
name = "file"
type = "command"
command = ["/bin/sh", %q]
env = [%q]
`, filepath.Join(dir, "state.db"), sid, cred, script, "OUT="+w.sinkFile)
	if err := os.WriteFile(w.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The unredacted report of a scan that found the leaked token.
	f := scanner.Finding{
		RuleID: "twilio-auth-token", Description: "Twilio Account SID and Auth Token", Credential: "auth-token",
		Identifier: sid, Secret: leaked, Fingerprint: scanner.Fingerprint("twilio-auth-token", sid, leaked.Reveal()),
		Confidence: scanner.High, Locations: []scanner.Location{{Path: "deploy/prod.env", Line: 2, Column: 19, EndColumn: 51}},
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, report.JSON, report.Report{Findings: []scanner.Finding{f}, Target: "."}, report.Options{NoRedact: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.report, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// command returns "leakstop revoke ARGS --config … --twilio-api-url …".
func (w *crashWorld) command(args ...string) *exec.Cmd {
	args = append([]string{"revoke"}, args...)
	args = append(args, "--config", w.config, "--twilio-api-url", w.fake.URL(), w.report)
	cmd := exec.Command(w.bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.dir, "TMPDIR=" + w.dir}
	if w.owner {
		cmd.Env = append(cmd.Env, "TWILIO_PROD_TOKEN="+w.leaked.Reveal())
	}
	return cmd
}

// run runs leakstop to the end and returns its exit code and output.
func (w *crashWorld) run(args ...string) (int, string) {
	w.t.Helper()
	cmd := w.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return 0, out.String()
}

// sinkLog counts the sink's log lines of one kind.
func (w *crashWorld) sinkLog(kind string) int {
	b, _ := os.ReadFile(w.sinkFile + ".log")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, kind+" ") {
			n++
		}
	}
	return n
}

// mutations lists the mutating calls the fake got.
func (w *crashWorld) mutations() []twiliotest.Call {
	var out []twiliotest.Call
	for _, c := range w.fake.Calls() {
		if c.Method == "POST" || c.Method == "DELETE" {
			out = append(out, c)
		}
	}
	return out
}

// watchSink polls the sink file until stop is closed. Whenever its content
// changes, the new content must authenticate at that moment; and at no
// poll may it hold a token Twilio rejects (strict). It returns the
// violations of each kind.
func (w *crashWorld) watchSink(stop <-chan struct{}) (wait func() (onChange, strict []string)) {
	var mu sync.Mutex
	var changed, always []string
	done := make(chan struct{})
	go func() { // the test's own poller, not code under test
		defer close(done)
		last := ""
		for {
			b, err := os.ReadFile(w.sinkFile)
			if err == nil {
				cur := string(b)
				ok := w.fake.Authenticates(w.sid, secret.New(cur))
				mu.Lock()
				if cur != last && !ok {
					changed = append(changed, fmt.Sprintf("%s: the sink changed to a token Twilio rejects", time.Now().Format("15:04:05.000")))
				}
				if !ok && (len(always) == 0 || !strings.HasSuffix(always[len(always)-1], "#"+secret.Redact(cur))) {
					always = append(always, fmt.Sprintf("%s: the sink holds a token Twilio rejects #%s", time.Now().Format("15:04:05.000"), secret.Redact(cur)))
				}
				mu.Unlock()
				last = cur
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() ([]string, []string) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return changed, always
	}
}

// killAt starts leakstop revoke --apply and SIGKILLs it at p.
func (w *crashWorld) killAt(p killPoint) {
	w.t.Helper()
	if p.method != "" {
		w.fake.Inject(twiliotest.Fault{Method: p.method, PathPrefix: p.path, Nth: p.nth, Delay: time.Minute, AfterEffect: p.afterEffect})
	}
	cmd := w.command("--apply")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // the test's own waiter
	reached := func() bool {
		switch {
		case p.method != "":
			n := 0
			for _, c := range w.fake.Calls() {
				if c.Method == p.method && strings.HasPrefix(c.Path, p.path) {
					n++
					if n == p.nth {
						// Held by the fault until the client leaves.
						return c.InFlight
					}
				}
			}
		case p.sinkEvent != "":
			return w.sinkLog(p.sinkEvent) >= 1
		case p.grace:
			// The grace period starts when the sink has exited and
			// leakstop recorded the delivery; kill half-way through it.
			if w.sinkLog("exit") >= 1 {
				time.Sleep(150 * time.Millisecond)
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for !reached() {
		select {
		case err := <-exited:
			w.t.Fatalf("leakstop exited (%v) before %s:\n%s", err, p.name, out.String())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			w.t.Fatalf("%s never came:\n%s", p.name, out.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, leakstop only
		w.t.Fatal(err)
	}
	if err := <-exited; err == nil {
		w.t.Fatalf("leakstop finished before the kill at %s:\n%s", p.name, out.String())
	}
}

// awaitSinks waits for sink scripts left running by a killed leakstop.
func (w *crashWorld) awaitSinks() {
	deadline := time.Now().Add(10 * time.Second)
	for w.sinkLog("taken") > w.sinkLog("exit") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// assertConverged checks the end state.
func (w *crashWorld) assertConverged(promotions int) {
	t := w.t
	t.Helper()
	primary, secondary := w.fake.Tokens(w.sid)
	if w.fake.Authenticates(w.sid, w.leaked) || primary.Equal(w.leaked) {
		t.Error("the leaked token still authenticates")
	}
	if !secondary.IsZero() {
		t.Error("a secondary token is left over")
	}
	b, err := os.ReadFile(w.sinkFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := secret.New(string(b)); !got.Equal(primary) || !w.fake.Authenticates(w.sid, got) {
		t.Errorf("the sink does not hold the live primary (holds %s)", got)
	}
	if promotions != 1 {
		t.Errorf("%d promotions took effect, want exactly 1", promotions)
	}
}

// promotions counts the promotions that took effect: answered 200, or
// held by a fault that applied them first (afterEffect).
func (w *crashWorld) promotions(afterEffect bool) int {
	n := 0
	for _, c := range w.fake.Calls() {
		if c.Method == "POST" && c.Path == promotePath && (c.Status == 200 || (c.Fault && afterEffect)) {
			n++
		}
	}
	return n
}

// leakstopBinary is the leakstop that testscript.Main put on PATH (this
// test binary, run as "leakstop"), else one built now.
func leakstopBinary(t *testing.T) string {
	if p, err := exec.LookPath("leakstop"); err == nil && strings.Contains(p, "testscript-main") {
		return p
	}
	bin := filepath.Join(t.TempDir(), "leakstop")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashPoints runs the rotation once, uninterrupted, and lists the kill
// points: each mutating Twilio call (before and after its effect), each
// sink delivery (token taken, token written), the grace period.
func crashPoints(t *testing.T, bin string, owner bool) []killPoint {
	w := newCrashWorld(t, bin, owner)
	stop := make(chan struct{})
	wait := w.watchSink(stop)
	code, out := w.run("--apply")
	close(stop)
	if onChange, strict := wait(); code != 0 || len(onChange)+len(strict) > 0 {
		t.Fatalf("uninterrupted run: exit %d, sink violations %v %v\n%s", code, onChange, strict, out)
	}
	w.assertConverged(w.promotions(false))
	// The first verification request: the run dies before its rotation
	// has a record; --resume with the report (odd points) must start it.
	ps := []killPoint{
		{name: "GET-verify-1-before-effect", method: "GET", path: "/2010-04-01/Accounts/", nth: 1},
		{name: "GET-verify-1-after-effect", method: "GET", path: "/2010-04-01/Accounts/", nth: 1, afterEffect: true},
	}
	seen := map[string]int{}
	for _, c := range w.mutations() {
		key := c.Method + " " + c.Path
		seen[key]++
		for _, ae := range []bool{false, true} {
			what := "before"
			if ae {
				what = "after"
			}
			ps = append(ps, killPoint{
				name:   fmt.Sprintf("%s-%s-%d-%s-effect", c.Method, strings.TrimPrefix(c.Path, "/v1/AuthTokens/"), seen[key], what),
				method: c.Method, path: c.Path, nth: seen[key], afterEffect: ae,
			})
		}
		if c.Path == secondaryPath && c.Method == "POST" {
			ps = append(ps,
				killPoint{name: "sink-taken", sinkEvent: "taken"},
				killPoint{name: "sink-written", sinkEvent: "written"},
				killPoint{name: "grace-period", grace: true})
		}
	}
	if len(ps) < 9 {
		t.Fatalf("only %d kill points: %+v", len(ps), ps)
	}
	return ps
}

func TestRevokeCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs leakstop processes for several seconds")
	}
	bin := leakstopBinary(t)
	for _, sc := range []struct {
		name  string
		owner bool
	}{{"leaked-only", false}, {"owner-credential", true}} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for i, p := range crashPoints(t, bin, sc.owner) {
				t.Run(fmt.Sprintf("%02d-%s", i, p.name), func(t *testing.T) {
					t.Parallel()
					w := newCrashWorld(t, bin, sc.owner)
					stop := make(chan struct{})
					wait := w.watchSink(stop)
					ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
					defer cancel()
					w.killAt(p)
					// Odd points: --resume; even: --apply the report again.
					args := []string{"--apply"}
					if i%2 == 1 {
						args = []string{"--resume"}
					}
					code, out := w.run(args...)
					if code != 0 {
						t.Errorf("%v after the kill: exit %d\n%s", args, code, out)
					}
					w.awaitSinks()
					close(stop)
					onChange, strict := wait()
					if ctx.Err() != nil {
						t.Error("took too long")
					}
					for _, v := range onChange {
						t.Error(v)
					}
					for _, v := range strict {
						t.Error(v)
					}
					w.assertConverged(w.promotions(p.afterEffect && p.path == promotePath))
					if strings.Contains(out, w.leaked.Reveal()) {
						t.Error("the output holds the leaked token")
					}
					if t.Failed() {
						t.Logf("output of %v:\n%s", args, out)
					}
				})
			}
		})
	}
}

// TestRevokeDocConfig: the configuration example in docs/revoke.md parses,
// with generated SIDs in place of its placeholders.
func TestRevokeDocConfig(t *testing.T) {
	doc, err := os.ReadFile("../../docs/revoke.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```toml\n")
	if !ok {
		t.Fatal("docs/revoke.md has no toml block")
	}
	block, _, _ = strings.Cut(block, "```")
	for _, ph := range []string{"<production Account SID>", "<staging Account SID>"} {
		if !strings.Contains(block, ph) {
			t.Fatalf("placeholder %s is gone", ph)
		}
		block = strings.ReplaceAll(block, ph, "AC"+randHex(16))
	}
	cfg, err := revoker.ParseConfig("docs/revoke.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != revoker.ModePlan || len(cfg.Accounts) != 2 || len(cfg.Sinks) != 4 || len(cfg.Notifiers) != 2 || cfg.Readiness == nil {
		t.Fatalf("parsed: %+v", cfg)
	}
}
