package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
)

// Headers of a webhook request. The signature is
//
//	X-Leakstop-Signature: sha256=HEX(HMAC-SHA256(key, "v1:" + timestamp + ":" + body))
//
// where timestamp is the X-Leakstop-Timestamp header (Unix seconds) and
// body the raw request body, as in Slack's own signing scheme. A receiver
// checks it with VerifySignature and should also refuse a timestamp more
// than a few minutes old, so that a captured request cannot be replayed.
// X-Leakstop-Delivery is the same on every retry of one notification, for
// receivers that deduplicate.
const (
	HeaderSignature = "X-Leakstop-Signature"
	HeaderTimestamp = "X-Leakstop-Timestamp"
	HeaderDelivery  = "X-Leakstop-Delivery"
)

// WebhookConfig says where and how to post notifications.
type WebhookConfig struct {
	// URL receives the POST: a Slack incoming webhook or any receiver of
	// the same JSON. It often holds a token, so it is never shown: not in
	// Name, not in errors. Required; http or https.
	URL string
	// Key signs each request (see HeaderSignature). Empty sends no
	// signature; Slack incoming webhooks need none.
	Key []byte
	// Name overrides the default name "webhook:HOST#HASH".
	Name string
	// Timeout bounds one attempt; default 10s.
	Timeout time.Duration
	// MaxAttempts is how many tries in all on 429, 5xx and network errors;
	// default 4.
	MaxAttempts int
	// MinBackoff is the first wait between tries, doubling after each
	// (with jitter); default 1s.
	MinBackoff time.Duration
	// MaxBackoff caps one wait; a Retry-After asking for more fails the
	// notification instead. Default 30s.
	MaxBackoff time.Duration
	// Client sends the requests; default one that does not follow
	// redirects.
	Client *http.Client
}

// Webhook posts a Slack-compatible JSON message, signed when a key is
// configured, and retries on 429, 5xx and network errors.
type Webhook struct {
	cfg  WebhookConfig
	name string
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook checks cfg and returns the notifier.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL may hold a token: do not echo it, nor url's error.
		return nil, errors.New("new webhook: URL must be an absolute http or https URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	cfg.Key = bytes.Clone(cfg.Key)
	name := cfg.Name
	if name == "" {
		sum := sha256.Sum256([]byte(cfg.URL))
		name = "webhook:" + u.Hostname() + "#" + hex.EncodeToString(sum[:4])
	}
	return &Webhook{cfg: cfg, name: name}, nil
}

// Name is the configured name or "webhook:HOST#HASH", HASH being the
// first 8 hex digits of the SHA-256 of the URL.
func (w *Webhook) Name() string { return w.name }

// Signature returns the X-Leakstop-Signature value for body sent at
// timestamp ts under key.
func Signature(key []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("v1:" + ts + ":"))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether sig is the signature of body sent at
// timestamp ts under key. It compares in constant time. It does not check
// the timestamp's age: receivers should.
func VerifySignature(key []byte, ts string, body []byte, sig string) bool {
	if len(key) == 0 || ts == "" {
		return false
	}
	return hmac.Equal([]byte(Signature(key, ts, body)), []byte(sig))
}

// Payload returns the JSON body Notify posts for m.
func Payload(m Message) ([]byte, error) {
	body, err := json.Marshal(slackMessage(m))
	if err != nil {
		return nil, fmt.Errorf("marshal webhook payload: %w", err)
	}
	return body, nil
}

// WebhookError is a webhook that answered with a status other than 2xx.
type WebhookError struct {
	Webhook    string // the notifier's Name
	StatusCode int
	Body       string // the start of the answer, printable
}

func (e *WebhookError) Error() string {
	s := fmt.Sprintf("post to %s: status %d", e.Webhook, e.StatusCode)
	if e.Body != "" {
		s += fmt.Sprintf(": %q", e.Body)
	}
	return s
}

// Notify posts m, retrying as configured.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	body, err := Payload(m)
	if err != nil {
		return fmt.Errorf("notify %s: %w", w.name, err)
	}
	delivery := make([]byte, 12)
	_, _ = rand.Read(delivery)
	deliveryID := hex.EncodeToString(delivery)
	for attempt := 0; ; attempt++ {
		delay, err := w.post(ctx, body, deliveryID)
		if err == nil {
			return nil
		}
		if delay < 0 || attempt+1 >= w.cfg.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("notify %s: %w", w.name, err)
		}
		if delay == 0 {
			delay = w.backoff(attempt)
		}
		if delay > w.cfg.MaxBackoff {
			return fmt.Errorf("notify %s: retry after %s is more than %s: %w", w.name, delay, w.cfg.MaxBackoff, err)
		}
		if serr := wait.Sleep(ctx, delay); serr != nil {
			return fmt.Errorf("notify %s: %w (after %w)", w.name, serr, err)
		}
	}
}

// backoff is MinBackoff doubled per attempt, capped, with ±20% jitter.
func (w *Webhook) backoff(attempt int) time.Duration {
	d := min(w.cfg.MinBackoff<<min(attempt, 20), w.cfg.MaxBackoff)
	jitter := 0.8 + 0.4*mrand.Float64()
	return min(time.Duration(float64(d)*jitter), w.cfg.MaxBackoff)
}

// post makes one attempt. On failure, delay is -1 when a retry is
// pointless, 0 for the default backoff, or what Retry-After asked for.
func (w *Webhook) post(ctx context.Context, body []byte, deliveryID string) (delay time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return -1, errors.New("build request: invalid URL") // never echo the URL
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "leakstop")
	req.Header.Set(HeaderDelivery, deliveryID)
	if len(w.cfg.Key) > 0 {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Signature(w.cfg.Key, ts, body))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// *url.Error prints the URL, which may hold a token: keep only
		// the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post to %s: %w", w.name, err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	werr := &WebhookError{Webhook: w.name, StatusCode: resp.StatusCode, Body: cut(clean(string(head)), 200)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented):
		ra, _ := wait.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return ra, werr
	default:
		return -1, werr
	}
}
