package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const workflowPath = "../docs/examples/org-scan.yml"

// actionlintVersion is the actionlint the test builds with "go run" when
// none is on PATH (the Go module proxy is reachable wherever the tests
// run, CI included).
const actionlintVersion = "v1.7.12"

// actionlint returns the command that runs actionlint: the one on PATH,
// else "go run github.com/rhysd/actionlint/cmd/actionlint@VERSION". It
// skips the test when neither works, except under CI=true, where it
// fails: CI must not pass by skipping the lint.
func actionlint(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("actionlint"); err == nil {
		return []string{p}
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format+" but CI=true: the workflow must be linted in CI", args...)
		}
		t.Skipf(format+": skipping the lint", args...)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		unavailable("neither actionlint nor go is on PATH")
	}
	cmd := []string{goBin, "run", "github.com/rhysd/actionlint/cmd/actionlint@" + actionlintVersion}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "-version")...).CombinedOutput(); err != nil {
		unavailable("actionlint is not installed and %s could not be built (%v: %s)", strings.Join(cmd[1:], " "), err, out)
	}
	return cmd
}

func runActionlint(t *testing.T, cmd []string, file string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "-no-color", file)...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// TestWorkflowActionlint lints docs/examples/org-scan.yml with actionlint
// (which runs shellcheck on the run: scripts when shellcheck is
// installed), and a broken copy of it, so that a linter that checks
// nothing cannot pass.
func TestWorkflowActionlint(t *testing.T) {
	cmd := actionlint(t)
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not installed: actionlint checks the workflow without its scripts")
	}
	if out, err := runActionlint(t, cmd, workflowPath); err != nil {
		t.Fatalf("actionlint %s: %v\n%s", workflowPath, err, out)
	}
	b, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "${{ matrix.worker }}", "${{ matrix.workers }}", 1)
	if broken == string(b) {
		t.Fatal("the workflow has no ${{ matrix.worker }} to break")
	}
	bad := filepath.Join(t.TempDir(), "org-scan.yml")
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runActionlint(t, cmd, bad)
	if err == nil || !strings.Contains(out, "workers") {
		t.Fatalf("actionlint accepted a reference to an undefined matrix key (err %v):\n%s", err, out)
	}
}

// TestWorkflowShape checks what docs/org-scans.md promises of the
// workflow: scheduled, a matrix of workers that do not cancel each other,
// one round per run attempt, the DSN and the token from secrets through
// the environment (never the command line), no service container (it
// would not be shared between matrix jobs), read-only permissions.
func TestWorkflowShape(t *testing.T) {
	b, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, workflowPath, b)
	docs := decodeAll(t, workflowPath)
	if len(docs) != 1 {
		t.Fatalf("%d YAML documents, want 1", len(docs))
	}
	w := docs[0]
	if len(w.get("on", "schedule").list()) == 0 {
		t.Error("no schedule")
	}
	if got := w.get("permissions", "contents").str(); got != "read" {
		t.Errorf("permissions.contents = %q, want read", got)
	}
	job := w.get("jobs", "scan")
	if job.has("services") {
		t.Error("a service container is per job: the matrix workers would not share it")
	}
	if job.get("strategy", "fail-fast").v != false {
		t.Error("fail-fast is not false: one worker's failure would cancel the others")
	}
	if n := len(job.get("strategy", "matrix", "worker").list()); n < 2 {
		t.Errorf("matrix has %d workers, want at least 2", n)
	}
	var scan node
	for _, s := range job.get("steps").list() {
		if s.has("run") && strings.Contains(s.get("run").str(), "leakstop org scan") {
			scan = s
		}
	}
	if scan.t == nil {
		t.Fatal("no step runs leakstop org scan")
	}
	env := scan.get("env")
	for k, want := range map[string]string{
		"LEAKSTOP_STATE": "${{ secrets.LEAKSTOP_STATE_DSN }}",
		"GITHUB_TOKEN":   "${{ secrets.LEAKSTOP_GITHUB_TOKEN }}",
		"ROUND":          "${{ github.run_id }}-${{ github.run_attempt }}",
	} {
		if got := env.get(k).str(); got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	run := scan.get("run").str()
	for _, want := range []string{`--round "$ROUND"`, `--org "$ORG"`} {
		if !strings.Contains(run, want) {
			t.Errorf("the scan step lacks %q:\n%s", want, run)
		}
	}
	if strings.Contains(run, "--state") || strings.Contains(run, "${{") {
		t.Errorf("the scan step puts the state or an expression on the command line:\n%s", run)
	}
}
