package githubtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestAuthRequired(t *testing.T) {
	s := New(t)
	for _, h := range []string{"", "Basic abc", "Bearer ", "token"} {
		req, _ := http.NewRequest("GET", s.URL()+"/repos/o/r/actions/secrets/public-key", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", h, resp.StatusCode)
		}
	}
	for _, h := range []string{"Bearer x", "token y"} {
		req, _ := http.NewRequest("GET", s.URL()+"/api/v3/repos/o/r/actions/secrets/public-key", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization %q: status %d, want 200", h, resp.StatusCode)
		}
	}
}

func TestBaseURLAndRecording(t *testing.T) {
	s := New(t)
	c := github.NewClient(nil).WithAuthToken("other")
	var err error
	c.BaseURL, err = c.BaseURL.Parse(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Actions.GetOrgPublicKey(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/orgs/acme/actions/secrets/public-key" || reqs[0].Status != 200 ||
		reqs[0].Header.Get("Authorization") != "Bearer other" {
		t.Fatalf("requests = %+v", reqs)
	}
	if n := s.CountRequests("GET", "/orgs/*/actions/secrets/public-key"); n != 1 {
		t.Fatalf("CountRequests = %d", n)
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	s := New(t)
	_, _, err := s.Client().Repositories.Get(context.Background(), "o", "r")
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("err = %v", err)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("primary", func(t *testing.T) {
		s := New(t)
		s.InjectFault(Fault{Kind: PrimaryRateLimit, Path: "/repos/*/*/actions/secrets/public-key", Reset: time.Now().Add(-time.Second)})
		_, _, err := s.Client().Actions.GetRepoPublicKey(ctx, "o", "r")
		var rle *github.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("err = %T %v", err, err)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		s := New(t)
		s.InjectFault(Fault{Kind: SecondaryRateLimit, RetryAfter: 3 * time.Second})
		_, _, err := s.Client().Actions.GetRepoPublicKey(ctx, "o", "r")
		var are *github.AbuseRateLimitError
		if !errors.As(err, &are) || are.RetryAfter == nil || *are.RetryAfter != 3*time.Second {
			t.Fatalf("err = %T %v", err, err)
		}
	})
	t.Run("reset after the request", func(t *testing.T) {
		s := New(t)
		s.InjectFault(Fault{Kind: TooManyRequests, ResetIn: time.Hour})
		time.Sleep(1100 * time.Millisecond) // the reset counts from the request, not the injection
		before := time.Now()
		_, resp, err := s.Client().Actions.GetRepoPublicKey(ctx, "o", "r")
		if statusOf(err) != http.StatusTooManyRequests {
			t.Fatalf("err = %v", err)
		}
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if want := before.Add(time.Hour).Unix(); reset < want || reset > want+1 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("X-RateLimit-Reset %d, want %d", reset, want)
		}
	})
	t.Run("429", func(t *testing.T) {
		s := New(t)
		s.InjectFault(Fault{Kind: TooManyRequests, Method: "GET", RetryAfter: 1500 * time.Millisecond, Times: 2})
		c := s.Client()
		for range 2 {
			_, resp, err := c.Actions.GetRepoPublicKey(ctx, "o", "r")
			if statusOf(err) != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
				t.Fatalf("err = %v", err)
			}
		}
		if _, _, err := c.Actions.GetRepoPublicKey(ctx, "o", "r"); err != nil {
			t.Fatalf("third call: %v", err)
		}
		if s.PendingFaults() != 0 {
			t.Fatal("faults left")
		}
	})
	t.Run("status", func(t *testing.T) {
		s := New(t)
		s.InjectFault(Fault{Kind: Status, Status: http.StatusBadGateway, Method: "PUT"})
		c := s.Client()
		if _, _, err := c.Actions.GetRepoPublicKey(ctx, "o", "r"); err != nil {
			t.Fatalf("GET should not match: %v", err)
		}
		_, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", &github.EncryptedSecret{Name: "X"})
		if statusOf(err) != http.StatusBadGateway {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestOnRequestHook(t *testing.T) {
	s := New(t)
	var seen []string
	s.OnRequest(func(r Request) { seen = append(seen, r.Method+" "+r.Path) })
	req, _ := http.NewRequest("POST", s.URL()+"/repos/o/r/issues", strings.NewReader(`{"title":"t"}`))
	req.Header.Set("Authorization", "token x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(seen) != 1 || seen[0] != "POST /repos/o/r/issues" {
		t.Fatalf("seen = %v", seen)
	}
}
