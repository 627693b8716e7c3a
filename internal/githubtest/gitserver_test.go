package githubtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// runGit runs git in dir with a fixed identity and no user or system
// configuration, plus env; it returns the combined output and the error.
func runGit(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+t.TempDir(),
		"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := runGit(t, dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// workRepo makes a repository with n commits on main and one on a branch.
func workRepo(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	mustGit(t, dir, "init", "--quiet", "--initial-branch=main")
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(strings.Repeat("x", 1000*(i+1))), 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, dir, "add", "f.txt")
		mustGit(t, dir, "commit", "--quiet", "-m", "c")
	}
	mustGit(t, dir, "checkout", "--quiet", "-b", "side")
	mustGit(t, dir, "commit", "--quiet", "--allow-empty", "-m", "side")
	mustGit(t, dir, "checkout", "--quiet", "main")
	return dir
}

// tokenEnv passes token to git the way the org scan does: an
// http.extraHeader from the environment, never in the URL or argv.
func tokenEnv(token string) []string {
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	return []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic " + basic}
}

func TestGitServerClone(t *testing.T) {
	s := New(t)
	g := NewGitServer(t, t.TempDir(), s)
	work := workRepo(t, 3)
	g.AddBare("acme", "app", work)
	g.InitBare("acme", "empty")
	s.AddOrgRepo("acme", OrgRepo{Name: "app", SizeKB: 3})
	s.AddOrgRepo("acme", OrgRepo{Name: "empty"})

	repos, _, err := s.Client().Repositories.ListByOrg(context.Background(), "acme", &github.RepositoryListByOrgOptions{Sort: "full_name"})
	if err != nil || len(repos) != 2 || repos[0].GetCloneURL() != g.URL()+"/acme/app.git" {
		t.Fatalf("listing: %v %v", err, repos)
	}
	dst := filepath.Join(t.TempDir(), "m.git")
	if out, err := runGit(t, "", tokenEnv(s.Token()), "clone", "--quiet", "--mirror", repos[0].GetCloneURL(), dst); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if got, want := mustGit(t, dst, "rev-parse", "refs/heads/side"), mustGit(t, work, "rev-parse", "side"); got != want {
		t.Fatalf("side = %s, want %s", got, want)
	}
	n, bytes := g.Fetches("acme/app")
	if n == 0 || bytes < 100 {
		t.Fatalf("fetch: %d requests, %d bytes", n, bytes)
	}
	t.Logf("clone: %d fetch requests, %d bytes", n, bytes)

	// Nothing new: a fetch reads the refs and negotiates no pack.
	g.ClearRequests()
	if out, err := runGit(t, dst, tokenEnv(s.Token()), "fetch", "--quiet", "--prune", "origin"); err != nil {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	reqs := g.Requests()
	if n, _ := g.Fetches("acme/app"); n != 0 || len(reqs) == 0 || reqs[0].Path != "/info/refs" || reqs[0].Service != "git-upload-pack" {
		t.Fatalf("up-to-date fetch: %+v", reqs)
	}

	// A push to one repository: only that one is fetched.
	mustGit(t, work, "commit", "--quiet", "--allow-empty", "-m", "new")
	g.Push("acme", "app", work)
	g.ClearRequests()
	if out, err := runGit(t, dst, tokenEnv(s.Token()), "fetch", "--quiet", "origin"); err != nil {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	if got := g.FetchedRepos(); len(got) != 1 || got[0] != "acme/app" {
		t.Fatalf("fetched %v", got)
	}

	// An empty repository clones (with a warning) and transfers no pack.
	if out, err := runGit(t, "", tokenEnv(s.Token()), "clone", "--quiet", "--mirror", g.RepoURL("acme", "empty"), filepath.Join(t.TempDir(), "e.git")); err != nil {
		t.Fatalf("clone empty: %v\n%s", err, out)
	}
	if n, _ := g.Fetches("acme/empty"); n != 0 {
		t.Fatalf("empty repo: %d fetches", n)
	}

	// Protocol v0 negotiations count as fetches too.
	g.ClearRequests()
	v0 := append(tokenEnv(s.Token()), "GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_1=protocol.version", "GIT_CONFIG_VALUE_1=0")
	if out, err := runGit(t, "", v0, "clone", "--quiet", "--bare", g.RepoURL("acme", "app"), filepath.Join(t.TempDir(), "v0.git")); err != nil {
		t.Fatalf("clone v0: %v\n%s", err, out)
	}
	if n, bytes := g.Fetches("acme/app"); n != 1 || bytes < 100 {
		t.Fatalf("v0 clone: %d fetches, %d bytes", n, bytes)
	}

	// A push is refused.
	mustGit(t, work, "commit", "--quiet", "--allow-empty", "-m", "push")
	if out, err := runGit(t, work, tokenEnv(s.Token()), "push", g.RepoURL("acme", "app"), "main"); err == nil {
		t.Fatalf("push over HTTP worked:\n%s", out)
	}
	// The dumb protocol is not served.
	req, _ := http.NewRequest("GET", g.URL()+"/acme/app.git/HEAD", nil)
	req.SetBasicAuth("x-access-token", s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("dumb GET HEAD: %d", resp.StatusCode)
	}

	// Without .git, as GitHub allows.
	if out, err := runGit(t, "", tokenEnv(s.Token()), "ls-remote", g.URL()+"/acme/app"); err != nil || !strings.Contains(out, "refs/heads/side") {
		t.Fatalf("ls-remote without .git: %v\n%s", err, out)
	}
}

func TestGitServerRequiresToken(t *testing.T) {
	s := New(t)
	g := NewGitServer(t, t.TempDir(), s)
	g.AddBare("acme", "app", workRepo(t, 1))
	url := g.RepoURL("acme", "app")
	for name, env := range map[string][]string{"none": nil, "wrong": tokenEnv("githubtest_wrong")} {
		out, err := runGit(t, "", env, "ls-remote", url)
		if err == nil {
			t.Errorf("%s token: ls-remote worked:\n%s", name, out)
		}
	}
	reqs := g.Requests()
	if len(reqs) == 0 {
		t.Fatal("no requests recorded")
	}
	for _, r := range reqs {
		if r.Status != 401 {
			t.Errorf("request %+v: want 401", r)
		}
	}
	if out, err := runGit(t, "", tokenEnv(s.Token()), "ls-remote", g.RepoURL("acme", "missing")); err == nil {
		t.Errorf("missing repo listed:\n%s", out)
	}
	if last := g.Requests()[len(g.Requests())-1]; last.Status != 404 {
		t.Errorf("missing repo: %+v", last)
	}
}

func TestGitServerFollowsRenameAndInstallationTokens(t *testing.T) {
	s := New(t)
	g := NewGitServer(t, t.TempDir(), s)
	g.AddBare("acme", "old", workRepo(t, 1))
	s.AddOrgRepo("acme", OrgRepo{Name: "old"})
	s.RenameRepo("acme", "old", "new")
	s.TransferRepo("acme", "new", "other")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterApp(7, &key.PublicKey)
	inst := s.AddInstallation("other")
	token := installationToken(t, s, key, 7, inst)
	if out, err := runGit(t, "", tokenEnv(token), "ls-remote", g.RepoURL("other", "new")); err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("ls-remote with an installation token: %v\n%s", err, out)
	}
	s.AddOrgRepo("acme", OrgRepo{Name: "gone"})
	g.InitBare("acme", "gone")
	s.DeleteRepo("acme", "gone")
	if _, err := os.Stat(g.Path("acme", "gone")); !os.IsNotExist(err) {
		t.Fatalf("deleted repo still on disk: %v", err)
	}

	s.Advance(time.Hour)
	if out, err := runGit(t, "", tokenEnv(token), "ls-remote", g.RepoURL("other", "new")); err == nil {
		t.Fatalf("expired installation token accepted:\n%s", out)
	}
}

func TestUploadPackCommand(t *testing.T) {
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	_, _ = zw.Write([]byte("0032want 0123456789012345678901234567890123456789\n0000"))
	_ = zw.Close()
	for _, c := range []struct {
		body, enc, want string
	}{
		{"0014command=ls-refs\n0000", "", "ls-refs"},
		{"0011command=fetch0014agent=git/2.39.50000", "", "fetch"},
		{"0032want 0123456789012345678901234567890123456789\n0000", "", "fetch"},
		{zbuf.String(), "gzip", "fetch"},
		{"0000", "", ""},
		{"zz", "", ""},
		{"ffffcommand=fetch", "", ""},
	} {
		if got := uploadPackCommand([]byte(c.body), c.enc); got != c.want {
			t.Errorf("uploadPackCommand(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestGitServerCorrupt(t *testing.T) {
	s := New(t)
	g := NewGitServer(t, t.TempDir(), s)
	g.AddBare("acme", "broken", workRepo(t, 2))
	g.Corrupt("acme", "broken")
	out, err := runGit(t, "", tokenEnv(s.Token()), "ls-remote", g.RepoURL("acme", "broken"))
	if err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("refs of a broken repo are still advertised: %v\n%s", err, out)
	}
	if out, err := runGit(t, "", tokenEnv(s.Token()), "clone", "--quiet", "--mirror", g.RepoURL("acme", "broken"), filepath.Join(t.TempDir(), "b.git")); err == nil {
		t.Fatalf("clone of a broken repo worked:\n%s", out)
	}
}
