package githubtest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OrgRepo is a repository of an organisation, as registered with
// AddOrgRepo and listed by GET /orgs/{org}/repos.
//
// Names are not validated: a test may register a name GitHub would never
// return (such as "../x") to check that a client validates what the API
// says.
type OrgRepo struct {
	Name     string
	Fork     bool
	Archived bool
	Private  bool
	// PushedAt defaults to the time the repository was added.
	PushedAt time.Time
	// SizeKB is GitHub's size in KiB; 0 is an empty repository.
	SizeKB int
	// DefaultBranch defaults to "main".
	DefaultBranch string
	// CloneURL, when empty, is the attached GitServer's URL for the
	// repository (see NewGitServer), else the github.com-style URL of
	// this server. It follows renames and transfers.
	CloneURL string
}

// orgListing is an organisation's repositories, in creation order.
type orgListing struct {
	id     int64
	login  string
	repos  []*listedRepo
	byName map[string]bool // lower-case names, so that adding is O(1)
}

type listedRepo struct {
	OrgRepo
	id      int64
	created time.Time
	updated time.Time
}

// AddOrg makes org exist (with no repositories yet), so that listing it
// answers 200 and an empty array rather than 404.
func (s *Server) AddOrg(org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listing(org)
}

// listing returns org's repositories, creating the organisation. Callers
// hold s.mu.
func (s *Server) listing(org string) *orgListing {
	if s.orgRepos == nil {
		s.orgRepos = map[string]*orgListing{}
	}
	k := strings.ToLower(org)
	o := s.orgRepos[k]
	if o == nil {
		o = &orgListing{id: s.newID(), login: org, byName: map[string]bool{}}
		s.orgRepos[k] = o
	}
	return o
}

// AddOrgRepo registers a repository of org and returns its id, which
// stays the same across RenameRepo and TransferRepo, as GitHub's does.
func (s *Server) AddOrgRepo(org string, r OrgRepo) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.listing(org)
	if o.byName[strings.ToLower(r.Name)] {
		s.t.Fatalf("githubtest: add org repo: %s/%s exists", org, r.Name)
	}
	now := s.now()
	if r.PushedAt.IsZero() {
		r.PushedAt = now
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	lr := &listedRepo{OrgRepo: r, id: s.newID(), created: now, updated: r.PushedAt}
	o.repos = append(o.repos, lr)
	o.byName[strings.ToLower(r.Name)] = true
	return lr.id
}

func (o *orgListing) find(name string) int {
	return slices.IndexFunc(o.repos, func(r *listedRepo) bool { return strings.EqualFold(r.Name, name) })
}

// lookup finds org/name or fails the test. Callers hold s.mu.
func (s *Server) lookup(org, name string) (*orgListing, int) {
	s.t.Helper()
	o := s.orgRepos[strings.ToLower(org)]
	if o == nil || o.find(name) < 0 {
		s.t.Fatalf("githubtest: no repository %s/%s", org, name)
	}
	return o, o.find(name)
}

// SetPushedAt changes org/name's pushed_at (and updated_at), as a push
// does.
func (s *Server) SetPushedAt(org, name string, t time.Time) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, i := s.lookup(org, name)
	o.repos[i].PushedAt, o.repos[i].updated = t, t
}

// RenameRepo renames org/name to newName, keeping its id; the attached
// GitServer's copy moves with it.
func (s *Server) RenameRepo(org, name, newName string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, i := s.lookup(org, name)
	if j := o.find(newName); j >= 0 && j != i {
		s.t.Fatalf("githubtest: rename repo: %s/%s exists", org, newName)
	}
	r := o.repos[i]
	s.git.move(o.login, r.Name, o.login, newName)
	delete(o.byName, strings.ToLower(r.Name))
	o.byName[strings.ToLower(newName)] = true
	r.Name, r.updated = newName, s.now()
}

// TransferRepo moves org/name to the organisation to, keeping its id; the
// attached GitServer's copy moves with it.
func (s *Server) TransferRepo(org, name, to string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, i := s.lookup(org, name)
	dst := s.listing(to)
	if dst.find(name) >= 0 {
		s.t.Fatalf("githubtest: transfer repo: %s/%s exists", to, name)
	}
	r := o.repos[i]
	o.repos = slices.Delete(o.repos, i, i+1)
	delete(o.byName, strings.ToLower(r.Name))
	s.git.move(o.login, r.Name, dst.login, r.Name)
	r.updated = s.now()
	dst.repos = append(dst.repos, r)
	dst.byName[strings.ToLower(r.Name)] = true
}

// DeleteRepo deletes org/name, and the attached GitServer's copy.
func (s *Server) DeleteRepo(org, name string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, i := s.lookup(org, name)
	s.git.remove(o.login, o.repos[i].Name)
	delete(o.byName, strings.ToLower(o.repos[i].Name))
	o.repos = slices.Delete(o.repos, i, i+1)
}

// ForcePageSize makes the listing answer n repositories per page whatever
// per_page asks (0 restores GitHub's behaviour), to show that a client
// follows the Link header rather than its own arithmetic.
func (s *Server) ForcePageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// repoTypes are the values GitHub accepts for type on GET /orgs/{org}/repos.
var repoTypes = []string{"all", "public", "private", "forks", "sources", "member"}

// repoSorts are the values GitHub accepts for sort on GET /orgs/{org}/repos.
var repoSorts = []string{"created", "updated", "pushed", "full_name"}

func (s *Server) routeOrgRepos(mux *http.ServeMux) {
	mux.HandleFunc("GET /orgs/{org}/repos", func(w http.ResponseWriter, r *http.Request) {
		s.listOrgRepos(w, r, func(o *orgListing) bool { return strings.EqualFold(o.login, r.PathValue("org")) })
	})
	// GitHub's Link header points at the organisation's id.
	mux.HandleFunc("GET /organizations/{id}/repos", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		s.listOrgRepos(w, r, func(o *orgListing) bool { return o.id == id })
	})
}

func (s *Server) listOrgRepos(w http.ResponseWriter, r *http.Request, match func(*orgListing) bool) {
	q := r.URL.Query()
	typ, sort, dir := q.Get("type"), q.Get("sort"), q.Get("direction")
	if typ == "" {
		typ = "all"
	}
	if sort == "" {
		sort = "created"
	}
	if dir == "" {
		dir = "desc"
		if sort == "full_name" {
			dir = "asc"
		}
	}
	switch {
	case !slices.Contains(repoTypes, typ):
		writeValidation(w, "", fieldError{Resource: "Repository", Field: "type", Code: "invalid"})
		return
	case !slices.Contains(repoSorts, sort):
		writeValidation(w, "", fieldError{Resource: "Repository", Field: "sort", Code: "invalid"})
		return
	case dir != "asc" && dir != "desc":
		writeValidation(w, "", fieldError{Resource: "Repository", Field: "direction", Code: "invalid"})
		return
	}
	perPage := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}

	s.mu.Lock()
	var org *orgListing
	for _, o := range s.orgRepos {
		if match(o) {
			org = o
		}
	}
	if org == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found",
			"documentation_url": docsURL + "/repos/repos#list-organization-repositories", "status": "404"})
		return
	}
	if s.pageSize > 0 {
		perPage = s.pageSize
	}
	var repos []*listedRepo
	for _, lr := range org.repos {
		if keepType(typ, lr) {
			c := *lr
			repos = append(repos, &c)
		}
	}
	orgID, login, git := org.id, org.login, s.git
	s.mu.Unlock()

	sortRepos(repos, sort, dir == "desc")
	last := max(1, (len(repos)+perPage-1)/perPage)
	var body []map[string]any
	if from := (page - 1) * perPage; from < len(repos) {
		for _, lr := range repos[from:min(from+perPage, len(repos))] {
			if lr.CloneURL == "" {
				lr.CloneURL = s.cloneURL(git, login, lr.Name)
			}
			body = append(body, s.repoJSON(orgID, login, lr))
		}
	}
	if body == nil {
		body = []map[string]any{}
	}
	if link := linkHeader(s.apiURL("/organizations/%d/repos", orgID), r.URL.RawQuery, page, last); link != "" {
		w.Header().Set("Link", link)
	}
	writeJSON(w, http.StatusOK, body)
}

func keepType(typ string, r *listedRepo) bool {
	switch typ {
	case "public":
		return !r.Private
	case "private":
		return r.Private
	case "forks":
		return r.Fork
	case "sources":
		return !r.Fork
	}
	return true
}

func sortRepos(repos []*listedRepo, by string, desc bool) {
	slices.SortStableFunc(repos, func(a, b *listedRepo) int {
		var c int
		switch by {
		case "updated":
			c = a.updated.Compare(b.updated)
		case "pushed":
			c = a.PushedAt.Compare(b.PushedAt)
		case "full_name":
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if c == 0 {
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = int(a.id - b.id)
		}
		if desc {
			return -c
		}
		return c
	})
}

// linkHeader builds GitHub's Link header: next and last unless on the
// last page, prev and first unless on the first; the query the client
// sent, in its order, with page replaced.
func linkHeader(base, rawQuery string, page, last int) string {
	var kept []string
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv != "" && !strings.HasPrefix(kv, "page=") {
			kept = append(kept, kv)
		}
	}
	at := func(p int, rel string) string {
		q := strings.Join(append(slices.Clone(kept), "page="+strconv.Itoa(p)), "&")
		return "<" + base + "?" + q + `>; rel="` + rel + `"`
	}
	var links []string
	if page > 1 {
		links = append(links, at(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, at(page+1, "next"), at(last, "last"))
	}
	if page > 1 {
		links = append(links, at(1, "first"))
	}
	return strings.Join(links, ", ")
}

// repoJSON is the repository object of a listing (GitHub's "minimal
// repository": no parent or source, even for a fork).
func (s *Server) repoJSON(orgID int64, login string, r *listedRepo) map[string]any {
	full := login + "/" + r.Name
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return map[string]any{
		"id":             r.id,
		"node_id":        "R_" + strconv.FormatInt(r.id, 10),
		"name":           r.Name,
		"full_name":      full,
		"private":        r.Private,
		"owner":          map[string]any{"login": login, "id": orgID, "type": "Organization"},
		"html_url":       s.htmlURL("/%s", full),
		"description":    nil,
		"fork":           r.Fork,
		"url":            s.apiURL("/repos/%s", full),
		"clone_url":      r.CloneURL,
		"git_url":        "git://" + strings.TrimPrefix(s.htmlURL("/%s.git", full), "http://"),
		"ssh_url":        "git@" + strings.TrimPrefix(s.srv.URL, "http://") + ":" + full + ".git",
		"svn_url":        s.htmlURL("/%s", full),
		"created_at":     timestamp(r.created),
		"updated_at":     timestamp(r.updated),
		"pushed_at":      timestamp(r.PushedAt),
		"size":           r.SizeKB,
		"default_branch": r.DefaultBranch,
		"archived":       r.Archived,
		"disabled":       false,
		"visibility":     visibility,
		"forks_count":    0,
		"open_issues":    0,
		"watchers":       0,
	}
}

// cloneURL is where org/name is cloned from: the attached GitServer
// git, or a github.com-style URL on this server.
func (s *Server) cloneURL(git *GitServer, org, name string) string {
	if git != nil {
		return git.RepoURL(org, name)
	}
	return s.htmlURL("/%s/%s.git", org, name)
}

// FailListingPage makes the first request for page of org's listing
// (page 1 when the query has none) fail with f, whatever f.Path says:
// a rate limit in the middle of a listing. The retry of that page is
// answered normally.
func (s *Server) FailListingPage(org string, page int, f Fault) {
	var once sync.Once
	f.Path = "/orgs/" + org + "/repos"
	s.OnRequest(func(r Request) {
		if r.Method != http.MethodGet || !strings.EqualFold(r.Path, f.Path) {
			return
		}
		p := 1
		if q, err := url.ParseQuery(r.RawQuery); err == nil && q.Get("page") != "" {
			p, _ = strconv.Atoi(q.Get("page"))
		}
		if p == page {
			once.Do(func() {
				s.InjectFault(Fault{Kind: f.Kind, Method: http.MethodGet, Path: r.Path,
					RetryAfter: f.RetryAfter, Reset: f.Reset, ResetIn: f.ResetIn, Status: f.Status})
			})
		}
	})
}
