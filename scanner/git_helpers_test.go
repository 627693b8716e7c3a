package scanner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/rules"
)

var (
	testDetOnce sync.Once
	testDet     *Detector
	testDetErr  error
)

func gitTestDetector(t testing.TB) *Detector {
	t.Helper()
	testDetOnce.Do(func() {
		set, err := rules.Default()
		if err != nil {
			testDetErr = err
			return
		}
		testDet, testDetErr = NewDetector(set)
	})
	if testDetErr != nil {
		t.Fatal(testDetErr)
	}
	return testDet
}

func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
}

// testRepo builds a repository with the git CLI, with deterministic dates.
type testRepo struct {
	t   testing.TB
	dir string
	n   int
}

var gitEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestRepo(t testing.TB, args ...string) *testRepo {
	t.Helper()
	requireGit(t)
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git(append([]string{"init", "-q", "-b", "main"}, args...)...)
	return r
}

func gitEnv(n int) []string {
	date := gitEpoch.Add(time.Duration(n) * time.Minute).Format(time.RFC3339)
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada Dev", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada Dev", "GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
	)
}

func runGit(t testing.TB, dir string, n int, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(n)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	r.n++
	return runGit(r.t, r.dir, r.n, args...)
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) remove(path string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.dir, filepath.FromSlash(path))); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits; it returns the commit hash.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// creds generates credentials at run time.
type creds struct {
	t testing.TB
	g *rules.Generator
	n int
}

func newCreds(t testing.TB, seed uint64) *creds { return &creds{t: t, g: rules.NewGenerator(seed)} }

// pair returns a fresh Account SID and auth token.
func (c *creds) pair() (sid, token string) {
	c.t.Helper()
	c.n++
	s, err := c.g.Expand(fmt.Sprintf("{{sid s%d}} {{token t%d}}", c.n, c.n))
	if err != nil {
		c.t.Fatal(err)
	}
	sid, token, _ = strings.Cut(s, " ")
	return sid, token
}

// envFile is a .env file holding one credential, with filler lines.
func envFile(sid, token string, filler int) string {
	var b strings.Builder
	for i := range filler {
		fmt.Fprintf(&b, "SETTING_%d=value%d\n", i, i)
	}
	fmt.Fprintf(&b, "TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\n", sid, token)
	return b.String()
}

func scanGitT(t testing.TB, dir string, opts GitOptions) *Result {
	t.Helper()
	res, err := ScanGit(context.Background(), gitTestDetector(t), dir, opts)
	if err != nil {
		t.Fatalf("ScanGit: %v", err)
	}
	return res
}

// byToken indexes findings by their secret value.
func byToken(res *Result) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range res.Findings {
		m[f.Secret.Reveal()] = f
	}
	return m
}

// gitCmd runs git and returns its output and error, for commands expected
// to fail.
func gitCmd(dir string, n int, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(n)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
