package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/conc"
)

// result is what one measured command cost.
type result struct {
	Wall time.Duration
	// TreePeak is the peak of the summed resident sets of the command
	// and all its descendants, sampled every 10 ms, then 50 ms.
	TreePeak int64
	// MaxRSS is the largest maximum resident set of one process of the
	// tree (wait4's rusage).
	MaxRSS int64
	Exit   int
	// Killed is set when the tree went over the kill limit.
	Killed bool
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func (r result) String() string {
	killed := ""
	if r.Killed {
		killed = " (KILLED over the limit: the peak is a lower bound)"
	}
	return fmt.Sprintf("wall %.1fs  peak RSS of process tree %s  largest process max RSS %s  exit %d%s",
		r.Wall.Seconds(), mib(r.TreePeak), mib(r.MaxRSS), r.Exit, killed)
}

// run runs args with env added to the environment and samples the
// resident memory of its process tree until it exits. A non-zero exit
// is reported in the result, not as an error. A tree whose resident
// memory goes over killAbove bytes (when > 0) is killed.
func run(ctx context.Context, args, env []string, killAbove int64) (result, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", args[0], err)
	}
	done := make(chan struct{})
	var peak int64
	var killed bool
	var wg conc.WaitGroup
	wg.Go(func() {
		// Every 10 ms for the first two seconds, then every 50 ms: a
		// walk of /proc costs CPU the measured command could use.
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		slow := time.After(2 * time.Second)
		for {
			peak = max(peak, treeRSS(cmd.Process.Pid))
			if killAbove > 0 && peak > killAbove && !killed {
				killed = true
				_ = cmd.Process.Kill()
			}
			select {
			case <-done:
				return
			case <-slow:
				t.Reset(50 * time.Millisecond)
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	close(done)
	wg.Wait()
	r := result{Wall: time.Since(start), TreePeak: peak, Killed: killed}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	r.Exit = cmd.ProcessState.ExitCode()
	if err != nil && r.Exit < 0 {
		return r, fmt.Errorf("run %s: %w", args[0], err)
	}
	return r, nil
}

// treeRSS sums the resident set of pid and all its descendants.
func treeRSS(root int) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields start after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	in := func(pid int) bool {
		for i := 0; pid > 1 && i < 64; i++ {
			if pid == root {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	var sum int64
	page := int64(os.Getpagesize())
	for pid := range parent {
		if !in(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "statm"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n * page
		}
	}
	return sum
}
