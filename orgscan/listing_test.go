package orgscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
)

// testClock starts at the real time and moves only when slept on, so
// that rate-limit waits take no time; it records every wait.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
	sleeps []time.Duration
	onWait func(time.Duration)
}

func (c *testClock) clock() ghretry.Clock {
	return ghretry.Clock{
		Now: func() time.Time {
			c.mu.Lock()
			defer c.mu.Unlock()
			return time.Now().Add(c.offset)
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			c.mu.Lock()
			c.offset += d
			c.sleeps = append(c.sleeps, d)
			fn := c.onWait
			c.mu.Unlock()
			if fn != nil {
				fn(d)
			}
			return ctx.Err()
		},
	}
}

func (c *testClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a fake GitHub with an organisation "acme" of 65
// repositories: every 5th a fork, every 7th archived, every 2nd private,
// every 10th empty.
type fixture struct {
	s     *githubtest.Server
	clock *testClock
	log   *syncBuffer
	c     *github.Client
	ids   map[string]int64
}

func newFixture(t *testing.T, repos int) *fixture {
	t.Helper()
	f := &fixture{s: githubtest.New(t), clock: &testClock{}, log: &syncBuffer{}, ids: map[string]int64{}}
	for i := range repos {
		name := fmt.Sprintf("repo-%02d", i)
		f.ids[name] = f.s.AddOrgRepo("acme", githubtest.OrgRepo{Name: name, Fork: i%5 == 0, Archived: i%7 == 0,
			Private: i%2 == 0, SizeKB: map[bool]int{true: 0, false: 10 + i}[i%10 == 3],
			PushedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)})
	}
	f.c = f.client(t, NewStaticToken(f.s.Token()))
	return f
}

func (f *fixture) client(t *testing.T, ts TokenSource) *github.Client {
	t.Helper()
	c, err := NewClient(f.s.URL()+"/api/v3", ts, ClientOptions{Clock: f.clock.clock(),
		Log: slog.New(slog.NewJSONHandler(f.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listCalls counts the listing requests the fake received.
func (f *fixture) listCalls() int { return f.s.CountRequests("GET", "/orgs/acme/repos") }

func names(repos []Repo) []string {
	var out []string
	for _, r := range repos {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func TestListReposAllPagesAndFields(t *testing.T) {
	f := newFixture(t, 65)
	f.s.ForcePageSize(20) // the client asks 100 and must follow Link
	ctx := context.Background()
	repos, err := ListRepos(ctx, f.c, "acme", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 65 || len(slices.Compact(names(repos))) != 65 {
		t.Fatalf("listed %d repositories: %v", len(repos), names(repos))
	}
	if n := f.listCalls(); n != 4 {
		t.Fatalf("%d listing requests, want 4 pages of 20", n)
	}
	for _, r := range f.s.Requests() {
		q, _ := url.ParseQuery(r.RawQuery)
		if q.Get("per_page") != "100" || q.Get("type") != "all" {
			t.Fatalf("request query %q", r.RawQuery)
		}
	}
	i := slices.IndexFunc(repos, func(r Repo) bool { return r.Name == "repo-10" })
	want := Repo{ID: f.ids["repo-10"], Owner: "acme", Name: "repo-10", FullName: "acme/repo-10",
		CloneURL: f.s.URL() + "/acme/repo-10.git", DefaultBranch: "main",
		PushedAt: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC), Fork: true, Private: true, SizeKB: 20}
	if got := repos[i]; !got.PushedAt.Equal(want.PushedAt) || func() bool { got.PushedAt = want.PushedAt; return got != want }() {
		t.Fatalf("repo-10 = %+v\nwant      %+v", repos[i], want)
	}
	j := slices.IndexFunc(repos, func(r Repo) bool { return r.Name == "repo-13" })
	if repos[j].SizeKB != 0 {
		t.Fatalf("empty repo-13 has size %d", repos[j].SizeKB)
	}
}

func TestListReposFilters(t *testing.T) {
	f := newFixture(t, 65)
	ctx := context.Background()
	count := func(flt Filter) []string {
		t.Helper()
		repos, err := ListRepos(ctx, f.c, "acme", flt)
		if err != nil {
			t.Fatal(err)
		}
		return names(repos)
	}
	if got := len(count(Filter{NoForks: true})); got != 52 {
		t.Errorf("NoForks: %d", got)
	}
	if got := len(count(Filter{NoArchived: true})); got != 55 {
		t.Errorf("NoArchived: %d", got)
	}
	if got := len(count(Filter{NoPrivate: true})); got != 32 {
		t.Errorf("NoPrivate: %d", got)
	}
	if got := len(count(Filter{NoForks: true, NoArchived: true, NoPrivate: true})); got != 22 {
		t.Errorf("all three: %d", got)
	}
	got := count(Filter{Include: []string{"REPO-1?", "acme/repo-6*"}, Exclude: []string{"acme/repo-1[0-4]", "repo-19"}})
	want := []string{"repo-15", "repo-16", "repo-17", "repo-18", "repo-60", "repo-61", "repo-62", "repo-63", "repo-64"}
	if !slices.Equal(got, want) {
		t.Errorf("globs: %v, want %v", got, want)
	}
	if got := count(Filter{Include: []string{"other/*"}}); len(got) != 0 {
		t.Errorf("other owner's glob kept %v", got)
	}
	before := len(f.s.Requests())
	_, err := ListRepos(ctx, f.c, "acme", Filter{Exclude: []string{"ok-*", "bad["}})
	if err == nil || !strings.Contains(err.Error(), `"bad["`) {
		t.Fatalf("bad glob: %v", err)
	}
	if len(f.s.Requests()) != before {
		t.Fatal("a bad glob still listed")
	}
}

func TestListRepos10000Is100Requests(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 repositories")
	}
	f := newFixture(t, 0)
	for i := range 10_000 {
		f.s.AddOrgRepo("acme", githubtest.OrgRepo{Name: fmt.Sprintf("r%05d", i)})
	}
	repos, err := ListRepos(context.Background(), f.c, "acme", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 10_000 || f.listCalls() != 100 {
		t.Fatalf("%d repositories in %d requests", len(repos), f.listCalls())
	}
}

func TestListReposRejectsBadNames(t *testing.T) {
	for name, r := range map[string]githubtest.OrgRepo{
		"dot-dot":     {Name: ".."},
		"parent":      {Name: "../../etc"},
		"slash":       {Name: "a/b"},
		"newline":     {Name: "x\ny"},
		"space":       {Name: "a b"},
		"double dot":  {Name: "a..b"},
		"unicode":     {Name: "café"},
		"backslash":   {Name: `a\b`},
		"credentials": {Name: "ok", CloneURL: "https://user:pw-secret@example.com/acme/ok.git"},
		"ssh url":     {Name: "ok", CloneURL: "git@example.com:acme/ok.git"},
		"file url":    {Name: "ok", CloneURL: "file:///etc"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 3)
			f.s.AddOrgRepo("acme", r)
			_, err := ListRepos(context.Background(), f.c, "acme", Filter{})
			var re *InvalidRepoError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), "pw-secret") {
				t.Fatalf("error shows the URL's password: %v", err)
			}
			if re.Field == "name" && re.Value != r.Name {
				t.Fatalf("error names %q, want %q", re.Value, r.Name)
			}
			t.Log(err)
		})
	}
	f := newFixture(t, 1)
	if _, err := ListRepos(context.Background(), f.c, "../acme", Filter{}); err == nil {
		t.Fatal("org ../acme listed")
	}
	if _, err := ListRepos(context.Background(), f.c, "nobody", Filter{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown org: %v", err)
	}
}

// TestListReposDeduplicates lists while a repository is created between
// two pages: the newest-first order shifts, and a repository comes back.
func TestListReposDeduplicates(t *testing.T) {
	f := newFixture(t, 30)
	f.s.ForcePageSize(10)
	created := false
	f.s.OnRequest(func(r githubtest.Request) {
		if strings.Contains(r.RawQuery, "page=2") && !created {
			created = true
			f.s.AddOrgRepo("acme", githubtest.OrgRepo{Name: "late"})
		}
	})
	repos, err := ListRepos(context.Background(), f.c, "acme", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(repos); len(got) != 30 || len(slices.Compact(got)) != 30 {
		t.Fatalf("listed %v", got)
	}
}
