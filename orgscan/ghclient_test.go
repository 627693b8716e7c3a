package orgscan

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// failPage makes the first request for listing page page fail.
func failPage(f *fixture, page int, fault githubtest.Fault) { f.s.FailListingPage("acme", page, fault) }

func TestRateLimitsMidListing(t *testing.T) {
	cases := []struct {
		name     string
		fault    githubtest.Fault
		min, max time.Duration
	}{
		// Primary: wait until X-RateLimit-Reset (plus a second), once.
		{"primary waits until reset", githubtest.Fault{Kind: githubtest.PrimaryRateLimit, ResetIn: 40 * time.Second}, 39 * time.Second, 42 * time.Second},
		{"secondary waits Retry-After", githubtest.Fault{Kind: githubtest.SecondaryRateLimit, RetryAfter: 7 * time.Second}, 7 * time.Second, 7 * time.Second},
		{"secondary without Retry-After waits a minute", githubtest.Fault{Kind: githubtest.SecondaryRateLimit}, time.Minute, time.Minute},
		{"429 Retry-After", githubtest.Fault{Kind: githubtest.TooManyRequests, RetryAfter: 3 * time.Second}, 3 * time.Second, 3 * time.Second},
		{"429 with exhausted quota waits until reset", githubtest.Fault{Kind: githubtest.TooManyRequests, ResetIn: 20 * time.Second}, 19 * time.Second, 22 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 65)
			f.s.ForcePageSize(20)
			failPage(f, 2, c.fault)
			// No request may be sent during the wait.
			var during []int
			f.clock.onWait = func(time.Duration) { during = append(during, f.listCalls()) }
			repos, err := ListRepos(context.Background(), f.c, "acme", Filter{})
			if err != nil {
				t.Fatal(err)
			}
			waits := f.clock.waits()
			if len(repos) != 65 || f.listCalls() != 5 {
				t.Fatalf("%d repositories in %d requests, want 65 in 5", len(repos), f.listCalls())
			}
			if len(waits) != 1 || waits[0] < c.min || waits[0] > c.max {
				t.Fatalf("waits %v, want one in [%s, %s]", waits, c.min, c.max)
			}
			if during[0] != 2 {
				t.Fatalf("waited after request %d, want right after the refused page 2", during[0])
			}
			reqs := f.s.Requests()
			if reqs[1].Status == 200 || reqs[2].RawQuery != reqs[1].RawQuery {
				t.Fatalf("page 2 was not asked again after the wait: %d %s, %d %s", reqs[1].Status, reqs[1].RawQuery, reqs[2].Status, reqs[2].RawQuery)
			}
			log := f.log.String()
			if !strings.Contains(log, "waiting for GitHub rate limit") || strings.Contains(log, f.s.Token()) {
				t.Fatalf("log: %s", log)
			}
		})
	}
}

func TestRateLimitTooLongFails(t *testing.T) {
	f := newFixture(t, 65)
	f.s.ForcePageSize(20)
	failPage(f, 2, githubtest.Fault{Kind: githubtest.PrimaryRateLimit, ResetIn: 3 * time.Hour})
	_, err := ListRepos(context.Background(), f.c, "acme", Filter{})
	var rle *github.RateLimitError
	if !errors.As(err, &rle) || !strings.Contains(err.Error(), "page 2") {
		t.Fatalf("err = %v", err)
	}
	if f.listCalls() != 2 || len(f.clock.waits()) != 0 {
		t.Fatalf("%d requests, waits %v: a 3-hour window is not waited for", f.listCalls(), f.clock.waits())
	}
	if strings.Contains(err.Error(), f.s.Token()) {
		t.Fatal("token in the error")
	}
}

// TestRateLimitNotRetriedForPOST: a POST is not retried, but its window
// holds the next request back.
func TestRateLimitNotRetriedForPOST(t *testing.T) {
	f := newFixture(t, 1)
	f.s.InjectFault(githubtest.Fault{Kind: githubtest.SecondaryRateLimit, Method: "POST", RetryAfter: 9 * time.Second})
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.s.URL()+"/api/v3/repos/acme/repo-00/issues", strings.NewReader(`{"title":"t"}`))
	resp, err := f.c.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || f.s.CountRequests("POST", "") != 1 {
		t.Fatalf("POST: %d, %d requests", resp.StatusCode, f.s.CountRequests("POST", ""))
	}
	if len(f.clock.waits()) != 0 {
		t.Fatalf("waited %v before failing the POST", f.clock.waits())
	}
	// The window holds the next request back.
	if _, err := ListRepos(ctx, f.c, "acme", Filter{}); err != nil {
		t.Fatal(err)
	}
	if w := f.clock.waits(); len(w) == 0 || w[0] < 8*time.Second || w[0] > 9*time.Second {
		t.Fatalf("waits %v, want the 9 s window", w)
	}
}

// TestQuotaExhaustedOnSuccess: a 200 with X-RateLimit-Remaining 0 means
// the next request waits until the reset; nothing is sent before.
func TestQuotaExhaustedOnSuccess(t *testing.T) {
	var calls atomic.Int32
	var second atomic.Int64
	reset := time.Now().Add(1500 * time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			w.Header().Set("Link", `<`+"http://"+r.Host+r.URL.Path+`?page=2>; rel="next"`)
			_, _ = w.Write([]byte(`[{"id":1,"name":"a","full_name":"o/a","owner":{"login":"o"},"clone_url":"https://x/o/a.git"}]`))
			return
		}
		second.Store(time.Now().UnixNano())
		w.Header().Set("X-RateLimit-Remaining", "4999")
		_, _ = w.Write([]byte(`[{"id":2,"name":"b","full_name":"o/b","owner":{"login":"o"},"clone_url":"https://x/o/b.git"}]`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/api/v3", NewStaticToken("t0k3n-value-123"), ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repos, err := ListRepos(context.Background(), c, "o", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 2 || calls.Load() != 2 {
		t.Fatalf("%d repos, %d calls", len(repos), calls.Load())
	}
	if got := time.Unix(0, second.Load()); got.Before(time.Unix(reset.Unix(), 0)) {
		t.Fatalf("second request at %s, before the reset %s", got, time.Unix(reset.Unix(), 0))
	}
}

func TestClientURLsAndAuthorization(t *testing.T) {
	var auth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer other.Close()
	f := newFixture(t, 1)
	if got := f.c.BaseURL.String(); got != f.s.URL()+"/api/v3/" {
		t.Fatalf("base URL %s", got)
	}
	ctx := context.Background()
	if _, err := ListRepos(ctx, f.c, "acme", Filter{}); err != nil {
		t.Fatal(err)
	}
	if h := f.s.Requests()[0].Header.Get("Authorization"); h != "Bearer "+f.s.Token() {
		t.Fatalf("Authorization %q", h)
	}
	// Another host never gets the token.
	req, _ := f.c.NewRequest("GET", other.URL+"/x", nil)
	if _, err := f.c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	if got := auth.Load(); got != "" {
		t.Fatalf("other host got Authorization %q", got)
	}

	// A GitHub Enterprise base: every request goes under /api/v3, through
	// the caller's transport.
	var paths []string
	rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		paths = append(paths, r.URL.Path)
		return http.DefaultTransport.RoundTrip(r)
	})
	c, err := NewClient(f.s.URL()+"/api/v3/", NewStaticToken(f.s.Token()), ClientOptions{HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	f.s.ForcePageSize(1)
	f.s.AddOrgRepo("acme", githubtest.OrgRepo{Name: "second"})
	if repos, err := ListRepos(ctx, c, "acme", Filter{}); err != nil || len(repos) != 2 {
		t.Fatalf("GHE listing: %v %v", repos, err)
	}
	if len(paths) != 2 || paths[0] != "/api/v3/orgs/acme/repos" || paths[1] != "/api/v3/orgs/acme/repos" {
		t.Fatalf("GHE paths %v", paths)
	}

	for in, want := range map[string]string{
		"https://ghe.example.com":         "https://ghe.example.com/api/v3/",
		"https://ghe.example.com/":        "https://ghe.example.com/api/v3/",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/api/v3/",
		"https://api.github.com":          "https://api.github.com/",
	} {
		base, _, err := apiURLs(in)
		if err != nil || base.String() != want {
			t.Errorf("apiURLs(%q) = %v, %v; want %s", in, base, err, want)
		}
	}
	c, err = NewClient("", NewStaticToken("x"), ClientOptions{})
	if err != nil || c.BaseURL.String() != "https://api.github.com/" {
		t.Fatalf("default: %v %v", c, err)
	}
	c, err = NewClient("https://ghe.example.com/api/v3", NewStaticToken("x"), ClientOptions{})
	if err != nil || c.BaseURL.String() != "https://ghe.example.com/api/v3/" || c.UploadURL.String() != "https://ghe.example.com/api/uploads/" {
		t.Fatalf("GHE: %v %v", c, err)
	}
	for _, bad := range []string{"ftp://x", "https://user:pw-secret@ghe.example.com/api/v3", "ftp://u:pw-secret@x",
		"::pw-secret", "https://h/api/v3?token=pw-secret", "ghe.example.com"} {
		if _, err := NewClient(bad, NewStaticToken("x"), ClientOptions{}); err == nil {
			t.Errorf("NewClient(%q) worked", bad)
		} else if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestTokenSourceErrorStopsRequest(t *testing.T) {
	f := newFixture(t, 1)
	c := f.client(t, NewStaticToken(""))
	_, err := ListRepos(context.Background(), c, "acme", Filter{})
	if err == nil || !strings.Contains(err.Error(), "token is empty") || len(f.s.Requests()) != 0 {
		t.Fatalf("err = %v, %d requests", err, len(f.s.Requests()))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
