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
// (TestQueueWorkerProcess), which share one round of one state database.

const (
	queueEnvHelper = "LEAKSTOP_QUEUE_HELPER" // "1" in a worker process
	queueEnvDSN    = "LEAKSTOP_QUEUE_HELPER_DSN"
	queueEnvRound  = "LEAKSTOP_QUEUE_HELPER_ROUND"
	queueEnvOut    = "LEAKSTOP_QUEUE_HELPER_OUT"   // the file workers append "start|done PID REPO" lines to
	queueEnvRepos  = "LEAKSTOP_QUEUE_HELPER_REPOS" // how many repositories List returns
	queueEnvSleep  = "LEAKSTOP_QUEUE_HELPER_SLEEP" // how long a scan takes
	queueEnvLease  = "LEAKSTOP_QUEUE_HELPER_LEASE"
	queueEnvHang   = "LEAKSTOP_QUEUE_HELPER_HANG_LIST" // "1": List never returns
	queueEnvFail   = "LEAKSTOP_QUEUE_HELPER_FAIL"      // "1": scans of repositories 10n+3 fail
)

// TestQueueWorkerProcess is a worker process of the multi-process tests; run
// alone it does nothing.
func TestQueueWorkerProcess(t *testing.T) {
	if os.Getenv(queueEnvHelper) != "1" {
		t.Skip("a worker process of TestQueueProcesses; not a test by itself")
	}
	n, err := strconv.Atoi(os.Getenv(queueEnvRepos))
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := time.ParseDuration(os.Getenv(queueEnvSleep))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := time.ParseDuration(os.Getenv(queueEnvLease))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(os.Getenv(queueEnvOut), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
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
		DSN: os.Getenv(queueEnvDSN), Round: os.Getenv(queueEnvRound), Workers: 2, Lease: lease,
		List: func(ctx context.Context) ([]Repo, error) {
			record("list", 0)
			if os.Getenv(queueEnvHang) == "1" {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return queueTestRepos(n), nil
		},
		Scan: func(ctx context.Context, _ RoundInfo, r Repo) error {
			record("start", r.ID)
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return ctx.Err()
			}
			record("done", r.ID)
			if os.Getenv(queueEnvFail) == "1" && r.ID%10 == 3 {
				return fmt.Errorf("fetch %s: refs advertised, objects missing", r.FullName)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("result %s scanned=%d repos=%d failed=%d\n", res.ID, res.Scanned, len(res.Repos), len(res.Failed))
	fmt.Printf("failures %s\n", queueFailureLine(res.Failed))
}

// queueFailureLine prints failures in id order.
func queueFailureLine(failed map[int64]string) string {
	ids := slices.Sorted(maps.Keys(failed))
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d=%q;", id, failed[id])
	}
	return b.String()
}

// failures returns a worker's "failures" line.
func (w *queueWorkerProc) failures(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(w.out.String(), "\n") {
		if f, ok := strings.CutPrefix(line, "failures "); ok {
			return f
		}
	}
	t.Fatalf("worker %d printed no failures:\n%s", w.cmd.Process.Pid, w.out.String())
	return ""
}

// queueWorkerProc is a started worker process.
type queueWorkerProc struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startQueueWorker(t *testing.T, ctx context.Context, dsn, round, outFile string, repos int, sleep, lease time.Duration, env ...string) *queueWorkerProc {
	t.Helper()
	w := &queueWorkerProc{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestQueueWorkerProcess$", "-test.count=1", "-test.timeout=4m")}
	w.cmd.Env = append(os.Environ(), queueEnvHelper+"=1", queueEnvDSN+"="+dsn, queueEnvRound+"="+round, queueEnvOut+"="+outFile,
		queueEnvRepos+"="+strconv.Itoa(repos), queueEnvSleep+"="+sleep.String(), queueEnvLease+"="+lease.String())
	w.cmd.Env = append(w.cmd.Env, env...)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// result parses a worker's "result" line: its round id and scanned count.
func (w *queueWorkerProc) result(t *testing.T) (round string, scanned, repos, failed int) {
	t.Helper()
	for _, line := range strings.Split(w.out.String(), "\n") {
		if _, err := fmt.Sscanf(line, "result %s scanned=%d repos=%d failed=%d", &round, &scanned, &repos, &failed); err == nil {
			return round, scanned, repos, failed
		}
	}
	t.Fatalf("worker %d printed no result:\n%s", w.cmd.Process.Pid, w.out.String())
	return "", 0, 0, 0
}

// queueScanLine is one of the workers' "what pid repo" lines.
type queueScanLine struct {
	what string
	pid  int
	repo int64
}

func readQueueScanLines(t *testing.T, path string) []queueScanLine {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []queueScanLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l queueScanLine
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
	queueProcRepos = 25
	queueProcLease = 2 * time.Second
)

func TestQueueProcesses(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			out := filepath.Join(t.TempDir(), "scans")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			var workers []*queueWorkerProc
			for range 3 {
				// No round name: the three must agree on one round.
				workers = append(workers, startQueueWorker(t, ctx, dsn, "", out, queueProcRepos, 150*time.Millisecond, queueProcLease, queueEnvFail+"=1"))
			}
			wantFailed := map[int64]string{}
			for _, r := range queueTestRepos(queueProcRepos) {
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
				if repos != queueProcRepos {
					t.Errorf("worker %d: round %s, %d repositories", w.cmd.Process.Pid, round, repos)
				}
				// Every process reports every failure, whoever scanned it.
				if got, want := w.failures(t), queueFailureLine(wantFailed); got != want {
					t.Errorf("worker %d reports failures %s\nwant %s", w.cmd.Process.Pid, got, want)
				}
				rounds[round] = true
				scanned += n
			}
			elapsed := time.Since(start)
			if len(rounds) != 1 {
				t.Errorf("the workers ran %d rounds: %v", len(rounds), rounds)
			}
			lines := readQueueScanLines(t, out)
			starts, dones, lists, byPID := queueTally(lines)
			for _, r := range queueTestRepos(queueProcRepos) {
				if starts[r.ID] != 1 || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want 1 and 1", r.FullName, starts[r.ID], dones[r.ID])
				}
			}
			if lists != 1 || scanned != queueProcRepos {
				t.Errorf("%d listings, workers report %d scans; want 1 and %d", lists, scanned, queueProcRepos)
			}
			if len(byPID) < 2 {
				t.Errorf("one process scanned everything: %v", byPID)
			}
			t.Logf("%s: 3 processes, %d repositories of 150 ms, 2 workers each: %v; scans per process %v",
				b.Name, queueProcRepos, elapsed.Round(time.Millisecond), byPID)
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
			victim := startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, time.Hour, queueProcLease)
			others := []*queueWorkerProc{
				startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, 150*time.Millisecond, queueProcLease),
				startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, 150*time.Millisecond, queueProcLease),
			}
			vpid := victim.cmd.Process.Pid
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				started := false
				for _, l := range readQueueScanLines(t, out) {
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
				if rd != round || repos != queueProcRepos || failed != 0 {
					t.Errorf("worker %d: round %s, %d repositories, %d failed", w.cmd.Process.Pid, rd, repos, failed)
				}
				scanned += n
			}
			elapsed := time.Since(start)
			lines := readQueueScanLines(t, out)
			starts, dones, _, byPID := queueTally(lines)
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
			for _, r := range queueTestRepos(queueProcRepos) {
				wantStarts := 1
				if lost[r.ID] {
					wantStarts = 2 // the victim's, never finished, and its rescuer's
				}
				if starts[r.ID] != wantStarts || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want %d and 1", r.FullName, starts[r.ID], dones[r.ID], wantStarts)
				}
			}
			if scanned != queueProcRepos {
				t.Errorf("the survivors report %d scans, want %d", scanned, queueProcRepos)
			}
			// The lost repositories come back after the lease (and its
			// grace), not after River's own rescuer's 30-second round.
			if bound := killedAt + queueProcLease + roundLeaseGrace(queueProcLease) + 10*time.Second; elapsed > bound {
				t.Errorf("survivors done %v after the start, want within %v: the lost jobs were not rescued after the lease", elapsed, bound)
			}
			t.Logf("%s: victim killed at %v holding %d repositories; survivors done at %v (lease %v); scans per process %v",
				b.Name, killedAt.Round(time.Millisecond), len(lost), elapsed.Round(time.Millisecond), queueProcLease, byPID)
		})
	}
}

// queueTally counts start and done lines per repository, listings, and done
// lines per process.
func queueTally(lines []queueScanLine) (starts, dones map[int64]int, lists int, byPID map[int]int) {
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
			victim := startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, 50*time.Millisecond, queueProcLease, queueEnvHang+"=1")
			vpid := victim.cmd.Process.Pid
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				lines := readQueueScanLines(t, out)
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
			others := []*queueWorkerProc{
				startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, 50*time.Millisecond, queueProcLease),
				startQueueWorker(t, ctx, dsn, round, out, queueProcRepos, 50*time.Millisecond, queueProcLease),
			}
			scanned := 0
			for _, w := range others {
				if err := w.cmd.Wait(); err != nil {
					t.Fatalf("worker %d: %v\n%s", w.cmd.Process.Pid, err, w.out.String())
				}
				_, n, repos, failed := w.result(t)
				if repos != queueProcRepos || failed != 0 {
					t.Errorf("worker %d: %d repositories, %d failed", w.cmd.Process.Pid, repos, failed)
				}
				scanned += n
			}
			elapsed := time.Since(start)
			starts, dones, lists, _ := queueTally(readQueueScanLines(t, out))
			if lists != 2 {
				t.Errorf("%d listings, want 2 (the victim's and one survivor's)", lists)
			}
			for _, r := range queueTestRepos(queueProcRepos) {
				if starts[r.ID] != 1 || dones[r.ID] != 1 {
					t.Errorf("%s: started %d times, done %d times; want 1 and 1", r.FullName, starts[r.ID], dones[r.ID])
				}
			}
			if scanned != queueProcRepos {
				t.Errorf("the survivors report %d scans, want %d", scanned, queueProcRepos)
			}
			t.Logf("%s: lister killed at %v; round done at %v (lease %v)", b.Name, killedAt.Round(time.Millisecond), elapsed.Round(time.Millisecond), queueProcLease)
		})
	}
}
