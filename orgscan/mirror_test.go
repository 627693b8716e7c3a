package orgscan

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sourcegraph/conc/pool"
)

// testGitServer serves the bare repositories under root with a real
// `git http-backend` behind net/http/cgi, requiring the token (when set)
// as GitHub does: HTTP Basic with user x-access-token.
type testGitServer struct {
	root, token string
	srv         *httptest.Server
	// gate, when set, is called for each info/refs request before it is
	// served (the concurrency test blocks there).
	gate func()
	// env is added to git http-backend's environment.
	env []string
}

func newTestGitServer(t *testing.T, token string) *testGitServer {
	t.Helper()
	execPath := strings.TrimSpace(gitT(t, "", "--exec-path"))
	s := &testGitServer{root: t.TempDir(), token: token}
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+s.token))
			if r.Header.Get("Authorization") != want {
				w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if s.gate != nil && strings.HasSuffix(r.URL.Path, "/info/refs") {
			s.gate()
		}
		h := *backend
		h.Env = append(append([]string(nil), backend.Env...), s.env...)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// repo creates an empty bare repository NAME.git on the server.
func (s *testGitServer) repo(t *testing.T, id int64, name string) (Repo, string) {
	t.Helper()
	dir := filepath.Join(s.root, name+".git")
	gitT(t, "", "init", "--bare", "--quiet", dir)
	return Repo{ID: id, Owner: "acme", Name: name, FullName: "acme/" + name,
		CloneURL: s.srv.URL + "/" + name + ".git", DefaultBranch: "main"}, dir
}

// gitT runs git with a configuration-free environment and fails t on error.
func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// commit writes files into the work tree work, commits and returns the
// commit id.
func commit(t *testing.T, work string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitT(t, work, "add", "-A")
	gitT(t, work, "commit", "--quiet", "-m", "change")
	return strings.TrimSpace(gitT(t, work, "rev-parse", "HEAD"))
}

func newWork(t *testing.T, upstream string) string {
	t.Helper()
	work := t.TempDir()
	gitT(t, work, "init", "--quiet", "-b", "main")
	gitT(t, work, "remote", "add", "origin", upstream)
	return work
}

// refs lists "id name" of the branches and tags of the repository at dir.
func refs(t *testing.T, dir string) string {
	t.Helper()
	return gitT(t, dir, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags")
}

type fixedToken string

func (f fixedToken) Token(context.Context) (string, error) { return string(f), nil }

func randomToken(t *testing.T) string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ghs_" + hex.EncodeToString(b)
}

// newPackObjects is the number of objects in each pack of the mirror at
// dir not listed in before.
func newPackObjects(t *testing.T, dir string, before map[string]int64) []int {
	t.Helper()
	var counts []int
	for p := range packSizes(dir) {
		if _, ok := before[p]; ok {
			continue
		}
		idx, err := os.Open(filepath.Join(dir, "objects", "pack", strings.TrimSuffix(p, ".pack")+".idx"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("git", "show-index")
		cmd.Stdin = idx
		out, err := cmd.Output()
		idx.Close()
		if err != nil {
			t.Fatalf("git show-index: %v", err)
		}
		counts = append(counts, strings.Count(string(out), "\n"))
	}
	sort.Ints(counts)
	return counts
}

func TestMirrorCloneFetchForcePushAndDelete(t *testing.T) {
	token := randomToken(t)
	srv := newTestGitServer(t, token)
	r, upstream := srv.repo(t, 1001, "app")
	work := newWork(t, upstream)
	commit(t, work, map[string]string{"a.txt": "one\n"})
	second := commit(t, work, map[string]string{"b.txt": "two\n"})
	gitT(t, work, "tag", "v1")
	gitT(t, work, "branch", "feature")
	gitT(t, work, "branch", "old")
	gitT(t, work, "push", "--quiet", "origin", "main", "feature", "old", "v1")
	// A pull request ref, as GitHub advertises: not mirrored.
	gitT(t, upstream, "update-ref", "refs/pull/1/head", second)

	m := &Mirror{Root: t.TempDir(), Tokens: fixedToken(token)}
	s, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Fetched || s.Empty || s.Received <= 0 {
		t.Fatalf("first sync = %+v, want fetched, not empty, bytes received", s)
	}
	if got, want := refs(t, s.Path), refs(t, upstream); got != want {
		t.Fatalf("mirror refs:\n%s\nwant:\n%s", got, want)
	}
	if out := gitT(t, s.Path, "for-each-ref", "refs/pull"); out != "" {
		t.Errorf("pull request refs mirrored: %s", out)
	}
	if head := strings.TrimSpace(gitT(t, s.Path, "symbolic-ref", "HEAD")); head != "refs/heads/main" {
		t.Errorf("HEAD = %s, want refs/heads/main", head)
	}
	if want := filepath.Join(m.Root, strings.TrimPrefix(srv.srv.URL, "http://"), "1001.git"); s.Path != strings.Replace(want, ":", "_", 1) {
		t.Errorf("path = %s, want %s", s.Path, want)
	}

	// Nothing new: no pack, nothing changed.
	s2, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Fetched || s2.Received != 0 {
		t.Fatalf("sync of an unchanged repository = %+v", s2)
	}

	// A push: only its new objects (commit, tree, blob) are received.
	before := packSizes(s.Path)
	commit(t, work, map[string]string{"c.txt": "three\n"})
	gitT(t, work, "push", "--quiet", "origin", "main")
	s3, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !s3.Fetched || s3.Received <= 0 || s3.Received >= s.Received {
		t.Fatalf("sync after a push = %+v (first sync received %d)", s3, s.Received)
	}
	if got := newPackObjects(t, s.Path, before); len(got) != 1 || got[0] != 3 {
		t.Fatalf("objects in new packs = %v, want one pack of 3", got)
	}

	// Force push feature back, delete old and the tag: mirrored.
	gitT(t, upstream, "update-ref", "refs/heads/feature", strings.TrimSpace(gitT(t, work, "rev-parse", "HEAD~2")))
	gitT(t, upstream, "update-ref", "-d", "refs/heads/old")
	gitT(t, upstream, "update-ref", "-d", "refs/tags/v1")
	s4, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, want := refs(t, s.Path), refs(t, upstream)
	if !s4.Fetched || got != want {
		t.Fatalf("after force push and deletions: %+v, refs:\n%s\nwant:\n%s", s4, got, want)
	}
	if strings.Contains(got, "refs/heads/old") || strings.Contains(got, "refs/tags/v1") {
		t.Fatalf("deleted refs still mirrored:\n%s", got)
	}
}

func TestMirrorEmptyRepository(t *testing.T) {
	srv := newTestGitServer(t, "")
	r, _ := srv.repo(t, 7, "empty")
	m := &Mirror{Root: t.TempDir()}
	s, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatalf("empty repository: %v", err)
	}
	if !s.Empty || s.Fetched || s.Received != 0 {
		t.Fatalf("sync of an empty repository = %+v", s)
	}

	// It gets a branch, then loses it: the mirror follows.
	r2, upstream := srv.repo(t, 77, "emptied")
	work := newWork(t, upstream)
	commit(t, work, map[string]string{"a": "x"})
	gitT(t, work, "push", "--quiet", "origin", "main")
	if s, err := m.Sync(context.Background(), r2); err != nil || s.Empty {
		t.Fatalf("sync with one branch = %+v, %v", s, err)
	}
	gitT(t, upstream, "update-ref", "-d", "refs/heads/main")
	s, err = m.Sync(context.Background(), r2)
	if err != nil || !s.Empty || !s.Fetched {
		t.Fatalf("sync after the last branch was deleted = %+v, %v", s, err)
	}
	if out := refs(t, s.Path); out != "" {
		t.Fatalf("deleted branch still mirrored: %s", out)
	}
}

func TestMirrorMissingObjectsFail(t *testing.T) {
	t.Run("server cannot read an object", func(t *testing.T) {
		srv := newTestGitServer(t, "")
		r, upstream := srv.repo(t, 8, "broken")
		work := newWork(t, upstream)
		commit(t, work, map[string]string{"a.txt": "base\n"})
		commit(t, work, map[string]string{"b.txt": "a blob the server will lose\n"})
		gitT(t, work, "push", "--quiet", "origin", "main")
		// Push unpacks a few objects as loose files: remove the blob's, so
		// the server advertises main but cannot send what it needs.
		blob := strings.TrimSpace(gitT(t, work, "rev-parse", "HEAD:b.txt"))
		if err := os.Remove(filepath.Join(upstream, "objects", blob[:2], blob[2:])); err != nil {
			t.Fatalf("remove blob from the server: %v", err)
		}
		expectFetchFailure(t, r, "")
	})
	t.Run("server sends a pack without the trees", func(t *testing.T) {
		// The server's pack-objects is replaced (uploadpack.packObjectsHook,
		// honoured from command-scope configuration) by one packing only
		// the advertised commits: the pack is well formed, the refs are
		// advertised, the objects they need are missing. Only git's
		// connectivity check on the fetching side can notice.
		srv := newTestGitServer(t, "")
		hook := filepath.Join(t.TempDir(), "commits-only")
		script := "#!/bin/sh\ncat >/dev/null\ngit for-each-ref --format='%(objectname)' | git pack-objects --stdout -q\n"
		if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		srv.env = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=uploadpack.packObjectsHook", "GIT_CONFIG_VALUE_0=" + hook}
		r, upstream := srv.repo(t, 8, "incomplete")
		work := newWork(t, upstream)
		commit(t, work, map[string]string{"a.txt": "base\n"})
		gitT(t, work, "push", "--quiet", "origin", "main")
		expectFetchFailure(t, r, "did not send all necessary objects")
	})
}

// expectFetchFailure syncs r and wants a *FetchError whose reason holds
// want, and no refs left in the mirror.
func expectFetchFailure(t *testing.T, r Repo, want string) {
	t.Helper()
	m := &Mirror{Root: t.TempDir()}
	_, err := m.Sync(context.Background(), r)
	var fe *FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("sync of a repository missing objects = %v, want a *FetchError", err)
	}
	if fe.Repo.ID != r.ID || !strings.Contains(fe.Reason, want) || errors.Is(err, ErrInvalidRepo) {
		t.Fatalf("error = %#v, want a reason with %q", fe, want)
	}
	t.Logf("reason: %s", fe.Reason)
	dir, _ := m.Path(r)
	if out := refs(t, dir); out != "" {
		t.Fatalf("a failed fetch left refs:\n%s", out)
	}
}

func TestMirrorTokenOnlyInEnvironment(t *testing.T) {
	token := randomToken(t)
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	srv := newTestGitServer(t, token)
	r, upstream := srv.repo(t, 9, "private")
	work := newWork(t, upstream)
	commit(t, work, map[string]string{"a.txt": "x\n"})
	gitT(t, work, "push", "--quiet", "origin", "main")

	// A wrapper records every argument list git is run with.
	bin := t.TempDir()
	argLog := filepath.Join(bin, "args.log")
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(bin, "git")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + argLog + "'\nexec '" + gitPath + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	// Without the token the server refuses, and git does not prompt.
	anon := &Mirror{Root: t.TempDir(), Git: wrapper}
	if _, err := anon.Sync(context.Background(), r); err == nil {
		t.Fatal("anonymous sync of a repository requiring a token succeeded")
	}
	// A wrong token fails too, and is not in the error.
	wrong := randomToken(t)
	_, err = (&Mirror{Root: t.TempDir(), Git: wrapper, Tokens: fixedToken(wrong)}).Sync(context.Background(), r)
	if err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("sync with a wrong token: %v", err)
	}

	m := &Mirror{Root: t.TempDir(), Git: wrapper, Tokens: fixedToken(token)}
	s, err := m.Sync(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refs(t, s.Path), refs(t, upstream); got != want {
		t.Fatalf("mirror refs:\n%s\nwant:\n%s", got, want)
	}
	args, err := os.ReadFile(argLog)
	if err != nil || !strings.Contains(string(args), "fetch") {
		t.Fatalf("argument log: %v\n%s", err, args)
	}
	// Neither the token nor its Basic encoding on a command line, in the
	// remote URL, or in any file of the cache (config, refs, FETCH_HEAD…).
	for _, needle := range []string{token, basic} {
		if strings.Contains(string(args), needle) {
			t.Fatalf("token on git's command line:\n%s", args)
		}
		if strings.Contains(r.CloneURL, needle) {
			t.Fatal("token in the clone URL")
		}
		err := filepath.WalkDir(m.Root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(b), needle) {
				t.Errorf("token written to %s", p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if cfg := gitT(t, s.Path, "config", "--list", "--local"); strings.Contains(cfg, "extraheader") || strings.Contains(cfg, "url") {
		t.Fatalf("mirror config holds a header or remote:\n%s", cfg)
	}
	if home, _ := os.ReadDir(filepath.Join(m.Root, ".home")); len(home) != 0 {
		t.Fatalf("git wrote into its home directory: %v", home)
	}

	// A relative cache directory works the same (git runs elsewhere).
	t.Chdir(t.TempDir())
	rel := &Mirror{Root: "cache", Tokens: fixedToken(token)}
	rs, err := rel.Sync(context.Background(), r)
	if err != nil || !filepath.IsAbs(rs.Path) {
		t.Fatalf("sync into a relative cache: %+v, %v", rs, err)
	}
	if _, err := os.Stat(filepath.Join("cache", ".home")); err != nil {
		t.Fatalf("home of a relative cache: %v", err)
	}

	// Whatever git prints is scrubbed: a git that echoes its environment.
	leaky := filepath.Join(bin, "leaky-git")
	if err := os.WriteFile(leaky, []byte("#!/bin/sh\nif [ \"$1\" = fetch ]; then env >&2; exit 128; fi\nexec '"+gitPath+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = (&Mirror{Root: t.TempDir(), Git: leaky, Tokens: fixedToken(token)}).Sync(context.Background(), r)
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "Authorization: Basic") {
		t.Fatalf("leaky git: %v", err)
	}
	for _, needle := range []string{token, basic} {
		if strings.Contains(err.Error(), needle) || strings.Contains(fe.Reason, needle) {
			t.Fatalf("token in the error: %v", err)
		}
	}
}

func TestMirrorRejectsHostileRepositories(t *testing.T) {
	good := "https://github.com/acme/app.git"
	cases := []struct {
		name string
		id   int64
		url  string
	}{
		{"zero id", 0, good},
		{"negative id", -5, good},
		{"file URL", 1, "file:///etc"},
		{"local path", 1, "/tmp/repo.git"},
		{"relative path", 1, "../../repo.git"},
		{"ssh URL", 1, "ssh://git@github.com/acme/app.git"},
		{"scp syntax", 1, "git@github.com:acme/app.git"},
		{"ext transport", 1, "ext::sh -c touch% /tmp/pwned"},
		{"fd transport", 1, "fd::3"},
		{"credentials in URL", 1, "https://x-access-token:abc@github.com/acme/app.git"},
		{"user in URL", 1, "https://evil@github.com/acme/app.git"},
		{"query", 1, "https://github.com/acme/app.git?upload-pack=sh"},
		{"fragment", 1, "https://github.com/acme/app.git#x"},
		{"dot-dot host", 1, "https://../acme/app.git"},
		{"dot host", 1, "https://.home/acme/app.git"},
		{"dash host", 1, "https://-oProxyCommand=x/app.git"},
		{"underscore host", 1, "https://git_hub.com/app.git"},
		{"slash-encoded host", 1, "https://a%2f..%2f/app.git"},
		{"space", 1, "https://github.com/acme/app .git"},
		{"newline", 1, "https://github.com/acme/app.git\n"},
		{"backslash", 1, `https://github.com\..\app.git`},
		{"bad port", 1, "https://github.com:99999/app.git"},
		{"empty port", 1, "https://github.com:/app.git"},
		{"no path", 1, "https://github.com"},
		{"no URL", 1, ""},
	}
	root := t.TempDir()
	m := &Mirror{Root: root}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Repo{ID: c.id, FullName: "acme/app", CloneURL: c.url}
			if p, err := m.Path(r); err == nil {
				t.Fatalf("Path accepted %q: %s", c.url, p)
			}
			_, err := m.Sync(context.Background(), r)
			var fe *FetchError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidRepo) || fe.Repo.ID != c.id {
				t.Fatalf("Sync(%q) = %v, want a *FetchError wrapping ErrInvalidRepo", c.url, err)
			}
		})
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("rejected repositories wrote into the cache: %v", entries)
	}
	// A good one maps under Root, by host and id.
	p, err := m.Path(Repo{ID: 42, CloneURL: "https://GitHub.com/acme/app.git"})
	if err != nil || p != filepath.Join(root, "github.com", "42.git") {
		t.Fatalf("Path = %q, %v", p, err)
	}
}

func TestMirrorConcurrencyBound(t *testing.T) {
	srv := newTestGitServer(t, "")
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	srv.gate = func() {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
	}
	var repos []Repo
	for i := range 6 {
		r, upstream := srv.repo(t, int64(100+i), "r"+string(rune('a'+i)))
		work := newWork(t, upstream)
		commit(t, work, map[string]string{"f": "x"})
		gitT(t, work, "push", "--quiet", "origin", "main")
		repos = append(repos, r)
	}
	m := &Mirror{Root: t.TempDir(), MaxConcurrent: 2}
	p := pool.New().WithErrors()
	for _, r := range repos {
		p.Go(func() error {
			_, err := m.Sync(context.Background(), r)
			return err
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for inflight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Give a third fetch every chance to start if the bound were broken.
	time.Sleep(500 * time.Millisecond)
	if n := inflight.Load(); n != 2 {
		t.Errorf("%d fetches in flight with MaxConcurrent 2", n)
	}
	once.Do(func() { close(release) })
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := peak.Load(); n != 2 {
		t.Fatalf("peak of %d fetches in flight, want 2", n)
	}
}

func TestMirrorConsolidatesPacks(t *testing.T) {
	defer func(n int) { maxPacks = n }(maxPacks)
	maxPacks = 2
	srv := newTestGitServer(t, "")
	r, upstream := srv.repo(t, 5, "busy")
	work := newWork(t, upstream)
	m := &Mirror{Root: t.TempDir()}
	for i := range 3 {
		commit(t, work, map[string]string{"f": strings.Repeat("line\n", i+1)})
		gitT(t, work, "push", "--quiet", "origin", "main")
		s, err := m.Sync(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(packSizes(s.Path)); n > maxPacks {
			t.Fatalf("after fetch %d: %d packs, want at most %d", i+1, n, maxPacks)
		}
		if got, want := refs(t, s.Path), refs(t, upstream); got != want {
			t.Fatalf("mirror refs:\n%s\nwant:\n%s", got, want)
		}
		gitT(t, s.Path, "fsck", "--no-progress")
	}
}
