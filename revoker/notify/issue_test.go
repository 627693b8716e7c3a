package notify

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
)

func newTestIssue(t *testing.T, gh *githubtest.Server, cfg GitHubIssueConfig) *GitHubIssue {
	t.Helper()
	if cfg.Retry == (ghretry.Policy{}) {
		cfg.Retry = ghretry.Policy{MinWait: 10 * time.Millisecond, ServerErrorWait: 10 * time.Millisecond}
	}
	n, err := NewGitHubIssue(gh.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGitHubIssueDedupsByFingerprint(t *testing.T) {
	gh := githubtest.New(t)
	n := newTestIssue(t, gh, GitHubIssueConfig{})
	ctx := context.Background()
	l := newLeak(t)
	// Noise: an unrelated labelled issue, a PR, and a closed issue with
	// the same marker (a closed one is not reused).
	gh.CreateIssue("acme", "app", "other", Marker("someone-else"), MarkerLabel)
	gh.AddPullRequest("acme", "app", githubtest.PullRequest{HeadSHA: randHex(t, 20)})
	closed := gh.CreateIssue("acme", "app", "old", Marker(l.msg.Credential.Fingerprint), MarkerLabel)
	gh.CloseIssue("acme", "app", closed)

	if err := n.Notify(ctx, l.msg); err != nil {
		t.Fatal(err)
	}
	issues := gh.Issues("acme", "app")
	if len(issues) != 3 {
		t.Fatalf("%d issues, want 3", len(issues))
	}
	is := issues[2]
	if is.State != "open" || is.Title != l.msg.Subject || !slices.Equal(is.Labels, []string{"security", "leaked-credential"}) {
		t.Fatalf("issue = %+v", is)
	}
	if !strings.HasPrefix(is.Body, Marker(l.msg.Credential.Fingerprint)+"\n") || !strings.Contains(is.Body, "### Where it was found") {
		t.Fatalf("body = %s", is.Body)
	}

	l.msg.Actions = append(l.msg.Actions, Action{Step: "revoked the old token", At: time.Now(), Outcome: "done"})
	if err := n.Notify(ctx, l.msg); err != nil {
		t.Fatal(err)
	}
	issues = gh.Issues("acme", "app")
	if len(issues) != 3 || len(issues[2].Comments) != 1 || !strings.Contains(issues[2].Comments[0].Body, "revoked the old token") {
		t.Fatalf("second notification did not comment: %+v", issues)
	}

	other := newLeak(t)
	if err := n.Notify(ctx, other.msg); err != nil {
		t.Fatal(err)
	}
	if got := len(gh.Issues("acme", "app")); got != 4 {
		t.Fatalf("another credential: %d issues, want 4", got)
	}
}

func TestGitHubIssueFindsMarkerOnLaterPages(t *testing.T) {
	gh := githubtest.New(t)
	n := newTestIssue(t, gh, GitHubIssueConfig{})
	l := newLeak(t)
	first := gh.CreateIssue("acme", "app", "t", "intro\n"+Marker(l.msg.Credential.Fingerprint)+"\nmore", MarkerLabel)
	for range 150 { // newer issues push the first to page 2
		gh.CreateIssue("acme", "app", "t", "x", MarkerLabel)
	}
	if err := n.Notify(context.Background(), l.msg); err != nil {
		t.Fatal(err)
	}
	if got := gh.Issues("acme", "app")[first-1]; len(got.Comments) != 1 {
		t.Fatalf("issue %d not found on page 2", first)
	}
}

func TestGitHubIssuePerRepository(t *testing.T) {
	gh := githubtest.New(t)
	n := newTestIssue(t, gh, GitHubIssueConfig{})
	l := newLeak(t, "acme/app", "https://github.com/acme/private-lib.git", "not a repo")
	if err := n.Notify(context.Background(), l.msg); err != nil {
		t.Fatal(err)
	}
	app, lib := gh.Issues("acme", "app"), gh.Issues("acme", "private-lib")
	if len(app) != 1 || len(lib) != 1 {
		t.Fatalf("issues: app %d, lib %d", len(app), len(lib))
	}
	if strings.Contains(app[0].Body, "private-lib") || strings.Contains(lib[0].Body, l.msg.Locations[0].Commit) {
		t.Fatal("an issue names another repository's location")
	}
}

func TestGitHubIssueFixedRepo(t *testing.T) {
	gh := githubtest.New(t)
	n := newTestIssue(t, gh, GitHubIssueConfig{Repo: "acme/security", Labels: []string{"incident"}, Assignees: []string{"oncall"}})
	if n.Name() != "github-issue:acme/security" {
		t.Fatalf("Name = %q", n.Name())
	}
	l := newLeak(t, "acme/app", "acme/lib")
	if err := n.Notify(context.Background(), l.msg); err != nil {
		t.Fatal(err)
	}
	got := gh.Issues("acme", "security")
	if len(got) != 1 || !slices.Equal(got[0].Labels, []string{"incident", MarkerLabel}) || !strings.Contains(got[0].Body, "acme/lib") {
		t.Fatalf("issues = %+v", got)
	}
	if len(gh.Issues("acme", "app")) != 0 {
		t.Fatal("filed in the leak's repository despite Repo")
	}
}

func TestGitHubIssueRateLimitAndErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("429 on create is retried", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "POST", RetryAfter: time.Second})
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		if err := n.Notify(ctx, newLeak(t).msg); err != nil {
			t.Fatal(err)
		}
		if len(gh.Issues("acme", "app")) != 1 {
			t.Fatal("no issue")
		}
	})
	t.Run("secondary limit on list is retried", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.SecondaryRateLimit, Method: "GET", RetryAfter: time.Second})
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		if err := n.Notify(ctx, newLeak(t).msg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("502 on create is not retried", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.Status, Status: http.StatusBadGateway, Method: "POST"})
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		err := n.Notify(ctx, newLeak(t).msg)
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusBadGateway || gh.CountRequests("POST", "") != 1 {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(err.Error(), "notify github-issue in acme/app: create issue") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no repository", func(t *testing.T) {
		gh := githubtest.New(t)
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		m := newLeak(t).msg
		m.Locations = []Location{{Path: "x"}}
		if err := n.Notify(ctx, m); err == nil || gh.CountRequests("", "") != 0 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no fingerprint opens without dedup", func(t *testing.T) {
		gh := githubtest.New(t)
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		m := newLeak(t).msg
		m.Credential.Fingerprint = ""
		for range 2 {
			if err := n.Notify(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if got := gh.Issues("acme", "app"); len(got) != 2 || strings.Contains(got[0].Body, "leakstop:fingerprint") {
			t.Fatalf("issues = %+v", got)
		}
	})
}

func TestParseRepo(t *testing.T) {
	ok := map[string]string{
		"acme/app":                          "acme/app",
		" acme/app.js ":                     "acme/app.js",
		"github.com/acme/app":               "acme/app",
		"https://github.com/acme/app":       "acme/app",
		"https://github.com/acme/app.git":   "acme/app",
		"https://user@ghe.corp/acme/app/":   "acme/app",
		"git@github.com:acme/app.git":       "acme/app",
		"ssh://git@github.com/acme/app.git": "acme/app",
	}
	for in, want := range ok {
		o, r, good := parseRepo(in)
		if !good || o+"/"+r != want {
			t.Errorf("parseRepo(%q) = %q %q %v, want %q", in, o, r, good, want)
		}
	}
	for _, in := range []string{"", "acme", "acme/app/extra", "a b/c", "../x", "acme/..", "https://github.com/acme"} {
		if o, r, good := parseRepo(in); good {
			t.Errorf("parseRepo(%q) = %q %q, want failure", in, o, r)
		}
	}
}

func TestMarker(t *testing.T) {
	if Marker("") != "" || Marker("<>") != "" {
		t.Fatal("empty marker expected")
	}
	if got := Marker("ab12 --><script>"); got != "<!-- leakstop:fingerprint=ab12--script -->" {
		t.Fatalf("Marker = %q", got)
	}
}
