package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
)

const (
	maxSuccessBody = 8 << 20
	maxErrorBody   = 64 << 10
)

// request is one logical call; do runs it with retries.
type request struct {
	method string
	base   *url.URL
	path   string     // absolute path below the base, e.g. /2010-04-01/Accounts/AC….json
	query  url.Values // GET only
	form   url.Values // POST only, sent form-encoded
	cred   Credential
	out    any // JSON target for a 2xx body; nil to ignore the body
}

func (rq *request) url() string {
	u := *rq.base
	u.Path = rq.base.Path + rq.path
	u.RawQuery = rq.query.Encode()
	return u.String()
}

// failure classifies a failed attempt for the retry loop.
type failure int

const (
	failNone       failure = iota
	failFinal              // definite answer (4xx, bad arguments): return as is
	failNotSent            // no connection was made: safe to retry any method
	failThrottled          // 429: Twilio did not process it, safe to retry
	failAmbiguous          // 5xx, timeout, reset after sending: may have been applied
	failUnreadable         // 2xx whose body is unusable: applied, result lost
	failCanceled           // the caller's context ended
)

type attemptResult struct {
	kind       failure
	err        error
	retryAfter time.Duration
	sent       bool // a connection was obtained, so the request may have reached Twilio
}

// attempt sends rq once, bounded by the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, rq *request) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var connected atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	var body io.Reader
	if rq.method == http.MethodPost {
		body = strings.NewReader(rq.form.Encode())
	}
	req, err := http.NewRequestWithContext(actx, rq.method, rq.url(), body)
	if err != nil {
		return attemptResult{kind: failFinal, err: fmt.Errorf("twilio: %s %s: build request: %w", rq.method, rq.path, err)}
	}
	req.SetBasicAuth(rq.cred.Username, rq.cred.Password.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if rq.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		err = transportError(rq, err)
		sent := connected.Load()
		switch {
		case ctx.Err() != nil:
			return attemptResult{kind: failCanceled, err: ctx.Err(), sent: sent}
		case !sent:
			return attemptResult{kind: failNotSent, err: err}
		default:
			return attemptResult{kind: failAmbiguous, err: err, sent: true}
		}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return c.readSuccess(ctx, rq, resp)
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	apiErr := parseError(resp, data, rq)
	res := attemptResult{err: apiErr, sent: true}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		res.kind = failThrottled
		res.retryAfter, _ = wait.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case resp.StatusCode >= 500:
		res.kind = failAmbiguous
		res.retryAfter, _ = wait.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		res.kind = failFinal
	}
	return res
}

func (c *Client) readSuccess(ctx context.Context, rq *request, resp *http.Response) attemptResult {
	if rq.out == nil {
		return attemptResult{kind: failNone}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSuccessBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return attemptResult{kind: failCanceled, err: ctx.Err(), sent: true}
		}
		return attemptResult{kind: failAmbiguous, err: transportError(rq, err), sent: true}
	}
	if len(data) > maxSuccessBody {
		return attemptResult{kind: failUnreadable, sent: true,
			err: fmt.Errorf("twilio: %s %s: %w: body larger than %d bytes", rq.method, rq.path, ErrMalformedResponse, maxSuccessBody)}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
		return attemptResult{kind: failUnreadable, sent: true,
			err: fmt.Errorf("twilio: %s %s: %w: content type %q, want application/json", rq.method, rq.path, ErrMalformedResponse, mt)}
	}
	if err := json.Unmarshal(data, rq.out); err != nil {
		return attemptResult{kind: failUnreadable, sent: true,
			err: fmt.Errorf("twilio: %s %s: %w: %s", rq.method, rq.path, ErrMalformedResponse, describeJSONError(err))}
	}
	return attemptResult{kind: failNone}
}

// describeJSONError names what went wrong without quoting the body (which
// may hold a new secret).
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong JSON type", te.Field)
	default:
		return "invalid JSON"
	}
}

// transportError drops the *url.Error wrapper (its text repeats the URL)
// and names the call instead.
func transportError(rq *request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("twilio: %s %s: %w", rq.method, rq.path, err)
}

type errorBody struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func parseError(resp *http.Response, data []byte, rq *request) *Error {
	e := &Error{HTTPStatus: resp.StatusCode, Method: rq.method, Path: rq.path}
	var b errorBody
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" && json.Unmarshal(data, &b) == nil {
		e.Code = b.Code
		e.Message = cleanMessage(b.Message, rq.cred.Password)
		if strings.HasPrefix(b.MoreInfo, "https://") {
			e.MoreInfo = cleanMessage(b.MoreInfo, rq.cred.Password)
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}
