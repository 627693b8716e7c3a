package gitdb

import (
	"crypto/sha1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRepo builds a repository with the git CLI, with deterministic dates.
type testRepo struct {
	t   testing.TB
	dir string
	n   int
}

func newTestRepo(t testing.TB, args ...string) *testRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git(append([]string{"init", "-q", "-b", "main"}, args...)...)
	return r
}

var gitEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func runGit(t testing.TB, dir string, n int, args ...string) string {
	t.Helper()
	date := gitEpoch.Add(time.Duration(n) * time.Minute).Format(time.RFC3339)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada Dev", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada Dev", "GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
	)
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

// commit stages everything and commits; it returns the commit hash.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func (r *testRepo) open() *DB {
	r.t.Helper()
	db, err := Open(r.dir)
	if err != nil {
		r.t.Fatalf("Open: %v", err)
	}
	r.t.Cleanup(func() { db.Close() })
	return db
}

// lines splits git output into lines, dropping empty ones.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// objectID is git's name of an object of type typ holding data.
func objectID(typ string, data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", typ, len(data))
	h.Write(data)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// history builds a history with many versions of a few files (so that
// packs hold long delta chains), a merge, a subdirectory, a symlink and
// binary content. It returns the commits, oldest first.
func history(r *testRepo, n int) []string {
	r.t.Helper()
	var commits []string
	var big strings.Builder
	for i := range 400 {
		fmt.Fprintf(&big, "line %d of a large file that changes a little each commit\n", i)
	}
	for i := range n {
		r.write("big.txt", big.String()+fmt.Sprintf("tail %d\n", i))
		r.write(fmt.Sprintf("dir/sub/f%d.txt", i%5), fmt.Sprintf("content %d\n", i))
		if i%4 == 0 {
			r.write("bin.dat", fmt.Sprintf("\x00\x01\x02 binary %d", i))
		}
		commits = append(commits, r.commit(fmt.Sprintf("commit %d", i)))
	}
	return commits
}
