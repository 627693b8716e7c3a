package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type issue struct {
	id        int64
	number    int
	title     string
	body      string
	state     string
	labels    []string
	assignees []string
	comments  []*Comment
	created   time.Time
	updated   time.Time
}

// Issue is a snapshot of an issue held by the server.
type Issue struct {
	Number   int
	Title    string
	Body     string
	State    string // "open" or "closed"
	Labels   []string
	Comments []Comment
}

// Comment is an issue comment held by the server.
type Comment struct {
	ID      int64
	Body    string
	Created time.Time
}

// Issues returns the issues of owner/repo in creation order.
func (s *Server) Issues(owner, repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.repo(owner, repo).issues {
		out = append(out, is.snapshot())
	}
	return out
}

// CreateIssue stores an open issue directly, as if someone had opened it,
// and returns its number.
func (s *Server) CreateIssue(owner, repo, title, body string, labels ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newIssue(s.repo(owner, repo), title, body, labels, nil).number
}

// CloseIssue closes issue number of owner/repo; it reports whether the
// issue exists.
func (s *Server) CloseIssue(owner, repo string, number int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.repo(owner, repo).findIssue(number)
	if is == nil {
		return false
	}
	is.state, is.updated = "closed", time.Now()
	return true
}

func (is *issue) snapshot() Issue {
	out := Issue{Number: is.number, Title: is.title, Body: is.body, State: is.state, Labels: slices.Clone(is.labels)}
	for _, c := range is.comments {
		out.Comments = append(out.Comments, *c)
	}
	return out
}

func (rs *repoState) findIssue(number int) *issue {
	for _, is := range rs.issues {
		if is.number == number {
			return is
		}
	}
	return nil
}

// newIssue creates an issue. Callers hold s.mu.
func (s *Server) newIssue(rs *repoState, title, body string, labels, assignees []string) *issue {
	rs.nextNumber++
	now := time.Now()
	is := &issue{id: s.newID(), number: rs.nextNumber, title: title, body: body, state: "open",
		labels: dedupLabels(labels), assignees: assignees, created: now, updated: now}
	rs.issues = append(rs.issues, is)
	return is
}

func dedupLabels(labels []string) []string {
	var out []string
	for _, l := range labels {
		if l != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, l) }) {
			out = append(out, l)
		}
	}
	return out
}

// issueJSON renders an issue like the REST API. Callers hold s.mu.
func (s *Server) issueJSON(rs *repoState, is *issue) map[string]any {
	labels := make([]map[string]any, 0, len(is.labels))
	for _, l := range is.labels {
		labels = append(labels, map[string]any{"name": l})
	}
	m := map[string]any{
		"id":         is.id,
		"number":     is.number,
		"title":      is.title,
		"body":       is.body,
		"state":      is.state,
		"labels":     labels,
		"comments":   len(is.comments),
		"user":       user(),
		"created_at": timestamp(is.created),
		"updated_at": timestamp(is.updated),
		"url":        s.apiURL("/repos/%s/%s/issues/%d", rs.owner, rs.name, is.number),
		"html_url":   s.htmlURL("/%s/%s/issues/%d", rs.owner, rs.name, is.number),
	}
	return m
}

// commentJSON renders an issue comment. Callers hold s.mu.
func (s *Server) commentJSON(rs *repoState, number int, c *Comment) map[string]any {
	return map[string]any{
		"id":         c.ID,
		"body":       c.Body,
		"user":       user(),
		"created_at": timestamp(c.Created),
		"updated_at": timestamp(c.Created),
		"issue_url":  s.apiURL("/repos/%s/%s/issues/%d", rs.owner, rs.name, number),
		"html_url":   s.htmlURL("/%s/%s/issues/%d#issuecomment-%d", rs.owner, rs.name, number, c.ID),
	}
}

type issueRequest struct {
	Title     *string   `json:"title"`
	Body      *string   `json:"body"`
	State     *string   `json:"state"`
	Labels    *[]string `json:"labels"`
	Assignees *[]string `json:"assignees"`
}

func (s *Server) routeIssues(mux *http.ServeMux) {
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues", func(w http.ResponseWriter, r *http.Request) {
		var req issueRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
			writeValidation(w, "", fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rs := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		var body string
		var labels, assignees []string
		if req.Body != nil {
			body = *req.Body
		}
		if req.Labels != nil {
			labels = *req.Labels
		}
		if req.Assignees != nil {
			assignees = *req.Assignees
		}
		is := s.newIssue(rs, *req.Title, body, labels, assignees)
		w.Header().Set("Location", s.apiURL("/repos/%s/%s/issues/%d", rs.owner, rs.name, is.number))
		writeJSON(w, http.StatusCreated, s.issueJSON(rs, is))
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues", s.listIssues)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", func(w http.ResponseWriter, r *http.Request) {
		s.withIssue(w, r, func(rs *repoState, is *issue) {
			writeJSON(w, http.StatusOK, s.issueJSON(rs, is))
		})
	})
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", func(w http.ResponseWriter, r *http.Request) {
		var req issueRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if req.State != nil && *req.State != "open" && *req.State != "closed" {
			writeValidation(w, "", fieldError{Resource: "Issue", Field: "state", Code: "invalid"})
			return
		}
		if req.Title != nil && strings.TrimSpace(*req.Title) == "" {
			writeValidation(w, "", fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
			return
		}
		s.withIssue(w, r, func(rs *repoState, is *issue) {
			if req.Title != nil {
				is.title = *req.Title
			}
			if req.Body != nil {
				is.body = *req.Body
			}
			if req.State != nil {
				is.state = *req.State
			}
			if req.Labels != nil {
				is.labels = dedupLabels(*req.Labels)
			}
			is.updated = time.Now()
			writeJSON(w, http.StatusOK, s.issueJSON(rs, is))
		})
	})
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Body *string `json:"body"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Body == nil || strings.TrimSpace(*req.Body) == "" {
			writeValidation(w, "", fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
			return
		}
		s.withIssue(w, r, func(rs *repoState, is *issue) {
			c := &Comment{ID: s.newID(), Body: *req.Body, Created: time.Now()}
			is.comments = append(is.comments, c)
			is.updated = c.Created
			writeJSON(w, http.StatusCreated, s.commentJSON(rs, is.number, c))
		})
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", func(w http.ResponseWriter, r *http.Request) {
		s.withIssue(w, r, func(rs *repoState, is *issue) {
			lo, hi, ok := s.paginate(w, r, len(is.comments))
			if !ok {
				return
			}
			list := make([]map[string]any, 0, hi-lo)
			for _, c := range is.comments[lo:hi] {
				list = append(list, s.commentJSON(rs, is.number, c))
			}
			writeJSON(w, http.StatusOK, list)
		})
	})
}

// withIssue runs fn under s.mu with the issue the path names, answering
// 404 when there is none. A pull request's number is an issue too.
func (s *Server) withIssue(w http.ResponseWriter, r *http.Request, fn func(*repoState, *issue)) {
	number, err := strconv.Atoi(r.PathValue("number"))
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(r.PathValue("owner"), r.PathValue("repo"))
	var is *issue
	if err == nil {
		is = rs.findIssue(number)
		if pr := rs.pulls[number]; is == nil && pr != nil {
			is = pr.issue
		}
	}
	if is == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	fn(rs, is)
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		writeValidation(w, "", fieldError{Resource: "Issue", Field: "state", Code: "invalid"})
		return
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		for _, x := range strings.Split(l, ",") {
			if x = strings.TrimSpace(x); x != "" {
				want = append(want, x)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(r.PathValue("owner"), r.PathValue("repo"))
	type entry struct {
		is   *issue
		pull bool
	}
	var all []entry
	for _, is := range rs.issues {
		all = append(all, entry{is: is})
	}
	for _, pr := range rs.pulls {
		all = append(all, entry{is: pr.issue, pull: true})
	}
	var hits []entry
	for _, e := range all {
		if state != "all" && e.is.state != state {
			continue
		}
		if !hasLabels(e.is.labels, want) {
			continue
		}
		hits = append(hits, e)
	}
	sortIssues(hits, q.Get("sort"), q.Get("direction"), func(e entry) *issue { return e.is })
	lo, hi, ok := s.paginate(w, r, len(hits))
	if !ok {
		return
	}
	list := make([]map[string]any, 0, hi-lo)
	for _, e := range hits[lo:hi] {
		m := s.issueJSON(rs, e.is)
		if e.pull {
			m["pull_request"] = map[string]any{
				"url":      s.apiURL("/repos/%s/%s/pulls/%d", rs.owner, rs.name, e.is.number),
				"html_url": s.htmlURL("/%s/%s/pull/%d", rs.owner, rs.name, e.is.number),
			}
		}
		list = append(list, m)
	}
	writeJSON(w, http.StatusOK, list)
}

func hasLabels(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return false
		}
	}
	return true
}

// sortIssues orders like GitHub: by created (default), updated or
// comments, descending unless direction is "asc".
func sortIssues[E any](list []E, by, direction string, get func(E) *issue) {
	key := func(is *issue) int64 {
		switch by {
		case "updated":
			return is.updated.UnixNano()
		case "comments":
			return int64(len(is.comments))
		default:
			return is.id
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := get(list[i]), get(list[j])
		if ka, kb := key(a), key(b); ka != kb {
			if direction == "asc" {
				return ka < kb
			}
			return ka > kb
		}
		if direction == "asc" {
			return a.id < b.id
		}
		return a.id > b.id
	})
}

// paginate reads per_page (default 30, at most 100) and page (from 1),
// sets a Link header like GitHub and returns the slice bounds.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int, ok bool) {
	q := r.URL.Query()
	perPage, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeValidation(w, "", fieldError{Field: "per_page", Code: "invalid"})
			return 0, 0, false
		}
		perPage = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeValidation(w, "", fieldError{Field: "page", Code: "invalid"})
			return 0, 0, false
		}
		page = n
	}
	last := max(1, (total+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q2 := r.URL.Query()
		q2.Set("page", strconv.Itoa(p))
		q2.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.srv.URL+"/api/v3", r.URL.Path, q2.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(min(page-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((page-1)*perPage, total)
	hi = min(lo+perPage, total)
	return lo, hi, true
}
