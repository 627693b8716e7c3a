package sink

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func response(status int, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Request: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}}}
}

func TestRetryWait(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := GitHubRetry{}.withDefaults()
	reset := strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)
	thirty := 30 * time.Second
	cases := []struct {
		name       string
		err        error
		attempt    int
		idempotent bool
		want       time.Duration
		retry      bool
	}{
		{"primary 403 waits for reset", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(42 * time.Second)}}, Response: response(403)}, 0, true, 43 * time.Second, true},
		{"secondary 403 honours RetryAfter", &github.AbuseRateLimitError{RetryAfter: &thirty, Response: response(403)}, 0, true, thirty, true},
		{"secondary 403 without hint backs off", &github.AbuseRateLimitError{Response: response(403)}, 2, true, 4 * time.Minute, true},
		{"429 Retry-After seconds", &github.ErrorResponse{Response: response(429, "Retry-After", "7")}, 0, false, 7 * time.Second, true},
		{"429 Retry-After date", &github.ErrorResponse{Response: response(429, "Retry-After", now.Add(9*time.Second).UTC().Format(http.TimeFormat))}, 0, false, 9 * time.Second, true},
		{"429 remaining 0 waits for reset", &github.ErrorResponse{Response: response(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)}, 0, false, 43 * time.Second, true},
		{"429 without hints: a minute, doubling", &github.ErrorResponse{Response: response(429)}, 1, false, 2 * time.Minute, true},
		{"403 with Retry-After", &github.ErrorResponse{Response: response(403, "Retry-After", "5")}, 0, false, 5 * time.Second, true},
		{"plain 403", &github.ErrorResponse{Response: response(403)}, 0, true, 0, false},
		{"502 idempotent", &github.ErrorResponse{Response: response(502)}, 3, true, 8 * time.Second, true},
		{"502 not idempotent", &github.ErrorResponse{Response: response(502)}, 0, false, 0, false},
		{"422", &github.ErrorResponse{Response: response(422)}, 0, true, 0, false},
		{"transport error", errors.New("connection refused"), 0, true, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, retry := retryWait(tc.err, nil, tc.attempt, p, tc.idempotent, now)
			if retry != tc.retry || (retry && got != tc.want) {
				t.Fatalf("retryWait = %s, %v; want %s, %v", got, retry, tc.want, tc.retry)
			}
		})
	}
}
