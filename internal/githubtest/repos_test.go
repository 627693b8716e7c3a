package githubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// getJSON GETs url with a token and decodes the body into v.
func getJSON(t *testing.T, url, token string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp
}

func addRepos(s *Server, org string, n int) []int64 {
	var ids []int64
	for i := range n {
		ids = append(ids, s.AddOrgRepo(org, OrgRepo{Name: fmt.Sprintf("repo-%02d", i), Fork: i%5 == 0,
			Archived: i%7 == 0, Private: i%2 == 0, SizeKB: i}))
	}
	return ids
}

func TestOrgReposPagination(t *testing.T) {
	s := New(t)
	ids := addRepos(s, "Acme", 65)

	// Default page size 30; newest first (sort=created, direction=desc).
	var page []map[string]any
	resp := getJSON(t, s.URL()+"/orgs/acme/repos", s.Token(), &page)
	if resp.StatusCode != 200 || len(page) != 30 {
		t.Fatalf("page 1: status %d, %d repos", resp.StatusCode, len(page))
	}
	if int64(page[0]["id"].(float64)) != ids[64] || page[0]["full_name"] != "Acme/repo-64" ||
		page[0]["owner"].(map[string]any)["login"] != "Acme" {
		t.Fatalf("first repo = %v", page[0])
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `page=2>; rel="next"`) || !strings.Contains(link, `page=3>; rel="last"`) || strings.Contains(link, "prev") {
		t.Fatalf("page 1 Link = %s", link)
	}

	// Follow the Link literally: it points at /organizations/{id}/repos.
	next := strings.TrimPrefix(strings.Split(link, ">")[0], "<")
	if !strings.Contains(next, "/api/v3/organizations/") {
		t.Fatalf("next = %s", next)
	}
	resp = getJSON(t, next, s.Token(), &page)
	link = resp.Header.Get("Link")
	if len(page) != 30 || !strings.Contains(link, `page=1>; rel="prev"`) || !strings.Contains(link, `page=3>; rel="next"`) ||
		!strings.Contains(link, `rel="first"`) {
		t.Fatalf("page 2: %d repos, Link %s", len(page), link)
	}
	resp = getJSON(t, s.URL()+"/orgs/acme/repos?page=3&type=all", s.Token(), &page)
	link = resp.Header.Get("Link")
	if len(page) != 5 || strings.Contains(link, "next") || !strings.Contains(link, "type=all") {
		t.Fatalf("page 3: %d repos, Link %s", len(page), link)
	}
	getJSON(t, s.URL()+"/orgs/acme/repos?page=9", s.Token(), &page)
	if len(page) != 0 {
		t.Fatalf("page past the end: %d repos", len(page))
	}

	// per_page is capped at 100.
	resp = getJSON(t, s.URL()+"/orgs/acme/repos?per_page=500", s.Token(), &page)
	if len(page) != 65 || resp.Header.Get("Link") != "" {
		t.Fatalf("per_page=500: %d repos, Link %q", len(page), resp.Header.Get("Link"))
	}
	for i := range 150 {
		s.AddOrgRepo("big", OrgRepo{Name: fmt.Sprintf("r%d", i)})
	}
	getJSON(t, s.URL()+"/orgs/big/repos?per_page=500", s.Token(), &page)
	if len(page) != 100 {
		t.Fatalf("per_page=500 on 150 repos: %d", len(page))
	}
}

func TestOrgReposWithGoGitHub(t *testing.T) {
	s := New(t)
	addRepos(s, "acme", 65)
	c := s.Client()
	ctx := context.Background()
	count := func(typ string) int {
		opt := &github.RepositoryListByOrgOptions{Type: typ, ListOptions: github.ListOptions{PerPage: 20}}
		n := 0
		for {
			repos, resp, err := c.Repositories.ListByOrg(ctx, "acme", opt)
			if err != nil {
				t.Fatal(err)
			}
			n += len(repos)
			if resp.NextPage == 0 {
				return n
			}
			opt.Page = resp.NextPage
		}
	}
	if got := count("all"); got != 65 {
		t.Errorf("all = %d", got)
	}
	if got := count("forks"); got != 13 {
		t.Errorf("forks = %d", got)
	}
	if got := count("sources"); got != 52 {
		t.Errorf("sources = %d", got)
	}
	if got, want := count("private"), 33; got != want {
		t.Errorf("private = %d, want %d", got, want)
	}
	if got := count("public"); got != 32 {
		t.Errorf("public = %d", got)
	}
	repos, _, err := c.Repositories.ListByOrg(ctx, "acme", &github.RepositoryListByOrgOptions{Sort: "full_name"})
	if err != nil || repos[0].GetName() != "repo-00" || !repos[0].GetFork() || !repos[0].GetArchived() || !repos[0].GetPrivate() ||
		repos[0].GetDefaultBranch() != "main" || repos[1].GetSize() != 1 || repos[0].GetPushedAt().IsZero() {
		t.Fatalf("sorted by name: %v %v", err, repos[0])
	}
	if _, _, err := c.Repositories.ListByOrg(ctx, "acme", &github.RepositoryListByOrgOptions{Type: "bogus"}); statusOf(err) != 422 {
		t.Fatalf("type=bogus: %v", err)
	}
	if _, _, err := c.Repositories.ListByOrg(ctx, "nobody", nil); statusOf(err) != 404 {
		t.Fatalf("unknown org: %v", err)
	}
	if resp := getJSON(t, s.URL()+"/orgs/acme/repos", "", nil); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	s.AddOrg("empty")
	if repos, _, err := c.Repositories.ListByOrg(ctx, "empty", nil); err != nil || len(repos) != 0 {
		t.Fatalf("empty org: %v %v", repos, err)
	}
}

func TestForcePageSize(t *testing.T) {
	s := New(t)
	addRepos(s, "acme", 20)
	s.ForcePageSize(7)
	var page []map[string]any
	resp := getJSON(t, s.URL()+"/orgs/acme/repos?per_page=100", s.Token(), &page)
	if link := resp.Header.Get("Link"); len(page) != 7 || !strings.Contains(link, `per_page=100&page=2>; rel="next"`) ||
		!strings.Contains(link, `page=3>; rel="last"`) {
		t.Fatalf("%d repos, Link %s", len(page), link)
	}
}

func TestRenameTransferDelete(t *testing.T) {
	s := New(t)
	id := s.AddOrgRepo("acme", OrgRepo{Name: "old", PushedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	s.AddOrgRepo("acme", OrgRepo{Name: "gone"})
	s.AddOrg("other")
	s.RenameRepo("acme", "old", "new")
	s.SetPushedAt("acme", "new", time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	c := s.Client()
	ctx := context.Background()
	repos, _, err := c.Repositories.ListByOrg(ctx, "acme", &github.RepositoryListByOrgOptions{Sort: "full_name"})
	if err != nil || len(repos) != 2 || repos[1].GetName() != "new" || repos[1].GetID() != id ||
		!strings.HasSuffix(repos[1].GetCloneURL(), "/acme/new.git") || repos[1].GetPushedAt().Month() != 2 {
		t.Fatalf("after rename: %v %v", err, repos)
	}
	s.TransferRepo("acme", "new", "other")
	s.DeleteRepo("acme", "gone")
	repos, _, err = c.Repositories.ListByOrg(ctx, "acme", nil)
	if err != nil || len(repos) != 0 {
		t.Fatalf("acme after transfer and delete: %v %v", err, repos)
	}
	repos, _, err = c.Repositories.ListByOrg(ctx, "other", nil)
	if err != nil || len(repos) != 1 || repos[0].GetID() != id || repos[0].GetFullName() != "other/new" {
		t.Fatalf("other after transfer: %v %v", err, repos)
	}
}

func TestListingRateLimitMidway(t *testing.T) {
	s := New(t)
	addRepos(s, "acme", 65)
	s.FailListingPage("acme", 2, Fault{Kind: SecondaryRateLimit, RetryAfter: 2 * time.Second})
	c := s.Client()
	ctx := context.Background()
	opt := &github.RepositoryListByOrgOptions{ListOptions: github.ListOptions{Page: 1}}
	if _, _, err := c.Repositories.ListByOrg(ctx, "acme", opt); err != nil {
		t.Fatal(err)
	}
	opt.Page = 2
	_, _, err := c.Repositories.ListByOrg(ctx, "acme", opt)
	var are *github.AbuseRateLimitError
	if !errors.As(err, &are) || are.RetryAfter == nil || *are.RetryAfter != 2*time.Second {
		t.Fatalf("page 2: %v", err)
	}
	c = s.Client() // go-github would refuse to call again before Retry-After
	if _, _, err := c.Repositories.ListByOrg(ctx, "acme", opt); err != nil {
		t.Fatalf("page 2 again: %v", err)
	}
	opt.Page = 1
	if _, _, err := c.Repositories.ListByOrg(ctx, "acme", opt); err != nil {
		t.Fatalf("page 1 again: %v", err)
	}
}
