package githubtest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GitServer serves the bare repositories under a root directory over
// git's smart HTTP protocol with the real `git http-backend`, behind
// net/http/cgi, as GitHub serves clone_url. Every request needs HTTP
// Basic authentication whose password is a token the API Server accepts
// (its Token(), or an installation token that has not expired); the user
// name is not checked (GitHub's convention is x-access-token). Without
// one the answer is 401 with WWW-Authenticate, as GitHub's.
//
// Only the smart protocol's reads are served: GET info/refs?service= and
// POST git-upload-pack; a push (git-receive-pack) is refused with 403,
// as for a read-only token: nothing leakstop does may write to GitHub.
//
// Repository org/name lives at root/org/name.git; the URL path is
// /org/name.git (the .git suffix may be left out, as on GitHub). Every
// request is recorded, with the bytes of its response, so that a test
// can tell what was fetched from where.
type GitServer struct {
	t       testing.TB
	root    string
	api     *Server
	srv     *httptest.Server
	backend string
	home    string

	mu     sync.Mutex
	reqs   []GitRequest
	delays map[string]time.Duration // by "org/name": SetDelay
}

// GitRequest is one request the git server answered.
type GitRequest struct {
	Method  string
	Repo    string // "org/name", without .git
	Service string // "git-upload-pack" or "git-receive-pack"; "" for others
	Path    string // the URL path after the repository, e.g. "/info/refs"
	// Command is what a POST asked upload-pack for: with protocol v2
	// "ls-refs" (the ref tips) or "fetch" (a pack negotiation); a
	// protocol v0 negotiation is "fetch" too.
	Command string
	Status  int
	Bytes   int64 // response body bytes
}

// IsFetch reports whether r is a pack negotiation: what a fetch that
// transfers objects must send. Reading the ref tips (GET info/refs, or
// the protocol v2 ls-refs command) is not one.
func (r GitRequest) IsFetch() bool {
	return r.Method == http.MethodPost && r.Service == "git-upload-pack" && r.Command == "fetch"
}

// NewGitServer serves the bare repositories under root, accepting the
// tokens api accepts, and attaches itself to api: from now on the
// listing's clone_url points here. It stops when the test ends.
func NewGitServer(t testing.TB, root string, api *Server) *GitServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("githubtest: find git: %v", err)
	}
	g := &GitServer{t: t, root: root, api: api, home: t.TempDir(),
		backend: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")}
	if _, err := os.Stat(g.backend); err != nil {
		t.Fatalf("githubtest: git http-backend: %v", err)
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	api.mu.Lock()
	api.git = g
	api.mu.Unlock()
	return g
}

// SetDelay makes every POST to repo ("org/name") wait d before it is
// answered, so that a test can act while a client is in the middle of
// fetching it.
func (g *GitServer) SetDelay(repo string, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.delays == nil {
		g.delays = map[string]time.Duration{}
	}
	g.delays[strings.ToLower(repo)] = d
}

// URL is the server's root URL, without a trailing slash.
func (g *GitServer) URL() string { return g.srv.URL }

// RepoURL is the clone URL of org/name.
func (g *GitServer) RepoURL(org, name string) string {
	return g.srv.URL + "/" + org + "/" + name + ".git"
}

// Path is the directory of org/name's bare repository.
func (g *GitServer) Path(org, name string) string {
	return filepath.Join(g.root, org, name+".git")
}

// InitBare creates an empty bare repository org/name and returns its path.
func (g *GitServer) InitBare(org, name string) string {
	g.t.Helper()
	dir := g.Path(org, name)
	g.git("", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	return dir
}

// AddBare creates the bare repository org/name as a copy of every branch
// and tag of the repository work, and returns its path.
func (g *GitServer) AddBare(org, name, work string) string {
	g.t.Helper()
	dir := g.Path(org, name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		g.t.Fatalf("githubtest: add bare repo: %v", err)
	}
	g.git("", "clone", "--quiet", "--bare", "--no-local", work, dir)
	return dir
}

// Push makes org/name's branches and tags those of work, force-pushing
// and deleting what work no longer has, as a force push of every branch
// would.
func (g *GitServer) Push(org, name, work string) {
	g.t.Helper()
	g.git(work, "push", "--quiet", "--force", "--prune", g.Path(org, name),
		"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
}

// Corrupt deletes every object of org/name but keeps its refs: the
// server still advertises the refs, and a fetch of them fails (a broken
// repository).
func (g *GitServer) Corrupt(org, name string) {
	g.t.Helper()
	objects := filepath.Join(g.Path(org, name), "objects")
	entries, err := os.ReadDir(objects)
	if err != nil {
		g.t.Fatalf("githubtest: corrupt repo: %v", err)
	}
	for _, e := range entries {
		if e.Name() == "info" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(objects, e.Name())); err != nil {
			g.t.Fatalf("githubtest: corrupt repo: %v", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(objects, "pack"), 0o755); err != nil {
		g.t.Fatalf("githubtest: corrupt repo: %v", err)
	}
}

func (g *GitServer) git(dir string, args ...string) {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("githubtest: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// move renames the bare repository of a renamed or transferred
// repository; g may be nil. Callers hold the API server's lock.
func (g *GitServer) move(org, name, toOrg, toName string) {
	if g == nil {
		return
	}
	from, to := g.Path(org, name), g.Path(toOrg, toName)
	if _, err := os.Stat(from); err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		g.t.Fatalf("githubtest: move repo: %v", err)
	}
	if err := os.Rename(from, to); err != nil {
		g.t.Fatalf("githubtest: move repo: %v", err)
	}
}

// remove deletes a deleted repository's bare copy; g may be nil.
func (g *GitServer) remove(org, name string) {
	if g == nil {
		return
	}
	if err := os.RemoveAll(g.Path(org, name)); err != nil {
		g.t.Fatalf("githubtest: delete repo: %v", err)
	}
}

// Requests returns every request answered so far, in order.
func (g *GitServer) Requests() []GitRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GitRequest(nil), g.reqs...)
}

// ClearRequests forgets the requests answered so far.
func (g *GitServer) ClearRequests() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = nil
}

// Fetches counts the pack negotiations (see IsFetch) for repo
// ("org/name") and the bytes they answered with.
func (g *GitServer) Fetches(repo string) (requests int, bytes int64) {
	for _, r := range g.Requests() {
		if r.IsFetch() && strings.EqualFold(r.Repo, repo) {
			requests++
			bytes += r.Bytes
		}
	}
	return requests, bytes
}

// FetchedRepos lists, in order of first fetch, the repositories that had
// at least one pack negotiation.
func (g *GitServer) FetchedRepos() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range g.Requests() {
		if r.IsFetch() && !seen[r.Repo] {
			seen[r.Repo] = true
			out = append(out, r.Repo)
		}
	}
	return out
}

// splitGitPath splits "/org/name.git/info/refs" into "org/name" and
// "/info/refs".
func splitGitPath(p string) (repo, rest string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || path.Clean(p) != p {
		return "", "", false
	}
	return parts[0] + "/" + strings.TrimSuffix(parts[1], ".git"), "/" + parts[2], true
}

func (g *GitServer) serve(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	repo, rest, ok := splitGitPath(r.URL.Path)
	rec := GitRequest{Method: r.Method, Repo: repo, Path: rest}
	switch {
	case rest == "/info/refs":
		rec.Service = r.URL.Query().Get("service")
	case rest == "/git-upload-pack" || rest == "/git-receive-pack":
		rec.Service = path.Base(rest)
	}
	defer func() {
		rec.Status, rec.Bytes = cw.status, cw.n
		g.mu.Lock()
		g.reqs = append(g.reqs, rec)
		g.mu.Unlock()
	}()

	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || !g.api.acceptsToken(pass) {
		cw.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(cw, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	smart := (r.Method == http.MethodGet && rest == "/info/refs" && rec.Service != "") ||
		(r.Method == http.MethodPost && rec.Service != "")
	if !ok || !smart {
		// GitHub serves only the smart protocol.
		http.Error(cw, "Repository not found.", http.StatusNotFound)
		return
	}
	g.mu.Lock()
	delay := g.delays[strings.ToLower(repo)]
	g.mu.Unlock()
	if delay > 0 && r.Method == http.MethodPost {
		// A slow transfer: the client is in the middle of fetching.
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	if rec.Service == "git-receive-pack" {
		// Tokens here read; pushes go through Push, on disk.
		http.Error(cw, "Permission to "+repo+".git denied.", http.StatusForbidden)
		return
	}
	org, name, _ := strings.Cut(repo, "/")
	if st, err := os.Stat(g.Path(org, name)); err != nil || !st.IsDir() {
		http.Error(cw, "Repository not found.", http.StatusNotFound)
		return
	}
	// Read the body: http-backend needs CONTENT_LENGTH (a chunked body
	// has none), and the command is recorded.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(cw, "read body", http.StatusBadRequest)
		return
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	if r.Method == http.MethodPost {
		rec.Command = uploadPackCommand(body, r.Header.Get("Content-Encoding"))
	}
	r.URL.Path = "/" + org + "/" + name + ".git" + rest
	h := &cgi.Handler{
		Path: g.backend,
		Dir:  g.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + g.home,
			"REMOTE_USER=" + user,
		},
		Stderr: io.Discard,
	}
	h.ServeHTTP(cw, r)
}

// uploadPackCommand reads the command of an upload-pack request body:
// protocol v2 starts with the pkt-line "command=NAME"; a v0 request is a
// negotiation ("want ...").
func uploadPackCommand(body []byte, encoding string) string {
	if encoding == "gzip" || encoding == "x-gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return ""
		}
		// The command is in the first pkt-line.
		body, _ = io.ReadAll(io.LimitReader(zr, 4096))
	}
	if len(body) < 4 {
		return ""
	}
	n, err := strconv.ParseUint(string(body[:4]), 16, 16)
	if err != nil || n < 4 || int(n) > len(body) {
		return ""
	}
	line := strings.TrimSuffix(string(body[4:n]), "\n")
	if cmd, ok := strings.CutPrefix(line, "command="); ok {
		return cmd
	}
	if strings.HasPrefix(line, "want ") {
		return "fetch"
	}
	return ""
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
