package orgscan

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/state/storetest"
)

// The multi-process tests run their own test binary as worker processes
// (TestHelperProcess), which share one round of one state database.

const (
	envHelper = "LEAKSTOP_QUEUE_HELPER" // "1" in a worker process
	envDSN    = "LEAKSTOP_QUEUE_HELPER_DSN"
	envRound  = "LEAKSTOP_QUEUE_HELPER_ROUND"
	envOut    = "LEAKSTOP_QUEUE_HELPER_OUT"   // the file workers append "start|done PID REPO" lines to
	envRepos  = "LEAKSTOP_QUEUE_HELPER_REPOS" // how many repositories List returns
	envSleep  = "LEAKSTOP_QUEUE_HELPER_SLEEP" // how long a scan takes
	envLease  = "LEAKSTOP_QUEUE_HELPER_LEASE"
	envHang   = "LEAKSTOP_QUEUE_HELPER_HANG_LIST" // "1": List never returns
	envFail   = "LEAKSTOP_QUEUE_HELPER_FAIL"      // "1": scans of repositories 10n+3 fail
)

// TestHelperProcess is a worker process of the multi-process tests; run
// alone it does nothing.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("a worker process of TestQueueProcesses; not a test by itself")
	}
	n, err := strconv.Atoi(os.Getenv(envRepos))
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := time.ParseDuration(os.Getenv(envSleep))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := time.ParseDuration(os.Getenv(envLease))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(os.Getenv(envOut), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pid := os.Getpid()
	// One write per line, O_APPEND: lines of several processes do not mix.
	record := func(what string, id int64) {
		if _, err := fmt.Fprintf(f, "%s %d %d\n", what, pid, id); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunRound(ctx, RoundOptions{
		DSN: os.Getenv(envDSN), Round: os.Getenv(envRound), Workers: 2, Lease: lease,
		List: func(ctx context.Context) ([]Repo, error) {
			record("list", 0)
			if os.Getenv(envHang) == "1" {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return fakeRepos(n), nil
		},
		Scan: func(ctx context.Context, r Repo) error {
			record("start", r.ID)
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return ctx.Err()
			}
			record("done", r.ID)
			if os.Getenv(envFail) == "1" && r.ID%10 == 3 {
				return fmt.Errorf("fetch %s: refs advertised, objects missing", r.FullName)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("result %s scanned=%d repos=%d failed=%d\n", res.ID, res.Scanned, len(res.Repos), len(res.Failed))
	fmt.Printf("failures %s\n", failureLine(res.Failed))
}

// failureLine prints failures in id order.
func failureLine(failed map[int64]string) string {
	ids := slices.Sorted(maps.Keys(failed))
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d=%q;", id, failed[id])
	}
	return b.String()
}

// failures returns a worker's "failures" line.
func (w *worker) failures(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(w.out.String(), "\n") {
		if f, ok := strings.CutPrefix(line, "failures "); ok {
			return f
		}
	}
	t.Fatalf("worker %d printed no failures:\n%s", w.cmd.Process.Pid, w.out.String())
	return ""
}

// worker is a started worker process.
type worker struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startWorker(t *testing.T, ctx context.Context, dsn, round, outFile string, repos int, sleep, lease time.Duration, env ...string) *worker {
	t.Helper()
	w := &worker{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=4m")}
	w.cmd.Env = append(os.Environ(), envHelper+"=1", envDSN+"="+dsn, envRound+"="+round, envOut+"="+outFile,
		envRepos+"="+strconv.Itoa(repos), envSleep+"="+sleep.String(), envLease+"="+lease.String())
	w.cmd.Env = append(w.cmd.Env, env...)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// result parses a worker's "result" line: its round id and scanned count.
func (w *worker) result(t *testing.T) (round string, scanned, repos, failed int) {
	t.Helper()
	for _, line := range strings.Split(w.out.String(), "\n") {
		if _, err := fmt.Sscanf(line, "result %s scanned=%d repos=%d failed=%d", &round, &scanned, &repos, &failed); err == nil {
			return round, scanned, repos, failed
		}
	}
	t.Fatalf("worker %d printed no result:\n%s", w.cmd.Process.Pid, w.out.String())
	return "", 0, 0, 0
}

// scanLines reads the workers' "what pid repo" lines.
type scanLine struct {
	what string
	pid  int
	repo int64
}

func readScanLines(t *testing.T, path string) []scanLine {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []scanLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l scanLine
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &l.what, &l.pid, &l.repo); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	processRepos = 25
	processLease = 2 * time.Second
)

func TestQueueProcesses(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			out := filepath.Join(t.TempDir(), "scans")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			var workers []*worker
			for range 3 {
				// No round name: the three must agree on one round.
				workers = append(workers, startWorker(t, ctx, dsn, "", out, processRepos, 150*time.Millisecond, processLease, envFail+"=1"))
			}
			wantFailed := map[int64]string{}
			for _, r := range fakeRepos(processRepos) {
				if r.ID%10 == 3 {
					wantFailed[r.ID] = "fetch " + r.FullName + ": refs advertised, objects missing"
				}
			}
			scanned := 0
			rounds := map[string]bool{}
			for _, w := range workers {
				if err := w.cmd.Wait(); err != nil {
					t.Fatalf("worker %d: %v\n%s", w.cmd.Process.Pid, err, w.out.String())
				}
				round, n, repos, _ := w.result(t)
				if repos != processRepos {
					t.Errorf("worker %d: round %s, %d repositories", w.cmd.Process.Pid, round, repos)
				}
				// Every process reports every failure, whoever scanned it.
				if got, want := w.failures(t), failureLine(wantFailed); got != want {
					t.Errorf("worker %d reports failures %s\nwant %s", w.cmd.Process.Pid, got, want)
				}
				rounds[round] = true
				scanned += n
			}
			elapsed := time.Since(start)
			if len(rounds) != 1 {
				t.Errorf("the workers ran %d rounds: %v", len(rounds), rounds)
			}
			lines := readScanLines(t, out)
			starts, dones, lists, byPID := tally(lines)
			for _, r := range fakeRepos(processRepos) {
				if starts[r.ID] != 1 || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want 1 and 1", r.FullName, starts[r.ID], dones[r.ID])
				}
			}
			if lists != 1 || scanned != processRepos {
				t.Errorf("%d listings, workers report %d scans; want 1 and %d", lists, scanned, processRepos)
			}
			if len(byPID) < 2 {
				t.Errorf("one process scanned everything: %v", byPID)
			}
			t.Logf("%s: 3 processes, %d repositories of 150 ms, 2 workers each: %v; scans per process %v",
				b.Name, processRepos, elapsed.Round(time.Millisecond), byPID)
		})
	}
}

func TestQueueProcessKilled(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			out := filepath.Join(t.TempDir(), "scans")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			round := "killed-" + b.Name
			// The victim's scans never end; the others' take 150 ms.
			victim := startWorker(t, ctx, dsn, round, out, processRepos, time.Hour, processLease)
			others := []*worker{
				startWorker(t, ctx, dsn, round, out, processRepos, 150*time.Millisecond, processLease),
				startWorker(t, ctx, dsn, round, out, processRepos, 150*time.Millisecond, processLease),
			}
			vpid := victim.cmd.Process.Pid
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				started := false
				for _, l := range readScanLines(t, out) {
					started = started || (l.what == "start" && l.pid == vpid)
				}
				if started {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the victim started no scan in a minute:\n%s", victim.out.String())
				}
			}
			if err := victim.cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killedAt := time.Since(start)
			victim.cmd.Wait() //nolint:errcheck // killed
			scanned := 0
			for _, w := range others {
				if err := w.cmd.Wait(); err != nil {
					t.Fatalf("worker %d: %v\n%s", w.cmd.Process.Pid, err, w.out.String())
				}
				rd, n, repos, failed := w.result(t)
				if rd != round || repos != processRepos || failed != 0 {
					t.Errorf("worker %d: round %s, %d repositories, %d failed", w.cmd.Process.Pid, rd, repos, failed)
				}
				scanned += n
			}
			elapsed := time.Since(start)
			lines := readScanLines(t, out)
			starts, dones, _, byPID := tally(lines)
			// The repositories the victim was scanning when it died.
			lost := map[int64]bool{}
			for _, l := range lines {
				if l.what == "start" && l.pid == vpid {
					lost[l.repo] = true
				}
			}
			for _, l := range lines {
				if l.what == "done" && l.pid == vpid {
					t.Fatalf("the victim finished a scan: %v", l)
				}
			}
			if len(lost) == 0 {
				t.Fatal("the victim was scanning nothing")
			}
			for _, r := range fakeRepos(processRepos) {
				wantStarts := 1
				if lost[r.ID] {
					wantStarts = 2 // the victim's, never finished, and its rescuer's
				}
				if starts[r.ID] != wantStarts || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want %d and 1", r.FullName, starts[r.ID], dones[r.ID], wantStarts)
				}
			}
			if scanned != processRepos {
				t.Errorf("the survivors report %d scans, want %d", scanned, processRepos)
			}
			// The lost repositories come back after the lease (and its
			// grace), not after River's own rescuer's 30-second round.
			if bound := killedAt + processLease + leaseGrace(processLease) + 10*time.Second; elapsed > bound {
				t.Errorf("survivors done %v after the start, want within %v: the lost jobs were not rescued after the lease", elapsed, bound)
			}
			t.Logf("%s: victim killed at %v holding %d repositories; survivors done at %v (lease %v); scans per process %v",
				b.Name, killedAt.Round(time.Millisecond), len(lost), elapsed.Round(time.Millisecond), processLease, byPID)
		})
	}
}

// tally counts start and done lines per repository, listings, and done
// lines per process.
func tally(lines []scanLine) (starts, dones map[int64]int, lists int, byPID map[int]int) {
	starts, dones, byPID = map[int64]int{}, map[int64]int{}, map[int]int{}
	for _, l := range lines {
		switch l.what {
		case "start":
			starts[l.repo]++
		case "done":
			dones[l.repo]++
			byPID[l.pid]++
		case "list":
			lists++
		}
	}
	return starts, dones, lists, byPID
}

func TestQueueListerKilled(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			out := filepath.Join(t.TempDir(), "scans")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			round := "lister-killed-" + b.Name
			// The first process starts listing and never finishes.
			victim := startWorker(t, ctx, dsn, round, out, processRepos, 50*time.Millisecond, processLease, envHang+"=1")
			vpid := victim.cmd.Process.Pid
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				lines := readScanLines(t, out)
				if len(lines) > 0 && lines[0].what == "list" && lines[0].pid == vpid {
					break
				}
				if time.Now().After(deadline) || len(lines) > 0 {
					t.Fatalf("the victim did not list first: %v\n%s", lines, victim.out.String())
				}
			}
			if err := victim.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			victim.cmd.Wait() //nolint:errcheck // killed
			killedAt := time.Since(start)
			others := []*worker{
				startWorker(t, ctx, dsn, round, out, processRepos, 50*time.Millisecond, processLease),
				startWorker(t, ctx, dsn, round, out, processRepos, 50*time.Millisecond, processLease),
			}
			scanned := 0
			for _, w := range others {
				if err := w.cmd.Wait(); err != nil {
					t.Fatalf("worker %d: %v\n%s", w.cmd.Process.Pid, err, w.out.String())
				}
				_, n, repos, failed := w.result(t)
				if repos != processRepos || failed != 0 {
					t.Errorf("worker %d: %d repositories, %d failed", w.cmd.Process.Pid, repos, failed)
				}
				scanned += n
			}
			elapsed := time.Since(start)
			starts, dones, lists, _ := tally(readScanLines(t, out))
			if lists != 2 {
				t.Errorf("%d listings, want 2 (the victim's and one survivor's)", lists)
			}
			for _, r := range fakeRepos(processRepos) {
				if starts[r.ID] != 1 || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want 1 and 1", r.FullName, starts[r.ID], dones[r.ID])
				}
			}
			if scanned != processRepos {
				t.Errorf("the survivors report %d scans, want %d", scanned, processRepos)
			}
			t.Logf("%s: lister killed at %v; round done at %v (lease %v)", b.Name, killedAt.Round(time.Millisecond), elapsed.Round(time.Millisecond), processLease)
		})
	}
}
