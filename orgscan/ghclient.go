package orgscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/wait"
)

// DefaultMaxWait is the longest single rate-limit wait of a client made
// by NewClient: a primary window lasts at most an hour.
const DefaultMaxWait = 61 * time.Minute

// ClientOptions tunes NewClient; the zero value is fine.
type ClientOptions struct {
	// HTTPClient's transport and timeout are used; nil is
	// http.DefaultTransport without a timeout.
	HTTPClient *http.Client
	// Policy bounds retries of rate-limited GETs; a zero MaxWait is
	// DefaultMaxWait, other zero fields ghretry's defaults.
	Policy ghretry.Policy
	// Clock is where waits are measured and taken; zero is the real one.
	Clock ghretry.Clock
	// Log, when set, gets one line per rate-limit wait (never a token).
	Log *slog.Logger
}

// NewClient returns a go-github client for the API at apiURL ("" is
// api.github.com; a GitHub Enterprise base is https://HOST/api/v3) that
// authenticates every request to that host with "Authorization: Bearer"
// and a token from ts, and honours GitHub's rate limits: after a response
// with X-RateLimit-Remaining 0 no request is sent before
// X-RateLimit-Reset; a rate-limited GET (403 or 429) is retried after
// Retry-After, else the reset, else at least a minute (ghretry's rules);
// other methods are not retried.
func NewClient(apiURL string, ts TokenSource, o ClientOptions) (*github.Client, error) {
	if ts == nil {
		return nil, errors.New("create GitHub client: no token source")
	}
	base, upload, err := apiURLs(apiURL)
	if err != nil {
		return nil, fmt.Errorf("create GitHub client: %w", err)
	}
	if o.Policy.MaxWait <= 0 {
		o.Policy.MaxWait = DefaultMaxWait
	}
	t := &transport{base: http.DefaultTransport, ts: ts, host: base.Host, policy: o.Policy, clock: o.Clock, log: o.Log}
	if t.clock.Now == nil {
		t.clock.Now = time.Now
	}
	if t.clock.Sleep == nil {
		t.clock.Sleep = wait.Sleep
	}
	hc := &http.Client{Transport: t}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		if c.Transport != nil {
			t.base = c.Transport
		}
		c.Transport = t
		hc = &c
	}
	c := github.NewClient(hc)
	if apiURL == "" {
		return c, nil
	}
	c, err = c.WithEnterpriseURLs(base.String(), upload.String())
	if err != nil {
		return nil, fmt.Errorf("create GitHub client: %w", err)
	}
	return c, nil
}

// apiURLs checks a user's --github-api-url and derives the base and
// upload URLs go-github wants.
func apiURLs(apiURL string) (base, upload *url.URL, err error) {
	if apiURL == "" {
		apiURL = "https://api.github.com/"
	}
	u, err := url.Parse(apiURL)
	// The URL is quoted only once it is known to hold no credentials.
	switch {
	case err != nil:
		return nil, nil, errors.New("parse GitHub API URL: not a URL")
	case u.User != nil:
		return nil, nil, errors.New("GitHub API URL: credentials in a URL are not accepted; pass the token in the environment")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, nil, errors.New("GitHub API URL: no query or fragment allowed")
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, nil, fmt.Errorf("GitHub API URL %q: want https://HOST[/api/v3]", apiURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	// As go-github's WithEnterpriseURLs: a GitHub Enterprise host's API
	// is under /api/v3/ (the app token source must agree with it).
	if !strings.HasSuffix(u.Path, "/api/v3/") && !strings.HasPrefix(u.Host, "api.") && !strings.Contains(u.Host, ".api.") {
		u.Path += "api/v3/"
	}
	up := *u
	if p, ok := strings.CutSuffix(u.Path, "/api/v3/"); ok {
		up.Path = p + "/api/uploads/"
	}
	return u, &up, nil
}

// transport authenticates and rate-limits the requests of one client.
type transport struct {
	base   http.RoundTripper
	ts     TokenSource
	host   string
	policy ghretry.Policy
	clock  ghretry.Clock
	log    *slog.Logger

	mu    sync.Mutex
	until time.Time // no request before this: an open rate-limit window
	why   string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.send(ctx, req)
	}
	var last *http.Response
	clock := t.clock
	clock.Sleep = func(ctx context.Context, d time.Duration) error {
		why := "retry"
		switch {
		case last == nil:
		case last.Header.Get("X-RateLimit-Remaining") == "0":
			why = "primary rate limit"
		case last.StatusCode == http.StatusForbidden || last.StatusCode == http.StatusTooManyRequests:
			why = "secondary rate limit"
		default:
			why = "server error " + strconv.Itoa(last.StatusCode)
		}
		t.logWait(req, d, why)
		return t.clock.Sleep(ctx, d)
	}
	err := t.policy.DoWith(ctx, clock, true, func(ctx context.Context) (*github.Response, error) {
		if last != nil {
			_, _ = io.Copy(io.Discard, last.Body)
			last.Body.Close()
			last = nil
		}
		resp, err := t.send(ctx, req)
		if err != nil {
			return nil, err
		}
		last = resp
		if c := resp.StatusCode; c != http.StatusForbidden && c != http.StatusTooManyRequests && c < 500 {
			return &github.Response{Response: resp}, nil
		}
		return &github.Response{Response: resp}, classify(resp, t.clock.Now())
	})
	if last != nil && ctx.Err() == nil {
		// The last answer, good or not: go-github makes its typed error.
		return last, nil
	}
	if last != nil {
		last.Body.Close()
	}
	return nil, err
}

// classify is go-github's error for resp, except that a secondary rate
// limit's RetryAfter comes from Retry-After alone: go-github falls back
// to X-RateLimit-Reset, which GitHub sends on every answer (the primary
// quota's reset, up to an hour away), while GitHub's documentation says
// to wait at least a minute when there is no Retry-After.
func classify(resp *http.Response, now time.Time) error {
	err := github.CheckResponse(resp)
	var are *github.AbuseRateLimitError
	if errors.As(err, &are) {
		fixed := &github.AbuseRateLimitError{Response: are.Response, Message: are.Message}
		if ra, ok := wait.RetryAfter(resp.Header.Get("Retry-After"), now); ok {
			fixed.RetryAfter = &ra
		}
		return fixed
	}
	return err
}

// send waits out an open window, then sends one attempt of req with the
// token, and notes the window the answer opens.
func (t *transport) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	if err := t.waitWindow(ctx, req); err != nil {
		return nil, err
	}
	r := req.Clone(ctx)
	if req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("send %s %s: %w", req.Method, req.URL.Path, err)
		}
		r.Body = body
	}
	r.Header.Del("Authorization")
	if r.URL.Host == t.host {
		tok, err := t.ts.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("get GitHub token: %w", err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.observe(resp)
	return resp, nil
}

// observe opens a window when resp exhausted the quota (until its reset)
// or asked to come back later (Retry-After on a 403 or 429).
func (t *transport) observe(resp *http.Response) {
	now := t.clock.Now()
	var until time.Time
	var why string
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if epoch, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			until, why = time.Unix(epoch, 0).Add(time.Second), "primary rate limit"
		}
	}
	if c := resp.StatusCode; c == http.StatusForbidden || c == http.StatusTooManyRequests {
		if ra, ok := wait.RetryAfter(resp.Header.Get("Retry-After"), now); ok && now.Add(ra).After(until) {
			until, why = now.Add(ra), "secondary rate limit"
		}
	}
	if until.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.until) {
		t.until, t.why = until, why
	}
}

// waitWindow sleeps until the open window, if any, ends.
func (t *transport) waitWindow(ctx context.Context, req *http.Request) error {
	t.mu.Lock()
	d, why := t.until.Sub(t.clock.Now()), t.why
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	if d > t.policy.MaxWait {
		return fmt.Errorf("wait %s for GitHub's %s: more than %s", d.Round(time.Second), why, t.policy.MaxWait)
	}
	if dl, ok := ctx.Deadline(); ok && t.clock.Now().Add(d).After(dl) {
		return fmt.Errorf("wait %s for GitHub's %s: past the deadline", d.Round(time.Second), why)
	}
	t.logWait(req, d, why)
	if err := t.clock.Sleep(ctx, d); err != nil {
		return fmt.Errorf("wait for GitHub's %s: %w", why, err)
	}
	return nil
}

func (t *transport) logWait(req *http.Request, d time.Duration, why string) {
	if t.log == nil {
		return
	}
	t.log.LogAttrs(req.Context(), slog.LevelInfo, "waiting for GitHub rate limit",
		slog.String("reason", why), slog.Duration("wait", d),
		slog.String("method", req.Method), slog.String("path", req.URL.Path))
}
