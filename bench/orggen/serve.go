package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Server serves a generated organisation for the benchmark: the GitHub
// API's organisation listing under /api/v3 (as GitHub Enterprise does, so
// --github-api-url BASE/api/v3), the repositories with the real git
// http-backend behind net/http/cgi, both requiring the token, and /_stats
// with what git served.
type Server struct {
	dir, token string
	m          Manifest
	backend    string
	fetches    atomic.Int64 // upload-pack POSTs (ls-refs and fetch negotiations)
	packBytes  atomic.Int64 // bytes of those responses
	listings   atomic.Int64 // API listing pages served
}

// NewServer reads dir/manifest.json.
func NewServer(dir, token string) (*Server, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	s := &Server{dir: dir, token: token}
	if err := json.Unmarshal(b, &s.m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("find git's exec path: %w", err)
	}
	s.backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	return s, nil
}

func (s *Server) authorized(r *http.Request) bool {
	tok := ""
	if _, pw, ok := r.BasicAuth(); ok {
		tok = pw
	} else if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") || strings.HasPrefix(a, "token ") {
		_, tok, _ = strings.Cut(a, " ")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{
			"upload_pack_posts": s.fetches.Load(), "upload_pack_bytes": s.packBytes.Load(), "listings": s.listings.Load(),
		})
	case strings.HasPrefix(r.URL.Path, "/api/v3/"):
		if !s.authorized(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
			return
		}
		s.api(w, r, strings.TrimPrefix(r.URL.Path, "/api/v3"))
	default:
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.git(w, r)
	}
}

// api serves GET /orgs/ORG/repos with GitHub's page/per_page and Link.
func (s *Server) api(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) != 3 || parts[0] != "orgs" || parts[2] != "repos" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	if !strings.EqualFold(parts[1], s.m.Org) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	s.listings.Add(1)
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	from := min((page-1)*per, len(s.m.Repos))
	to := min(from+per, len(s.m.Repos))
	base := "http://" + r.Host
	var out []map[string]any
	for _, mr := range s.m.Repos[from:to] {
		size := 0
		if !mr.Empty {
			size = 1 + mr.Commits*2
		}
		out = append(out, map[string]any{
			"id": mr.ID, "node_id": fmt.Sprintf("R_%d", mr.ID), "name": mr.Name, "full_name": mr.FullName,
			"owner":   map[string]any{"login": s.m.Org, "type": "Organization"},
			"private": mr.Private, "fork": mr.Fork, "archived": mr.Archived, "disabled": false,
			"html_url":       "https://github.com/" + mr.FullName,
			"clone_url":      base + "/" + mr.Path,
			"default_branch": mr.DefaultBranch,
			"pushed_at":      mr.PushedAt.UTC().Format(time.RFC3339),
			"size":           size,
		})
	}
	if to < len(s.m.Repos) {
		next := *r.URL
		next.Scheme, next.Host = "http", r.Host
		nq := next.Query()
		nq.Set("page", strconv.Itoa(page+1))
		nq.Set("per_page", strconv.Itoa(per))
		next.RawQuery = nq.Encode()
		last := next
		lq := last.Query()
		lq.Set("page", strconv.Itoa((len(s.m.Repos)+per-1)/per))
		last.RawQuery = lq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, next.String(), last.String()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	if out == nil {
		out = []map[string]any{}
	}
	_ = json.NewEncoder(w).Encode(out)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// git serves the smart HTTP protocol with git http-backend.
func (s *Server) git(w http.ResponseWriter, r *http.Request) {
	h := &cgi.Handler{
		Path: s.backend,
		Dir:  s.dir,
		Env:  []string{"GIT_PROJECT_ROOT=" + s.dir, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=bench"},
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
		s.fetches.Add(1)
		w = countingWriter{w, &s.packBytes}
	}
	h.ServeHTTP(w, r)
}

// serve listens on addr, writes the base URL to urlFile (if set) and
// serves until ctx is done.
func serve(ctx context.Context, dir, addr, urlFile, token string) error {
	if token == "" {
		return fmt.Errorf("serve %s: no token: set GITHUB_TOKEN (the fake GitHub requires one)", dir)
	}
	s, err := NewServer(dir, token)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	base := (&url.URL{Scheme: "http", Host: ln.Addr().String()}).String()
	if urlFile != "" {
		if err := os.WriteFile(urlFile, []byte(base+"\n"), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", urlFile, err)
		}
	}
	fmt.Fprintf(os.Stderr, "orggen: serving %s (%d repositories) at %s (API: %s/api/v3)\n", dir, len(s.m.Repos), base, base)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return fmt.Errorf("serve %s: %w", dir, err)
	}
	return nil
}
