package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state/storetest"
)

// worker is one leakstop process of a round.
type worker struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	code chan int
	mu   sync.Mutex
	// stderr is its log; started receives the repositories it starts;
	// scanned lists those it scanned to the end.
	stderr  bytes.Buffer
	started chan string
	scanned []string
}

func (wk *worker) errText() string {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	return wk.stderr.String()
}

// startWorker starts "leakstop org scan" on w with args, following its
// JSON log on standard error. Cancelling ctx kills it.
func startWorker(t *testing.T, ctx context.Context, w *orgWorld, wg *conc.WaitGroup, args ...string) *worker {
	t.Helper()
	wk := &worker{cmd: w.command(ctx, args...), code: make(chan int, 1), started: make(chan string, 256)}
	wk.cmd.Stdout = &wk.out
	pr, pw := io.Pipe()
	wk.cmd.Stderr = pw
	if err := wk.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		err := wk.cmd.Wait()
		pw.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -2
		}
		wk.code <- code
	})
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			wk.mu.Lock()
			wk.stderr.WriteString(line + "\n")
			wk.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Repo string `json:"repo"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "repository started":
				select {
				case wk.started <- rec.Repo:
				default:
				}
			case "repository scanned":
				wk.mu.Lock()
				wk.scanned = append(wk.scanned, rec.Repo)
				wk.mu.Unlock()
			}
		}
		io.Copy(io.Discard, pr) //nolint:errcheck // drain, so the process never blocks on its log
	})
	return wk
}

// wait waits for the worker and returns its exit code (-1 if killed).
func (wk *worker) wait() int { return <-wk.code }

// Three worker processes share one round on a real PostgreSQL: every
// repository is fetched and scanned by exactly one of them; the one
// SIGKILLed in the middle of a repository loses nothing (another takes
// the repository once its lease expires); the others finish when the
// round is done, each with the whole organisation's report.
func TestOrgScanWorkersPostgres(t *testing.T) {
	dsn := storetest.Postgres(t)
	bin := leakstopBinary(t)
	w := newOrgWorld(t, bin, "fleet")
	w.state = dsn
	shared := [2]string{"AC" + randHex(16), randHex(16)}
	var names []string
	for i := range 24 {
		name := fmt.Sprintf("repo-%02d", i)
		files := map[string]string{"README.md": fmt.Sprintf("# %d\n", i)}
		if i%8 == 5 {
			files["app.env"] = envFile(shared[0], shared[1])
		}
		w.addRepo(name, githubtest.OrgRepo{}, files)
		names = append(names, "fleet/"+name)
	}
	// slow is the repository the killed worker is in the middle of.
	w.addRepo("slow", githubtest.OrgRepo{}, map[string]string{"big.txt": strings.Repeat("data\n", 1000)})
	names = append(names, "fleet/slow")
	sort.Strings(names)
	w.git.SetDelay("fleet/slow", 2*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	var wg conc.WaitGroup
	defer wg.Wait()
	defer cancel() // first: a failed test kills the workers, then waits for them
	args := []string{"--round", "nightly-1", "--lease", "8s", "--workers", "1", "--format", "json"}
	var workers []*worker
	for range 3 {
		workers = append(workers, startWorker(t, ctx, w, &wg, args...))
	}
	// Kill the worker that starts the slow repository, while it fetches.
	victim := -1
	deadline := time.After(2 * time.Minute)
	for victim < 0 {
		select {
		case r := <-workers[0].started:
			if r == "fleet/slow" {
				victim = 0
			}
		case r := <-workers[1].started:
			if r == "fleet/slow" {
				victim = 1
			}
		case r := <-workers[2].started:
			if r == "fleet/slow" {
				victim = 2
			}
		case <-deadline:
			t.Fatalf("no worker started fleet/slow\n%s\n%s\n%s", workers[0].errText(), workers[1].errText(), workers[2].errText())
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := workers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var reports []*orgReport
	for i, wk := range workers {
		code := wk.wait()
		if i == victim {
			continue
		}
		if code != exitFindings {
			t.Fatalf("worker %d: exit %d, want %d\n%s", i, code, exitFindings, wk.errText())
		}
		reports = append(reports, readOrgReport(t, wk.out.String()))
	}
	// Each repository was scanned to the end by exactly one worker — the
	// slow one by a survivor, taken over after the lease —
	// and fetched once (the slow one's pack came in once: the killed
	// worker's git was killed with it, or finished into the shared cache).
	scans := map[string][]int{}
	for i, wk := range workers {
		for _, r := range wk.scanned {
			scans[r] = append(scans[r], i)
		}
	}
	fetches := map[string]int{}
	for _, rq := range w.git.Requests() {
		if rq.IsFetch() {
			fetches[rq.Repo]++
		}
	}
	for _, n := range names {
		if len(scans[n]) != 1 {
			t.Errorf("%s scanned by workers %v, want exactly one", n, scans[n])
		}
		if n != "fleet/slow" && fetches[n] != 1 {
			t.Errorf("%s fetched %d time(s), want 1", n, fetches[n])
		}
	}
	if fetches["fleet/slow"] < 1 {
		t.Errorf("fleet/slow never fetched")
	}
	if s := scans["fleet/slow"]; len(s) == 1 && s[0] == victim {
		t.Errorf("the killed worker finished fleet/slow: it was not killed in the middle of it")
	}
	wantRepos := fmt.Sprint(map[string][]string{shared[0]: {"fleet/repo-05", "fleet/repo-13", "fleet/repo-21"}})
	for i, r := range reports {
		if got := fmt.Sprint(r.reposOf()); got != wantRepos {
			t.Errorf("report %d: %s, want %s", i, got, wantRepos)
		}
		if len(r.Failed) != 0 {
			t.Errorf("report %d: failed %+v", i, r.Failed)
		}
	}
}

// With --revoke apply, a live credential found in two repositories is
// rotated once: one promotion, the leaked token dead, the secret store
// holding the new one.
func TestOrgScanRevokeApply(t *testing.T) {
	bin := leakstopBinary(t)
	w := newOrgWorld(t, bin, "acme")
	fake := twiliotest.NewServer(t)
	sid, leaked := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	w.addRepo("api", githubtest.OrgRepo{}, map[string]string{"prod.env": envFile(sid, leaked.Reveal())})
	w.addRepo("worker", githubtest.OrgRepo{}, map[string]string{"deploy/worker.env": envFile(sid, leaked.Reveal())})
	w.addRepo("docs", githubtest.OrgRepo{}, map[string]string{"README.md": "docs\n"})

	sink := filepath.Join(w.dir, "secrets", "twilio-token")
	if err := os.MkdirAll(filepath.Dir(sink), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sink, []byte(leaked.Reveal()), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(w.dir, "sink.sh")
	if err := os.WriteFile(script, []byte("set -eu\ncat > \"$OUT.tmp\"\nmv \"$OUT.tmp\" \"$OUT\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(w.dir, "leakstop.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`grace_period = "100ms"

[[accounts]]
sid = %q
name = "production"
sinks = ["file"]

[[sinks]]
name = "file"
type = "command"
command = ["/bin/sh", %q]
env = [%q]
`, sid, script, "OUT="+sink)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := w.run("--revoke", "apply", "--config", cfg, "--twilio-api-url", fake.URL())
	if code != exitFindings {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFindings, out, stderr)
	}
	if strings.Contains(out+stderr, leaked.Reveal()) {
		t.Fatal("the leaked token is in leakstop's output")
	}
	promotions := 0
	for _, c := range fake.Calls() {
		if c.Method == "POST" && c.Path == promotePath && c.Status == 200 {
			promotions++
		}
	}
	if promotions != 1 {
		t.Errorf("%d promotions, want 1 for one credential in two repositories", promotions)
	}
	if fake.Authenticates(sid, leaked) {
		t.Error("the leaked token still authenticates")
	}
	primary, _ := fake.Tokens(sid)
	b, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	if got := secret.New(string(b)); !got.Equal(primary) {
		t.Error("the secret store does not hold the new primary token")
	}
	// A second run rotates nothing more: the leaked token is dead.
	code, out, stderr = w.run("--revoke", "apply", "--config", cfg, "--twilio-api-url", fake.URL())
	if code == exitError {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
	}
	n := 0
	for _, c := range fake.Calls() {
		if c.Method == "POST" && c.Path == promotePath {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d promotion calls after a second run, want still 1", n)
	}
}

// Ctrl-C in the middle of a repository: the run says it is incomplete
// (exit 2) and gives the repository back to the round's queue, so that the
// next run finishes the round at once instead of waiting for the lease.
func TestOrgScanInterrupted(t *testing.T) {
	bin := leakstopBinary(t)
	w := newOrgWorld(t, bin, "acme")
	w.addRepo("app", githubtest.OrgRepo{}, map[string]string{"README.md": "app\n"})
	w.addRepo("slow", githubtest.OrgRepo{}, map[string]string{"README.md": "slow\n"})
	w.git.SetDelay("acme/slow", 3*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	var wg conc.WaitGroup
	defer wg.Wait()
	defer cancel()
	args := []string{"--workers", "1", "--format", "json"}
	wk := startWorker(t, ctx, w, &wg, args...)
	for r := range wk.started {
		if r == "acme/slow" {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := wk.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := wk.wait(); code != exitError {
		t.Fatalf("interrupted run: exit %d, want %d\n%s", code, exitError, wk.errText())
	}
	if !strings.Contains(wk.errText(), "interrupted") {
		t.Errorf("the interrupted run does not say so:\n%s", wk.errText())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the interrupted run took %v to stop", d)
	}
	// The next run takes the round over, with the default 30-minute
	// lease: only a repository given back can be scanned now.
	w.git.SetDelay("acme/slow", 0)
	next := startWorker(t, ctx, w, &wg, args...)
	if code := next.wait(); code != exitClean {
		t.Fatalf("next run: exit %d, want %d (killed: the repository was not given back)\n%s", code, exitClean, next.errText())
	}
	r := readOrgReport(t, next.out.String())
	if len(r.Failed) != 0 {
		t.Errorf("failed after the next run: %+v", r.Failed)
	}
}
