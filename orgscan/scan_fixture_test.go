package orgscan

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
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// Test fixtures for the incremental scan and the report: real git
// repositories, mirrored with the git binary, and credentials generated
// at run time.

var (
	scanDetOnce sync.Once
	scanDet     *scanner.Detector
	scanDetErr  error
)

func scanDetector(t testing.TB) *scanner.Detector {
	t.Helper()
	scanDetOnce.Do(func() {
		set, err := rules.Default()
		if err != nil {
			scanDetErr = err
			return
		}
		scanDet, scanDetErr = scanner.NewDetector(set)
	})
	if scanDetErr != nil {
		t.Fatal(scanDetErr)
	}
	return scanDet
}

// scanFixture is a source repository with a work tree, and its mirror.
type scanFixture struct {
	t      testing.TB
	dir    string
	mirror string
	n      int
}

var scanEpoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func fixtureGit(t testing.TB, dir string, n int, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	date := scanEpoch.Add(time.Duration(n) * time.Minute).Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
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

func newScanFixture(t testing.TB) *scanFixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	f := &scanFixture{t: t, dir: t.TempDir()}
	f.git("init", "-q", "-b", "main")
	return f
}

func (f *scanFixture) git(args ...string) string {
	f.t.Helper()
	f.n++
	return fixtureGit(f.t, f.dir, f.n, args...)
}

func (f *scanFixture) write(path, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *scanFixture) remove(path string) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(f.dir, filepath.FromSlash(path))); err != nil {
		f.t.Fatal(err)
	}
}

func (f *scanFixture) commit(msg string) string {
	f.t.Helper()
	f.git("add", "-A")
	f.git("commit", "-q", "--allow-empty", "-m", msg)
	return f.git("rev-parse", "HEAD")
}

// sync mirrors the source (git clone --mirror, then fetch --prune), as
// the org scan's mirror does.
func (f *scanFixture) sync() string {
	f.t.Helper()
	if f.mirror == "" {
		f.mirror = filepath.Join(f.t.TempDir(), "mirror.git")
		fixtureGit(f.t, f.dir, 0, "clone", "-q", "--mirror", f.dir, f.mirror)
		return f.mirror
	}
	fixtureGit(f.t, f.mirror, 0, "fetch", "-q", "--prune", "origin")
	return f.mirror
}

// cloneFrom makes the fixture a clone of another (a fork).
func cloneFixture(t testing.TB, parent *scanFixture) *scanFixture {
	t.Helper()
	f := &scanFixture{t: t, dir: filepath.Join(t.TempDir(), "fork")}
	fixtureGit(t, parent.dir, 0, "clone", "-q", parent.dir, f.dir)
	f.git("branch", "-q", "--unset-upstream")
	f.git("remote", "remove", "origin")
	return f
}

// fixtureCreds generates credentials at run time.
type fixtureCreds struct {
	t testing.TB
	g *rules.Generator
	n int
}

func newFixtureCreds(t testing.TB, seed uint64) *fixtureCreds {
	return &fixtureCreds{t: t, g: rules.NewGenerator(seed)}
}

func (c *fixtureCreds) pair() (sid, token string) {
	c.t.Helper()
	c.n++
	s, err := c.g.Expand(fmt.Sprintf("{{sid s%d}} {{token t%d}}", c.n, c.n))
	if err != nil {
		c.t.Fatal(err)
	}
	sid, token, _ = strings.Cut(s, " ")
	return sid, token
}

func envText(sid, token string) string {
	return "DEBUG=false\nTWILIO_ACCOUNT_SID=" + sid + "\nTWILIO_AUTH_TOKEN=" + token + "\n"
}

// openScanStore opens a fresh store on backend b with the org scan's schema.
func openScanStore(t testing.TB, b storetest.Backend) (state.Store, string) {
	t.Helper()
	dsn := b.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{StateSchema}})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dsn
}

func newRepoScanner(t testing.TB, st state.Store) *RepoScanner {
	return &RepoScanner{Store: st, Detector: scanDetector(t), RulesHash: "rules-v1", Options: scanner.Options{Workers: 2}}
}

func round(n int) RoundInfo {
	return RoundInfo{ID: fmt.Sprintf("round-%d", n), At: scanEpoch.Add(time.Duration(n) * 24 * time.Hour)}
}

func mustScan(t testing.TB, s *RepoScanner, r Repo, mirror string, rd RoundInfo) RepoResult {
	t.Helper()
	res, err := s.ScanRepo(context.Background(), r, mirror, rd)
	if err != nil {
		t.Fatalf("ScanRepo %s: %v", r.FullName, err)
	}
	return res
}

func mustReport(t testing.TB, st state.Store, repos []Repo, rd RoundInfo) *OrgReport {
	t.Helper()
	rep, err := Report(context.Background(), st, repos, rd)
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	return rep
}

// credByIdentifier finds a report's credential by its SID.
func credByIdentifier(rep *OrgReport, sid string) (OrgCred, bool) {
	for _, c := range rep.Creds {
		if c.Identifier == sid {
			return c, true
		}
	}
	return OrgCred{}, false
}

func repoNames(c OrgCred) []string {
	var out []string
	for _, r := range c.Repositories {
		out = append(out, r.FullName)
	}
	return out
}

func testRepo(id int64, full string, pushed int) Repo {
	owner, name, _ := strings.Cut(full, "/")
	return Repo{ID: id, Owner: owner, Name: name, FullName: full, PushedAt: scanEpoch.Add(time.Duration(pushed) * time.Hour)}
}
