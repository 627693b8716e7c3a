package githubtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PullRequest registers a pull request with AddPullRequest.
type PullRequest struct {
	Number  int // 0 takes the repository's next issue number
	Title   string
	HeadSHA string // a review's commit_id must be this when set
	BaseSHA string
	// Diff, when not nil, is the diff a review comment must land in: for
	// each changed path, the line numbers on each side. A comment on
	// another path or line gets GitHub's 422 ("Path could not be resolved",
	// "Line could not be resolved"). When nil, any path and line is taken.
	Diff map[string]DiffLines
}

// DiffLines lists the commentable line numbers of one file: Right in the
// new version (side RIGHT), Left in the old one (side LEFT).
type DiffLines struct {
	Right []int
	Left  []int
}

// Review is a pull request review held by the server.
type Review struct {
	ID       int64
	CommitID string
	Body     string
	Event    string // as sent: APPROVE, REQUEST_CHANGES, COMMENT or "" (pending)
	State    string // APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING
}

// ReviewComment is a pull request review comment held by the server.
type ReviewComment struct {
	ID        int64
	ReviewID  int64
	CommitID  string
	Path      string
	Line      int
	Side      string
	StartLine int
	StartSide string
	Body      string
	Created   time.Time
	pending   bool
}

type pullState struct {
	PullRequest
	issue    *issue
	reviews  []*Review
	comments []*ReviewComment
}

// AddPullRequest registers a pull request in owner/repo and returns its
// number. It fails the test if the number is taken.
func (s *Server) AddPullRequest(owner, repo string, pr PullRequest) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(owner, repo)
	if pr.Number == 0 {
		pr.Number = rs.nextNumber + 1
	}
	if rs.findIssue(pr.Number) != nil || rs.pulls[pr.Number] != nil {
		s.t.Fatalf("githubtest: add pull request: number %d is taken in %s/%s", pr.Number, owner, repo)
	}
	rs.nextNumber = max(rs.nextNumber, pr.Number)
	now := time.Now()
	title := pr.Title
	if title == "" {
		title = "Pull request " + strconv.Itoa(pr.Number)
	}
	rs.pulls[pr.Number] = &pullState{PullRequest: pr, issue: &issue{id: s.newID(), number: pr.Number,
		title: title, state: "open", created: now, updated: now}}
	return pr.Number
}

// Reviews returns the reviews submitted on pull request number.
func (s *Server) Reviews(owner, repo string, number int) []Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.repo(owner, repo).pulls[number]
	if pr == nil {
		return nil
	}
	var out []Review
	for _, r := range pr.reviews {
		out = append(out, *r)
	}
	return out
}

// ReviewComments returns the review comments on pull request number,
// including those of pending reviews.
func (s *Server) ReviewComments(owner, repo string, number int) []ReviewComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.repo(owner, repo).pulls[number]
	if pr == nil {
		return nil
	}
	var out []ReviewComment
	for _, c := range pr.comments {
		out = append(out, *c)
	}
	return out
}

type draftComment struct {
	Path      *string `json:"path"`
	Position  *int    `json:"position"`
	Body      *string `json:"body"`
	Line      *int    `json:"line"`
	Side      *string `json:"side"`
	StartLine *int    `json:"start_line"`
	StartSide *string `json:"start_side"`
}

type reviewRequest struct {
	CommitID *string        `json:"commit_id"`
	Body     *string        `json:"body"`
	Event    *string        `json:"event"`
	Comments []draftComment `json:"comments"`
}

var reviewStates = map[string]string{
	"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING",
}

func (s *Server) routePulls(mux *http.ServeMux) {
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", func(w http.ResponseWriter, r *http.Request) {
		s.withPull(w, r, func(rs *repoState, pr *pullState) {
			writeJSON(w, http.StatusOK, map[string]any{
				"id": pr.issue.id, "number": pr.Number, "state": pr.issue.state, "title": pr.issue.title,
				"head":     map[string]any{"sha": pr.HeadSHA},
				"base":     map[string]any{"sha": pr.BaseSHA},
				"html_url": s.htmlURL("/%s/%s/pull/%d", rs.owner, rs.name, pr.Number),
				"user":     user(),
			})
		})
	})
	mux.HandleFunc("POST /repos/{owner}/{repo}/pulls/{number}/reviews", func(w http.ResponseWriter, r *http.Request) {
		var req reviewRequest
		if !decodeBody(w, r, &req) {
			return
		}
		s.withPull(w, r, func(rs *repoState, pr *pullState) { s.createReview(w, rs, pr, req) })
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", func(w http.ResponseWriter, r *http.Request) {
		s.withPull(w, r, func(rs *repoState, pr *pullState) {
			lo, hi, ok := s.paginate(w, r, len(pr.reviews))
			if !ok {
				return
			}
			list := make([]map[string]any, 0, hi-lo)
			for _, rv := range pr.reviews[lo:hi] {
				list = append(list, s.reviewJSON(rs, pr, rv))
			}
			writeJSON(w, http.StatusOK, list)
		})
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/comments", func(w http.ResponseWriter, r *http.Request) {
		s.withPull(w, r, func(rs *repoState, pr *pullState) {
			var visible []*ReviewComment
			for _, c := range pr.comments {
				if !c.pending {
					visible = append(visible, c)
				}
			}
			if r.URL.Query().Get("direction") == "desc" {
				slices.Reverse(visible)
			}
			lo, hi, ok := s.paginate(w, r, len(visible))
			if !ok {
				return
			}
			list := make([]map[string]any, 0, hi-lo)
			for _, c := range visible[lo:hi] {
				list = append(list, s.reviewCommentJSON(rs, pr, c))
			}
			writeJSON(w, http.StatusOK, list)
		})
	})
}

// withPull runs fn under s.mu with the registered pull request the path
// names, answering 404 when there is none.
func (s *Server) withPull(w http.ResponseWriter, r *http.Request, fn func(*repoState, *pullState)) {
	number, err := strconv.Atoi(r.PathValue("number"))
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(r.PathValue("owner"), r.PathValue("repo"))
	pr := rs.pulls[number]
	if err != nil || pr == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	fn(rs, pr)
}

// createReview validates and stores a review. Callers hold s.mu.
func (s *Server) createReview(w http.ResponseWriter, rs *repoState, pr *pullState, req reviewRequest) {
	event := ""
	if req.Event != nil {
		event = *req.Event
	}
	state, ok := reviewStates[event]
	if !ok {
		writeValidation(w, "Unprocessable Entity", fieldError{Resource: "PullRequestReview", Field: "event", Code: "invalid"})
		return
	}
	body := ""
	if req.Body != nil {
		body = *req.Body
	}
	if strings.TrimSpace(body) == "" && (event == "REQUEST_CHANGES" || (event == "COMMENT" && len(req.Comments) == 0)) {
		writeValidation(w, "Unprocessable Entity", "Review Can not request changes or comment without a body")
		return
	}
	commit := pr.HeadSHA
	if req.CommitID != nil && *req.CommitID != "" {
		if pr.HeadSHA != "" && *req.CommitID != pr.HeadSHA {
			writeValidation(w, "Unprocessable Entity", "commit_id is not part of the pull request")
			return
		}
		commit = *req.CommitID
	}
	for i, c := range req.Comments {
		if msg := validateDraft(c, pr.Diff); msg != "" {
			writeValidation(w, "Unprocessable Entity", "comments["+strconv.Itoa(i)+"]: "+msg)
			return
		}
	}
	rv := &Review{ID: s.newID(), CommitID: commit, Body: body, Event: event, State: state}
	pr.reviews = append(pr.reviews, rv)
	now := time.Now()
	for _, c := range req.Comments {
		rc := &ReviewComment{ID: s.newID(), ReviewID: rv.ID, CommitID: commit, Path: *c.Path, Line: *c.Line,
			Side: *c.Side, Body: *c.Body, Created: now, pending: state == "PENDING"}
		if c.StartLine != nil {
			rc.StartLine = *c.StartLine
			rc.StartSide = rc.Side
			if c.StartSide != nil {
				rc.StartSide = *c.StartSide
			}
		}
		pr.comments = append(pr.comments, rc)
	}
	writeJSON(w, http.StatusOK, s.reviewJSON(rs, pr, rv))
}

// validateDraft checks one draft review comment. It is stricter than
// GitHub in one way: side is required (GitHub defaults it to RIGHT), and
// the legacy position field alone is not accepted.
func validateDraft(c draftComment, diff map[string]DiffLines) string {
	switch {
	case c.Path == nil || *c.Path == "":
		return "path is missing"
	case c.Body == nil || strings.TrimSpace(*c.Body) == "":
		return "body is missing"
	case c.Line == nil:
		return "line is missing"
	case *c.Line < 1:
		return "line must be at least 1"
	case c.Side == nil || (*c.Side != "RIGHT" && *c.Side != "LEFT"):
		return "side must be RIGHT or LEFT"
	case c.StartSide != nil && *c.StartSide != "RIGHT" && *c.StartSide != "LEFT":
		return "start_side must be RIGHT or LEFT"
	case c.StartLine != nil && (*c.StartLine < 1 || *c.StartLine >= *c.Line):
		return "start_line must be at least 1 and precede line"
	}
	if diff == nil {
		return ""
	}
	f, ok := diff[*c.Path]
	if !ok {
		return "Path could not be resolved"
	}
	lines := f.Right
	if *c.Side == "LEFT" {
		lines = f.Left
	}
	if !slices.Contains(lines, *c.Line) {
		return "Line could not be resolved"
	}
	return ""
}

// reviewJSON renders a review. Callers hold s.mu.
func (s *Server) reviewJSON(rs *repoState, pr *pullState, rv *Review) map[string]any {
	return map[string]any{
		"id":        rv.ID,
		"body":      rv.Body,
		"state":     rv.State,
		"commit_id": rv.CommitID,
		"user":      user(),
		"html_url":  s.htmlURL("/%s/%s/pull/%d#pullrequestreview-%d", rs.owner, rs.name, pr.Number, rv.ID),
	}
}

// reviewCommentJSON renders a review comment. Callers hold s.mu.
func (s *Server) reviewCommentJSON(rs *repoState, pr *pullState, c *ReviewComment) map[string]any {
	m := map[string]any{
		"id":                     c.ID,
		"pull_request_review_id": c.ReviewID,
		"commit_id":              c.CommitID,
		"original_commit_id":     c.CommitID,
		"path":                   c.Path,
		"line":                   c.Line,
		"original_line":          c.Line,
		"side":                   c.Side,
		"body":                   c.Body,
		"user":                   user(),
		"created_at":             timestamp(c.Created),
		"updated_at":             timestamp(c.Created),
		"html_url":               s.htmlURL("/%s/%s/pull/%d#discussion_r%d", rs.owner, rs.name, pr.Number, c.ID),
		"pull_request_url":       s.apiURL("/repos/%s/%s/pulls/%d", rs.owner, rs.name, pr.Number),
	}
	if c.StartLine > 0 {
		m["start_line"] = c.StartLine
		m["start_side"] = c.StartSide
	}
	return m
}
