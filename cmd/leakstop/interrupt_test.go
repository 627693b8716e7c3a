package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sourcegraph/conc"
)

// bigFilesCmd is "bigfiles DIR N MB": write N files of MB MiB of
// base64 text (seeded, no credentials) under DIR.
func bigFilesCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: bigfiles DIR N MB")
	}
	n, err1 := strconv.Atoi(args[1])
	mb, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil {
		ts.Fatalf("bigfiles: bad N or MB")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	// One MiB of random base64 lines, repeated with a distinct prefix on
	// every copy: cheap to make even under the race detector.
	rng := rand.New(rand.NewPCG(uint64(n), uint64(mb)))
	raw := make([]byte, 75)
	line := make([]byte, 101)
	line[100] = '\n'
	var chunk bytes.Buffer
	for chunk.Len() < 1<<20 {
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		base64.StdEncoding.Encode(line[:100], raw)
		chunk.Write(line)
	}
	for i := range n {
		var b bytes.Buffer
		for k := 0; b.Len() < mb<<20; k++ {
			fmt.Fprintf(&b, "# part %d of file %d\n", k, i)
			b.Write(chunk.Bytes())
		}
		ts.Check(os.WriteFile(filepath.Join(dir, "big"+strconv.Itoa(i)+".txt"), b.Bytes(), 0o644))
	}
}

// interruptCmd is "interrupt SIGNAL AFTER CMD ARGS...": start CMD as a
// process, send it SIGNAL (INT or TERM) after AFTER (a duration), and
// require that it was still running then, and that it exits with status 2
// within a second. SIGNAL "INT,INT" sends two, 50 ms apart, and requires
// the exit within 500 ms of the first (measured: 72-143 ms on a quiet
// machine; under the race detector and a loaded CI machine, 2.1 s was
// seen against a 300 ms base). Its stderr goes to $WORK/interrupt.stderr, and the time
// it took to $INTERRUPT_MS.
func interruptCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: interrupt SIGNAL AFTER CMD [ARGS...]")
	}
	twice := args[0] == "INT,INT"
	limit := time.Second
	if twice {
		args[0], limit = "INT", 500*time.Millisecond
	}
	if raceEnabled {
		limit *= 3 // the race detector's slowdown; the limit holds for a normal build
	}
	if l := loadPerCPU(); l > 2 {
		// A machine this busy delays the signal's delivery itself (seen:
		// 700 ms from kill to the handler at a load of 9 on 2 cores).
		ts.Logf("load %.1f per CPU: allowing twice the time", l)
		limit *= 2
	}
	sig := map[string]os.Signal{"INT": os.Interrupt, "TERM": syscall.SIGTERM}[args[0]]
	if sig == nil {
		ts.Fatalf("interrupt: signal %q: want INT, TERM or INT,INT", args[0])
	}
	after, err := time.ParseDuration(args[1])
	ts.Check(err)
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "PATH="+ts.Getenv("PATH"), "HOME="+ts.Getenv("HOME"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	ts.Check(cmd.Start())
	exited := make(chan error, 1)
	var wg conc.WaitGroup
	wg.Go(func() { exited <- cmd.Wait() })
	defer wg.Wait()
	select {
	case err := <-exited:
		ts.Fatalf("interrupt: %s ended before the signal (%v); make the scan bigger\nstderr: %s", args[2], err, errb.String())
	case <-time.After(after):
	}
	ts.Check(cmd.Process.Signal(sig))
	start := time.Now()
	// A second Ctrl-C: signals of one kind that arrive before the first
	// is delivered merge into one (seen on a loaded machine, 50 ms
	// apart), so it is sent again every 20 ms until the process exits:
	// one of them comes after the first was taken.
	var again <-chan time.Time
	if twice {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		again = tick.C
	}
	timeout := time.After(10 * time.Second)
	var werr error
wait:
	for {
		select {
		case werr = <-exited:
			break wait
		case <-again:
			_ = cmd.Process.Signal(sig) // fails only once it has exited
		case <-timeout:
			_ = cmd.Process.Kill()
			<-exited
			ts.Fatalf("interrupt: %s still running 10 s after SIG%s", args[2], args[0])
		}
	}
	took := time.Since(start)
	ts.Check(os.WriteFile(ts.MkAbs("interrupt.stderr"), errb.Bytes(), 0o644))
	ts.Setenv("INTERRUPT_MS", strconv.FormatInt(took.Milliseconds(), 10))
	ts.Logf("exited %v after SIG%s: %v", took, args[0], werr)
	ee, ok := werr.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitError {
		ts.Fatalf("interrupt: exit %v, want status 2", werr)
	}
	if took > limit {
		ts.Fatalf("interrupt: took %v after SIG%s, want under %v", took, args[0], limit)
	}
}

// withinCmd is "within DURATION N CMD ARGS...": run CMD, require exit
// status N within DURATION; its stderr goes to $WORK/within.stderr.
func withinCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: within DURATION N CMD [ARGS...]")
	}
	limit, err := time.ParseDuration(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "PATH="+ts.Getenv("PATH"), "HOME="+ts.Getenv("HOME"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	ts.Check(os.WriteFile(ts.MkAbs("within.stderr"), errb.Bytes(), 0o644))
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("within: %v", err)
	}
	ts.Logf("%s exited %d after %v", args[2], got, took)
	if got != want {
		ts.Fatalf("within: exit status %d, want %d\nstderr: %s", got, want, errb.String())
	}
	if took > limit {
		ts.Fatalf("within: took %v, want at most %v", took, limit)
	}
}

// loadPerCPU is the one-minute load average per CPU (0 when unknown).
func loadPerCPU() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return 0
	}
	return l / float64(runtime.NumCPU())
}
