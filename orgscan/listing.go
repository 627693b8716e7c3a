package orgscan

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/wait"
)

// Filter selects repositories of a listing. The zero Filter keeps every
// repository: private ones, forks and archived ones included.
type Filter struct {
	NoForks    bool
	NoArchived bool
	NoPrivate  bool
	// Include, when not empty, keeps only repositories one of whose
	// patterns matches the name or "owner/name"; Exclude then drops those
	// one of whose patterns does. Patterns use path.Match syntax and
	// match without regard to case, as GitHub's names do.
	Include []string
	Exclude []string
}

// Validate reports the first malformed pattern.
func (f Filter) Validate() error {
	for _, p := range append(append([]string(nil), f.Include...), f.Exclude...) {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return fmt.Errorf("repository pattern %q: %w", p, err)
		}
	}
	return nil
}

// Keep reports whether r passes the filter; f must be valid.
func (f Filter) Keep(r Repo) bool {
	if (f.NoForks && r.Fork) || (f.NoArchived && r.Archived) || (f.NoPrivate && r.Private) {
		return false
	}
	if len(f.Include) > 0 && !matchAny(f.Include, r) {
		return false
	}
	return !matchAny(f.Exclude, r)
}

func matchAny(patterns []string, r Repo) bool {
	name, full := strings.ToLower(r.Name), strings.ToLower(r.Owner+"/"+r.Name)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, full); ok {
			return true
		}
	}
	return false
}

// listPageSize is GitHub's largest page: 10,000 repositories are 100
// requests.
const listPageSize = 100

// maxListPages bounds a listing whose next links never end.
const maxListPages = 100_000

// ListRepos lists every repository of org (type "all": private, forks
// and archived included, as far as the token may see), following the
// Link header's next page whatever page size the server chose, and
// returns those f keeps. A repository listed twice (the pages shifted
// while a repository was created) is returned once. What the API returns
// is validated (see ValidateRepo): names end up in paths and reports.
func ListRepos(ctx context.Context, c *github.Client, org string, f Filter) ([]Repo, error) {
	if why := badName(org); why != "" {
		return nil, fmt.Errorf("list repositories: organisation name %q %s", org, why)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("list repositories of %s: %w", org, err)
	}
	opt := &github.RepositoryListByOrgOptions{Type: "all", ListOptions: github.ListOptions{PerPage: listPageSize}}
	seen := map[int64]bool{}
	var out []Repo
	for pages := 1; ; pages++ {
		repos, resp, err := listPage(ctx, c, org, opt)
		if err != nil {
			return nil, fmt.Errorf("list repositories of %s (page %d): %w", org, max(opt.Page, 1), err)
		}
		for _, gr := range repos {
			r, err := repoFrom(gr)
			if err != nil {
				return nil, fmt.Errorf("list repositories of %s: %w", org, err)
			}
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			if f.Keep(r) {
				out = append(out, r)
			}
		}
		if resp.NextPage == 0 {
			if hasNextLink(resp) {
				return nil, fmt.Errorf("list repositories of %s: the next page's link has no page number", org)
			}
			return out, nil
		}
		if resp.NextPage <= max(opt.Page, 1) || pages >= maxListPages {
			return nil, fmt.Errorf("list repositories of %s: the next page link goes back (page %d after %d)", org, resp.NextPage, max(opt.Page, 1))
		}
		opt.Page = resp.NextPage
	}
}

// listPage gets one page. go-github refuses, without a request, to call
// GitHub while a rate-limit window it saw is open; that refusal is waited
// out here (on the client's clock when NewClient made it) and the page
// asked again. Rate-limited answers are retried by NewClient's transport.
func listPage(ctx context.Context, c *github.Client, org string, opt *github.RepositoryListByOrgOptions) ([]*github.Repository, *github.Response, error) {
	clock := ghretry.Clock{Now: time.Now, Sleep: wait.Sleep}
	if t, ok := c.Client().Transport.(*transport); ok {
		clock = t.clock
	}
	for attempt := 0; ; attempt++ {
		repos, resp, err := c.Repositories.ListByOrg(ctx, org, opt)
		if err == nil || attempt >= 2 {
			return repos, resp, err
		}
		var d time.Duration
		var rle *github.RateLimitError
		var are *github.AbuseRateLimitError
		switch {
		case errors.As(err, &rle) && strings.Contains(rle.Message, "not making remote request"):
			d = rle.Rate.Reset.Time.Sub(clock.Now()) + time.Second
		case errors.As(err, &are) && strings.Contains(are.Message, "not making remote request") && are.RetryAfter != nil:
			d = *are.RetryAfter
		default:
			return repos, resp, err
		}
		if d > DefaultMaxWait {
			return repos, resp, err
		}
		if serr := clock.Sleep(ctx, max(d, 0)); serr != nil {
			return repos, resp, fmt.Errorf("wait for GitHub's rate limit: %w", serr)
		}
	}
}

// hasNextLink reports whether resp's Link header has a rel="next".
func hasNextLink(resp *github.Response) bool {
	return resp != nil && resp.Response != nil && strings.Contains(resp.Header.Get("Link"), `rel="next"`)
}

// InvalidRepoError is a repository the API described in a way leakstop will
// not use: a name that could escape the cache or a report, a clone URL
// that is not plain HTTPS.
type InvalidRepoError struct {
	Repo   string // full name as the API gave it, or the id
	Field  string
	Value  string
	Reason string
}

func (e *InvalidRepoError) Error() string {
	return fmt.Sprintf("repository %q: %s %q %s", e.Repo, e.Field, e.Value, e.Reason)
}

func repoFrom(gr *github.Repository) (Repo, error) {
	r := Repo{
		ID:            gr.GetID(),
		Owner:         gr.GetOwner().GetLogin(),
		Name:          gr.GetName(),
		FullName:      gr.GetFullName(),
		CloneURL:      gr.GetCloneURL(),
		DefaultBranch: gr.GetDefaultBranch(),
		PushedAt:      gr.GetPushedAt().Time,
		Fork:          gr.GetFork(),
		Archived:      gr.GetArchived(),
		Private:       gr.GetPrivate(),
		SizeKB:        gr.GetSize(),
	}
	return r, ValidateRepo(r)
}

// ValidateRepo checks what the API said of r before it is used in a
// path, a report or a fetch: a positive id; owner and name in GitHub's
// character set ([A-Za-z0-9._-], not "." or "..", at most 100
// characters); full name "owner/name"; an http(s) clone URL without
// credentials.
func ValidateRepo(r Repo) error {
	id := r.FullName
	if id == "" {
		id = fmt.Sprintf("id %d", r.ID)
	}
	bad := func(field, value, reason string) error {
		return &InvalidRepoError{Repo: id, Field: field, Value: value, Reason: reason}
	}
	if r.ID <= 0 {
		return bad("id", fmt.Sprint(r.ID), "is not a GitHub id")
	}
	if why := badName(r.Owner); why != "" {
		return bad("owner", r.Owner, why)
	}
	if why := badName(r.Name); why != "" {
		return bad("name", r.Name, why)
	}
	if r.FullName != r.Owner+"/"+r.Name {
		return bad("full_name", r.FullName, "is not owner/name")
	}
	u, err := url.Parse(r.CloneURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return bad("clone_url", r.CloneURL, "is not an http(s) URL")
	case u.User != nil:
		return bad("clone_url", u.Redacted(), "has credentials in it")
	}
	return nil
}

// badName checks an owner or repository name against GitHub's rules and
// says what is wrong with it, or "".
func badName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case s == "." || s == "..":
		return "is a relative path element"
	case len(s) > 100:
		return "is longer than 100 characters"
	}
	for _, c := range s {
		switch {
		case c < 0x20 || c == 0x7f:
			return "has a control character"
		case c == '/' || c == '\\':
			return "has a path separator"
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
			return fmt.Sprintf("has %q, outside GitHub's [A-Za-z0-9._-]", c)
		}
	}
	if strings.Contains(s, "..") {
		return `has ".."`
	}
	return ""
}
