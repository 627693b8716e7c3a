// Command leakstop finds leaked Twilio credentials and cuts them off.
//
// Exit codes: 0 no findings, 1 findings, 2 error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/leakstop/leakstop/pipeline"
)

// Exit codes, documented in the README and tested by testdata/script.
const (
	exitClean    = 0
	exitFindings = 1
	exitError    = 2
)

// errFindings is returned by a command that ran correctly and found
// leaks: the pipeline's, so that every front end means the same by it.
var errFindings = pipeline.ErrFindings

// usageError is a mistake in how the command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// stdio is what a command reads and writes; tests substitute it.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func (s *stdio) warnf(format string, a ...any) {
	fmt.Fprintf(s.err, "leakstop: warning: "+format+"\n", a...)
}

func (s *stdio) hintf(format string, a ...any) {
	fmt.Fprintf(s.err, "leakstop: hint: "+format+"\n", a...)
}

type command struct {
	summary string
	run     func(ctx context.Context, io *stdio, args []string) error
}

// commands lists every subcommand; each lives in a file named after it.
func commands() map[string]command {
	return map[string]command{
		"scan":    {"scan files, directories, stdin or git history for Twilio credentials", runScan},
		"rules":   {"check rules files: leakstop rules test FILE", runRules},
		"version": {"print the version", runVersion},
		"hook":    {"install or remove the git pre-commit hook; run it", runHook},
		"action":  {"run the GitHub Action (action.yml) in a workflow", runAction},
		"revoke":  {"verify leaked credentials and rotate live ones without downtime", runRevoke},
		"org":     {"scan every repository of GitHub organisations: leakstop org scan --org NAME", runOrg},
	}
}

func main() {
	os.Exit(runProcess(os.Args[1:]))
}

// runProcess is main: run with the process's standard streams, stopped by
// SIGINT and SIGTERM (the tests run it as a real process too).
func runProcess(args []string) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg conc.WaitGroup
	wg.Go(func() { watchSignals(sigs, done, cancel, cuttable(args)) })
	code := run(ctx, args, &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	signal.Stop(sigs)
	close(done)
	wg.Wait()
	cancel(nil)
	return code
}

// errInterrupted is the cause of the context of a run stopped by SIGINT
// or SIGTERM.
var errInterrupted = errors.New("interrupted")

// interruptGrace is how long a cancelled run has to return before a
// cuttable one is ended anyway: whatever loop forgot its context, Ctrl-C
// takes effect within a second.
const interruptGrace = 300 * time.Millisecond

// watchSignals cancels the run on the first SIGINT or SIGTERM, so that it
// stops and says it is incomplete; a second one exits at once. A cuttable
// run (one that only reads: see cuttable) that has not returned within
// interruptGrace is ended too.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelCauseFunc, cut bool) {
	select {
	case <-sigs:
		cancel(errInterrupted)
	case <-done:
		return
	}
	var grace <-chan time.Time
	if cut {
		grace = time.After(interruptGrace)
	}
	select {
	case <-sigs:
		fmt.Fprintln(os.Stderr, "leakstop: error: interrupted twice: exiting now; the scan is incomplete")
		os.Exit(exitError)
	case <-grace:
		fmt.Fprintln(os.Stderr, "leakstop: error: interrupted: the scan is incomplete")
		os.Exit(exitError)
	case <-done:
	}
}

// cuttable reports whether a command line may be ended on the first
// signal without waiting for it to wind down: anything but the revoker
// applying rotations, which records each step and is left to stop at one,
// and an org scan, which gives its repositories back to the round's queue
// so that another worker need not wait for their leases (a second signal
// still ends either).
func cuttable(args []string) bool {
	if len(args) == 0 || args[0] == "revoke" || args[0] == "org" {
		return false
	}
	if args[0] == "action" && strings.Contains(os.Getenv("INPUT_REVOKE"), "apply") {
		return false
	}
	for i, a := range args {
		if strings.TrimLeft(a, "-") == "revoke=apply" || (strings.TrimLeft(a, "-") == "revoke" && i+1 < len(args) && args[i+1] == "apply") {
			return false
		}
	}
	return true
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, s *stdio) int {
	cmds := commands()
	if len(args) >= 2 && args[0] == "help" {
		// "leakstop help scan" is "leakstop scan --help".
		args = []string{args[1], "--help"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(s.out, cmds)
		if len(args) == 0 {
			return exitError
		}
		return exitClean
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(s.err, "leakstop: error: unknown command %q\n", args[0])
		s.hintf("run 'leakstop --help' for the list of commands")
		return exitError
	}
	err := c.run(ctx, s, args[1:])
	var ue *usageError
	if errors.Is(context.Cause(ctx), errInterrupted) {
		// Whatever the command made of it, what it looked at is partial:
		// never a clean or a findings exit.
		what := "the scan is incomplete"
		if args[0] == "revoke" {
			what = "see leakstop revoke status for what was done"
		}
		fmt.Fprintf(s.err, "leakstop: error: interrupted: %s\n", what)
		return exitError
	}
	switch {
	case err == nil:
		return exitClean
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.Is(err, errHelp):
		return exitClean
	case errors.As(err, &ue):
		fmt.Fprintf(s.err, "leakstop: error: %s\n", ue.msg)
		s.hintf("run 'leakstop %s --help' for usage", args[0])
		return exitError
	default:
		fmt.Fprintf(s.err, "leakstop: error: %v\n", err)
		return exitError
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: leakstop <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 no findings, 1 findings, 2 error.")
}
