package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// orgWorld is an organisation on a fake GitHub: its API
// (internal/githubtest), its repositories served by the real git
// http-backend, and work trees to commit into. leakstop runs against it
// as a real process.
type orgWorld struct {
	t    *testing.T
	bin  string
	gh   *githubtest.Server
	git  *githubtest.GitServer
	dir  string
	home string
	org  string
	// work holds each repository's work tree, by name.
	work  map[string]string
	cache string
	state string
	clock time.Time
}

func newOrgWorld(t *testing.T, bin, org string) *orgWorld {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	gh := githubtest.New(t)
	w := &orgWorld{
		t: t, bin: bin, gh: gh, dir: dir, org: org,
		git:   githubtest.NewGitServer(t, filepath.Join(dir, "served"), gh),
		home:  filepath.Join(dir, "home"),
		work:  map[string]string{},
		cache: filepath.Join(dir, "cache"),
		state: filepath.Join(dir, "state", "org.db"),
		clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if err := os.MkdirAll(w.home, 0o700); err != nil {
		t.Fatal(err)
	}
	return w
}

// tick is a later pushed_at each time.
func (w *orgWorld) tick() time.Time {
	w.clock = w.clock.Add(time.Minute)
	return w.clock
}

// gitIn runs git in dir with a fixed identity.
func (w *orgWorld) gitIn(dir string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+w.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty content deletes the file) in name's work
// tree and commits them.
func (w *orgWorld) commit(name string, files map[string]string) {
	w.t.Helper()
	work := w.work[name]
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(work, p)
		if files[p] == "" {
			if err := os.Remove(full); err != nil {
				w.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	w.gitIn(work, "add", "-A")
	w.gitIn(work, "commit", "-q", "-m", "change "+strings.Join(paths, ", "))
}

// addRepo creates name with one commit per element of commits, serves it
// and lists it.
func (w *orgWorld) addRepo(name string, spec githubtest.OrgRepo, commits ...map[string]string) int64 {
	w.t.Helper()
	work := filepath.Join(w.dir, "work", name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		w.t.Fatal(err)
	}
	w.gitIn(work, "init", "-q", "-b", "main")
	w.work[name] = work
	for _, c := range commits {
		w.commit(name, c)
	}
	return w.serve(name, spec)
}

// fork creates name as a fork of parent (a separate copy of its history,
// as GitHub's forks are to a client) with more commits.
func (w *orgWorld) fork(parent, name string, commits ...map[string]string) int64 {
	w.t.Helper()
	work := filepath.Join(w.dir, "work", name)
	w.gitIn(w.dir, "clone", "-q", "--no-local", w.work[parent], work)
	w.work[name] = work
	for _, c := range commits {
		w.commit(name, c)
	}
	return w.serve(name, githubtest.OrgRepo{Fork: true})
}

func (w *orgWorld) serve(name string, spec githubtest.OrgRepo) int64 {
	w.git.AddBare(w.org, name, w.work[name])
	spec.Name = name
	if spec.PushedAt.IsZero() {
		spec.PushedAt = w.tick()
	}
	if spec.SizeKB == 0 {
		spec.SizeKB = 10
	}
	return w.gh.AddOrgRepo(w.org, spec)
}

// push publishes name's work tree (every branch, forced) and moves its
// pushed_at, as a push to GitHub does.
func (w *orgWorld) push(name string) {
	w.t.Helper()
	w.git.Push(w.org, name, w.work[name])
	w.gh.SetPushedAt(w.org, name, w.tick())
}

// run runs leakstop with the world's token in the environment and
// returns its exit code, standard output and standard error.
func (w *orgWorld) run(args ...string) (int, string, string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := w.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	w.t.Logf("leakstop %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("run leakstop: %v", err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// command is "leakstop org scan" on the world, with args added.
func (w *orgWorld) command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{"org", "scan", "--org", w.org, "--github-api-url", w.gh.URL(),
		"--cache", w.cache, "--state", w.state}, args...)
	cmd := exec.CommandContext(ctx, w.bin, argv...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.home, "TMPDIR=" + w.dir,
		"GITHUB_TOKEN=" + w.gh.Token()}
	return cmd
}

// orgReport is the part of the JSON report the tests read.
type orgReport struct {
	Credentials []struct {
		Fingerprint string `json:"fingerprint"`
		Identifier  string `json:"identifier"`
		New         bool   `json:"new"`
		FirstSeen   string `json:"first_seen"`
		LastSeen    string `json:"last_seen"`
		Repos       []struct {
			Repo      string `json:"full_name"`
			Locations []struct {
				Commit string `json:"commit"`
				Path   string `json:"path"`
			} `json:"locations"`
		} `json:"repositories"`
	} `json:"credentials"`
	Failed []struct {
		Repo   string `json:"full_name"`
		Reason string `json:"reason"`
	} `json:"failed_repositories"`
}

func readOrgReport(t *testing.T, data string) *orgReport {
	t.Helper()
	var r orgReport
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		t.Fatalf("read report: %v\n%s", err, data)
	}
	return &r
}

// reposOf maps each credential's identifier to the repositories holding
// it, sorted.
func (r *orgReport) reposOf() map[string][]string {
	out := map[string][]string{}
	for _, c := range r.Credentials {
		for _, rp := range c.Repos {
			out[c.Identifier] = append(out[c.Identifier], rp.Repo)
		}
		sort.Strings(out[c.Identifier])
	}
	return out
}
