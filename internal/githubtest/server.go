// Package githubtest is a fake of the parts of the GitHub REST API that
// leakstop uses, served by net/http/httptest, for tests only.
//
// It covers Actions secrets (repository and organisation, with a real NaCl
// key pair per repository and organisation so that tests can decrypt what
// was written), issues and issue comments, pull request reviews and review
// comments, an organisation's repository listing with GitHub's pagination
// (repos.go), GitHub App installation tokens (app.go), a real git smart
// HTTP server for clone_url (gitserver.go), and rate-limit fault
// injection. It validates requests the way GitHub does where that matters
// to a client (422 for missing fields, a stale key_id or an
// encrypted_value that does not open; 401 without an Authorization
// header, or with an expired installation token) and records every
// request.
//
// Repositories and organisations exist implicitly: the first request that
// names one creates it. Pull requests must be registered with
// AddPullRequest. Paths are served both at the root and under /api/v3, so
// a client may be pointed at URL() with WithEnterpriseURLs or by setting
// BaseURL.
package githubtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// docsURL is the documentation_url GitHub puts in error bodies.
const docsURL = "https://docs.github.com/rest"

// Server is a running fake GitHub API. All methods are safe for concurrent
// use.
type Server struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	nextID    int64
	repos     map[string]*repoState // key: lower-case "owner/repo"
	orgs      map[string]*orgState  // key: lower-case org
	faults    []*faultState
	requests  []Request
	onRequest []func(Request)
	remaining int

	orgRepos map[string]*orgListing  // repos.go; key: lower-case org
	pageSize int                     // repos.go: ForcePageSize
	apps     map[int64]*appState     // app.go; key: app id
	lastApp  int64                   // app.go: AddInstallation installs it
	installs map[int64]*installation // app.go; key: installation id
	tokens   map[string]time.Time    // app.go: installation token -> expires_at
	offset   time.Duration           // app.go: Advance moves the fake's clock
	git      *GitServer              // gitserver.go: serves clone_url when set
}

// New starts a fake GitHub API and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:         t,
		token:     "githubtest_" + randomHex(t, 10),
		nextID:    1000,
		repos:     map[string]*repoState{},
		orgs:      map[string]*orgState{},
		remaining: 5000,
	}
	s.srv = httptest.NewServer(s.handler())
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's root URL, without a trailing slash.
func (s *Server) URL() string { return s.srv.URL }

// Token is the token that Client sends. The server accepts any non-empty
// token; this one is only a convenience.
func (s *Server) Token() string { return s.token }

// Client returns a go-github client that talks to this server with Token.
func (s *Server) Client() *github.Client {
	s.t.Helper()
	c, err := github.NewClient(s.srv.Client()).WithAuthToken(s.token).
		WithEnterpriseURLs(s.srv.URL+"/", s.srv.URL+"/")
	if err != nil {
		s.t.Fatalf("githubtest: point client at fake: %v", err)
	}
	return c
}

// OnRequest registers fn to be called with every request after it has been
// recorded and before it is handled, outside the server's lock: fn may call
// the Server's methods (for example RotateRepoKey to simulate a race).
func (s *Server) OnRequest(fn func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = append(s.onRequest, fn)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	s.routeSecrets(mux)
	s.routeIssues(mux)
	s.routePulls(mux)
	s.routeOrgRepos(mux)
	s.routeApps(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/api/v3"); ok && strings.HasPrefix(p, "/") {
			r.URL.Path = p
			r.URL.RawPath = ""
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		idx, hooks := s.record(r, body)
		if len(hooks) > 0 {
			rec := s.Requests()[idx]
			for _, fn := range hooks {
				fn(rec)
			}
		}
		defer func() { s.setStatus(idx, rw.status) }()

		s.rateHeaders(rw)
		if !authorized(r) {
			writeError(rw, http.StatusUnauthorized, "Requires authentication")
			return
		}
		if msg, ok := s.tokenUsable(r); !ok {
			writeError(rw, http.StatusUnauthorized, msg)
			return
		}
		if s.injectFault(rw, r) {
			return
		}
		mux.ServeHTTP(rw, r)
	})
}

// authorized reports whether r carries "Authorization: Bearer X" or
// "Authorization: token X" with a non-empty X.
func authorized(r *http.Request) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || strings.TrimSpace(cred) == "" {
		return false
	}
	return strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")
}

// rateHeaders sets the headers GitHub puts on every response.
func (s *Server) rateHeaders(w http.ResponseWriter) {
	s.mu.Lock()
	if s.remaining > 1 {
		s.remaining--
	}
	remaining := s.remaining
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// newID returns a fresh database id. Callers hold s.mu.
func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

// fieldError is one entry of the errors array of a 422 body.
type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": docsURL})
}

// writeValidation writes a 422 with GitHub's "Validation Failed" shape.
// errs may hold fieldError values or plain strings, as GitHub's do.
func writeValidation(w http.ResponseWriter, msg string, errs ...any) {
	if msg == "" {
		msg = "Validation Failed"
	}
	body := map[string]any{"message": msg, "documentation_url": docsURL}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusUnprocessableEntity, body)
}

// decodeBody decodes a JSON request body into v, answering 400 like GitHub
// ("Problems parsing JSON") when it is not JSON.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("githubtest: read random: %v", err)
	}
	return hex.EncodeToString(b)
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) htmlURL(format string, args ...any) string {
	return s.srv.URL + fmt.Sprintf(format, args...)
}

func (s *Server) apiURL(format string, args ...any) string {
	return s.srv.URL + "/api/v3" + fmt.Sprintf(format, args...)
}

func user() map[string]any {
	return map[string]any{"login": "githubtest-bot", "id": 1, "type": "Bot"}
}
