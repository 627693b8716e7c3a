package sink

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
)

// fastRetry keeps waits without a hint short in tests.
var fastRetry = ghretry.Policy{MinWait: 10 * time.Millisecond, ServerErrorWait: 10 * time.Millisecond}

func newGitHubSink(t *testing.T, gh *githubtest.Server, cfg GitHubSecretConfig) *GitHubSecret {
	t.Helper()
	if cfg.Retry == (ghretry.Policy{}) {
		cfg.Retry = fastRetry
	}
	s, err := NewGitHubSecret(gh.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNoPlaintext fails when the secret went over the wire in clear.
func assertNoPlaintext(t *testing.T, gh *githubtest.Server, d Delivery) {
	t.Helper()
	sv := []byte(d.Secret.Reveal())
	for _, r := range gh.Requests() {
		if bytes.Contains(r.Body, sv) || strings.Contains(r.Path+r.RawQuery, string(sv)) {
			t.Fatalf("secret sent in clear: %s %s", r.Method, r.Path)
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, string(sv)) {
					t.Fatalf("secret in header %s", k)
				}
			}
		}
	}
}

func TestGitHubRepoSecret(t *testing.T) {
	gh := githubtest.New(t)
	s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "acme", Repo: "app", Name: "TWILIO_AUTH_TOKEN", KeySIDName: "TWILIO_API_KEY_SID"})
	if got, want := s.Name(), "github-repo:acme/app:TWILIO_AUTH_TOKEN"; got != want {
		t.Fatalf("Name = %q, want %q", got, want)
	}
	d := newDelivery(t)
	ctx := context.Background()
	for range 2 { // idempotent
		if err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := gh.RepoSecret("acme", "app", "TWILIO_AUTH_TOKEN"); !ok || got != d.Secret.Reveal() {
		t.Fatalf("repo secret: ok=%v, matches=%v", ok, got == d.Secret.Reveal())
	}
	if _, ok := gh.RepoSecret("acme", "app", "TWILIO_API_KEY_SID"); ok {
		t.Fatal("an auth-token delivery wrote the key SID secret")
	}
	assertNoPlaintext(t, gh, d)
}

func TestGitHubRepoSecretAPIKey(t *testing.T) {
	gh := githubtest.New(t)
	s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "acme", Repo: "app", Name: "TWILIO_API_SECRET", KeySIDName: "TWILIO_API_KEY"})
	d := newAPIKeyDelivery(t)
	if err := s.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got, _ := gh.RepoSecret("acme", "app", "TWILIO_API_SECRET"); got != d.Secret.Reveal() {
		t.Fatal("secret not written")
	}
	if got, _ := gh.RepoSecret("acme", "app", "TWILIO_API_KEY"); got != d.KeySID {
		t.Fatalf("key SID secret = %q, want %q", got, d.KeySID)
	}
	if n := gh.CountRequests("GET", "/repos/acme/app/actions/secrets/public-key"); n != 1 {
		t.Fatalf("public key fetched %d times, want once", n)
	}
	assertNoPlaintext(t, gh, d)
}

func TestGitHubOrgSecret(t *testing.T) {
	ctx := context.Background()
	t.Run("configured selected", func(t *testing.T) {
		gh := githubtest.New(t)
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "acme", Name: "TWILIO_AUTH_TOKEN",
			Visibility: VisibilitySelected, SelectedRepositoryIDs: []int64{4, 5}})
		if s.Name() != "github-org:acme:TWILIO_AUTH_TOKEN" {
			t.Fatalf("Name = %q", s.Name())
		}
		d := newDelivery(t)
		if err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, ok := gh.OrgSecret("acme", "TWILIO_AUTH_TOKEN")
		vis, ids, _ := gh.OrgSecretAccess("acme", "TWILIO_AUTH_TOKEN")
		if !ok || got != d.Secret.Reveal() || vis != "selected" || len(ids) != 2 {
			t.Fatalf("org secret: ok=%v match=%v vis=%s ids=%v", ok, got == d.Secret.Reveal(), vis, ids)
		}
		assertNoPlaintext(t, gh, d)
	})
	t.Run("existing visibility kept", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.SetOrgSecret("acme", "TWILIO_AUTH_TOKEN", "old-"+randHex(t, 8), "selected", []int64{11, 12, 13})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "acme", Name: "TWILIO_AUTH_TOKEN"})
		d := newDelivery(t)
		if err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, _ := gh.OrgSecret("acme", "TWILIO_AUTH_TOKEN")
		vis, ids, _ := gh.OrgSecretAccess("acme", "TWILIO_AUTH_TOKEN")
		if got != d.Secret.Reveal() || vis != "selected" || len(ids) != 3 || ids[2] != 13 {
			t.Fatalf("vis=%s ids=%v match=%v", vis, ids, got == d.Secret.Reveal())
		}
	})
	t.Run("new secret is private", func(t *testing.T) {
		gh := githubtest.New(t)
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "acme", Name: "TWILIO_AUTH_TOKEN"})
		if err := s.Deliver(ctx, newDelivery(t)); err != nil {
			t.Fatal(err)
		}
		if vis, _, _ := gh.OrgSecretAccess("acme", "TWILIO_AUTH_TOKEN"); vis != "private" {
			t.Fatalf("visibility = %q", vis)
		}
	})
}

func TestGitHubRateLimitRetries(t *testing.T) {
	cases := []struct {
		name  string
		fault githubtest.Fault
		min   time.Duration // the wait the hint asks for
	}{
		{"429 with Retry-After", githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "PUT", RetryAfter: time.Second}, time.Second},
		{"429 without hints", githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "PUT", Times: 2}, 0},
		{"429 with reset", githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "GET", Reset: time.Now().Add(time.Second)}, 0},
		{"primary 403", githubtest.Fault{Kind: githubtest.PrimaryRateLimit, Method: "GET", Reset: time.Now().Add(time.Second)}, 0},
		{"secondary 403", githubtest.Fault{Kind: githubtest.SecondaryRateLimit, Method: "PUT", RetryAfter: time.Second}, time.Second},
		{"502 on an idempotent PUT", githubtest.Fault{Kind: githubtest.Status, Status: http.StatusBadGateway, Method: "PUT"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gh := githubtest.New(t)
			gh.InjectFault(tc.fault)
			s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN"})
			d := newDelivery(t)
			start := time.Now()
			if err := s.Deliver(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < tc.min {
				t.Fatalf("retried after %s, before the %s asked for", el, tc.min)
			}
			if got, _ := gh.RepoSecret("o", "r", "TOKEN"); got != d.Secret.Reveal() {
				t.Fatal("secret not written")
			}
			if gh.PendingFaults() != 0 {
				t.Fatal("fault did not fire")
			}
		})
	}
}

func TestGitHubRateLimitGivesUp(t *testing.T) {
	ctx := context.Background()
	t.Run("attempts", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "PUT", Times: 5})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN",
			Retry: ghretry.Policy{MaxAttempts: 3, MinWait: time.Millisecond}})
		err := s.Deliver(ctx, newDelivery(t))
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("err = %v", err)
		}
		if n := gh.CountRequests("PUT", ""); n != 3 {
			t.Fatalf("%d PUTs, want 3", n)
		}
	})
	t.Run("wait longer than MaxWait", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, RetryAfter: time.Hour})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN",
			Retry: ghretry.Policy{MaxWait: time.Minute}})
		start := time.Now()
		err := s.Deliver(ctx, newDelivery(t))
		if err == nil || !strings.Contains(err.Error(), "1h0m0s") || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %s", err, time.Since(start))
		}
	})
	t.Run("wait past the deadline", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.SecondaryRateLimit, RetryAfter: 30 * time.Second})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN"})
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		err := s.Deliver(ctx, newDelivery(t))
		var are *github.AbuseRateLimitError
		if !errors.As(err, &are) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, RetryAfter: 30 * time.Second})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN"})
		ctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		err := s.Deliver(ctx, newDelivery(t))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not retried: 404", func(t *testing.T) {
		gh := githubtest.New(t)
		gh.InjectFault(githubtest.Fault{Kind: githubtest.Status, Status: http.StatusNotFound, Times: 3})
		s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN"})
		if err := s.Deliver(ctx, newDelivery(t)); err == nil || gh.CountRequests("", "") != 1 {
			t.Fatalf("err = %v after %d requests", err, gh.CountRequests("", ""))
		}
	})
}

func TestGitHubBadKeyID(t *testing.T) {
	gh := githubtest.New(t)
	// The key rotates between our fetching it and our writing: GitHub
	// answers 422 and the sink must say so.
	gh.OnRequest(func(r githubtest.Request) {
		if r.Method == "PUT" {
			gh.RotateRepoKey("o", "r")
		}
	})
	s := newGitHubSink(t, gh, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "TOKEN"})
	d := newDelivery(t)
	err := s.Deliver(context.Background(), d)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("err = %v, want a 422", err)
	}
	if !strings.Contains(err.Error(), "github-repo:o/r:TOKEN") || strings.Contains(err.Error(), d.Secret.Reveal()) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := gh.RepoSecret("o", "r", "TOKEN"); ok {
		t.Fatal("secret written despite 422")
	}
	if n := gh.CountRequests("PUT", ""); n != 1 {
		t.Fatalf("a 422 was retried: %d PUTs", n)
	}
}

func TestNewGitHubSecretValidates(t *testing.T) {
	gh := githubtest.New(t)
	bad := []GitHubSecretConfig{
		{Owner: "o", Repo: "r"},
		{Owner: "o", Repo: "r", Name: "1TOKEN"},
		{Owner: "o", Repo: "r", Name: "GITHUB_TOKEN"},
		{Owner: "o", Repo: "r", Name: "A-B"},
		{Owner: "o", Repo: "r", Name: "A", KeySIDName: "a"},
		{Owner: "o", Repo: "r", Name: "A", KeySIDName: "B C"},
		{Owner: "", Repo: "r", Name: "A"},
		{Owner: "o/r", Name: "A"},
		{Owner: "o", Repo: "r", Name: "A", Visibility: "all"},
		{Owner: "o", Name: "A", Visibility: "public"},
		{Owner: "o", Name: "A", Visibility: "all", SelectedRepositoryIDs: []int64{1}},
	}
	for _, cfg := range bad {
		if _, err := NewGitHubSecret(gh.Client(), cfg); err == nil {
			t.Errorf("NewGitHubSecret(%+v) = nil error", cfg)
		}
	}
	if _, err := NewGitHubSecret(nil, GitHubSecretConfig{Owner: "o", Repo: "r", Name: "A"}); err == nil {
		t.Error("nil client accepted")
	}
	s, _ := NewGitHubSecret(gh.Client(), GitHubSecretConfig{Owner: "o", Repo: "r", Name: "A"})
	if err := s.Deliver(context.Background(), Delivery{AccountSID: "x", Kind: KindAPIKey}); !errors.Is(err, ErrInvalidDelivery) {
		t.Errorf("incomplete delivery: err = %v", err)
	}
	if gh.CountRequests("", "") != 0 {
		t.Error("an invalid delivery reached GitHub")
	}
}
