package githubtest

import (
	"net/http"
	"path"
	"slices"
)

// Request is one request the server received, as recorded before handling.
type Request struct {
	Method   string
	Path     string // without any /api/v3 prefix
	RawQuery string
	Header   http.Header
	Body     []byte
	Status   int // the status the server answered with; 0 while in flight
}

// record appends r and returns its index and the hooks to run.
func (s *Server) record(r *http.Request, body []byte) (int, []func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	})
	return len(s.requests) - 1, slices.Clone(s.onRequest)
}

func (s *Server) setStatus(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].Status = status
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// CountRequests counts the recorded requests with the given method ("" for
// any) whose path matches pattern (path.Match syntax, "" for any).
func (s *Server) CountRequests(method, pattern string) int {
	n := 0
	for _, r := range s.Requests() {
		if matches(method, pattern, r.Method, r.Path) {
			n++
		}
	}
	return n
}

func matches(method, pattern, gotMethod, gotPath string) bool {
	if method != "" && method != gotMethod {
		return false
	}
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, gotPath)
	return err == nil && ok
}
