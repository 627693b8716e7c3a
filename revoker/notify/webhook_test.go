package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that records what it gets and answers
// with the statuses queued in plan (then 200).
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	plan []func(http.ResponseWriter)
	got  []received
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, plan ...func(http.ResponseWriter)) *receiver {
	r := &receiver{t: t, plan: plan}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, at: time.Now()})
		var step func(http.ResponseWriter)
		if len(r.plan) > 0 {
			step, r.plan = r.plan[0], r.plan[1:]
		}
		r.mu.Unlock()
		if step != nil {
			step(w)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// hookURL is the receiver's URL with a Slack-like token in the path.
func (r *receiver) hookURL(t *testing.T) string {
	return r.srv.URL + "/services/T" + randHex(t, 4) + "/B" + randHex(t, 4) + "/" + randHex(t, 12)
}

func status(code int, headers ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

func newTestWebhook(t *testing.T, cfg WebhookConfig) *Webhook {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 5 * time.Millisecond
	}
	w, err := NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookSignedSlackJSON(t *testing.T) {
	rcv := newReceiver(t)
	key := []byte(randHex(t, 32))
	w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t), Key: key})
	l := newLeak(t)
	if err := w.Notify(context.Background(), l.msg); err != nil {
		t.Fatal(err)
	}
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	r := got[0]
	ts, sig := r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature)
	if !VerifySignature(key, ts, r.body, sig) {
		t.Fatalf("signature %q does not verify", sig)
	}
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)) > time.Minute {
		t.Fatalf("timestamp %q", ts)
	}
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature format %q", sig)
	}
	for _, bad := range []struct {
		key  []byte
		ts   string
		body []byte
		sig  string
	}{
		{[]byte("other"), ts, r.body, sig},
		{key, ts + "1", r.body, sig},
		{key, ts, append([]byte(" "), r.body...), sig},
		{key, ts, r.body, strings.TrimPrefix(sig, "sha256=")},
		{nil, ts, r.body, Signature(nil, ts, r.body)},
		{key, "", r.body, Signature(key, "", r.body)},
	} {
		if VerifySignature(bad.key, bad.ts, bad.body, bad.sig) {
			t.Errorf("VerifySignature accepted a bad signature (%+v)", bad.ts)
		}
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}

	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"fields"`
			Elements []json.RawMessage `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if !strings.Contains(p.Text, l.msg.Credential.AccountSID) || len(p.Blocks) < 5 || p.Blocks[0].Type != "header" {
		t.Fatalf("payload = %s", r.body)
	}
	types := map[string]bool{}
	for _, b := range p.Blocks {
		types[b.Type] = true
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || len([]rune(b.Text.Text)) > slackHeaderMax {
				t.Errorf("bad header block %s", r.body)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				t.Errorf("section with neither text nor fields")
			}
			if b.Text != nil && (b.Text.Type != "mrkdwn" || len([]rune(b.Text.Text)) > slackSectionMax) {
				t.Errorf("bad section text")
			}
			if len(b.Fields) > slackFieldsMax {
				t.Errorf("too many fields")
			}
		case "context":
			if len(b.Elements) == 0 {
				t.Errorf("empty context")
			}
		default:
			t.Errorf("unexpected block type %q", b.Type)
		}
	}
	if !types["section"] || !types["context"] {
		t.Errorf("block types %v", types)
	}
	if !strings.Contains(string(r.body), "config/settings.py") || !strings.Contains(string(r.body), "What you must do") {
		t.Errorf("body lacks where or todo: %s", r.body)
	}
}

func TestWebhookUnsignedWithoutKey(t *testing.T) {
	rcv := newReceiver(t)
	w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t)})
	if err := w.Notify(context.Background(), newLeak(t).msg); err != nil {
		t.Fatal(err)
	}
	if h := rcv.requests()[0].header; h.Get(HeaderSignature) != "" || h.Get(HeaderTimestamp) != "" {
		t.Fatal("signed without a key")
	}
}

func TestWebhookRetries(t *testing.T) {
	rcv := newReceiver(t,
		status(http.StatusTooManyRequests, "Retry-After", "1"),
		status(http.StatusServiceUnavailable),
		func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, // slower than the timeout
	)
	key := []byte("k")
	w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t), Key: key, Timeout: 100 * time.Millisecond})
	start := time.Now()
	if err := w.Notify(context.Background(), newLeak(t).msg); err != nil {
		t.Fatal(err)
	}
	got := rcv.requests()
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4", len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < time.Second {
		t.Fatalf("retried %s after a Retry-After of 1s", gap)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("too slow")
	}
	id := got[0].header.Get(HeaderDelivery)
	for _, r := range got {
		if r.header.Get(HeaderDelivery) != id || id == "" {
			t.Fatal("delivery id changes between retries")
		}
		if !VerifySignature(key, r.header.Get(HeaderTimestamp), r.body, r.header.Get(HeaderSignature)) {
			t.Fatal("a retry is not signed")
		}
	}
}

func TestWebhookFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("4xx is not retried", func(t *testing.T) {
		rcv := newReceiver(t, status(http.StatusBadRequest))
		url := rcv.hookURL(t)
		w := newTestWebhook(t, WebhookConfig{URL: url})
		err := w.Notify(ctx, newLeak(t).msg)
		var we *WebhookError
		if !errors.As(err, &we) || we.StatusCode != 400 || len(rcv.requests()) != 1 {
			t.Fatalf("err = %v after %d requests", err, len(rcv.requests()))
		}
		assertNoURL(t, err, url)
	})
	t.Run("attempts run out", func(t *testing.T) {
		rcv := newReceiver(t, status(500), status(502), status(503), status(504))
		url := rcv.hookURL(t)
		w := newTestWebhook(t, WebhookConfig{URL: url, MaxAttempts: 3})
		err := w.Notify(ctx, newLeak(t).msg)
		var we *WebhookError
		if !errors.As(err, &we) || we.StatusCode != 503 || len(rcv.requests()) != 3 {
			t.Fatalf("err = %v after %d requests", err, len(rcv.requests()))
		}
		assertNoURL(t, err, url)
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		rcv := newReceiver(t, status(http.StatusTooManyRequests, "Retry-After", "3600"))
		w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t), MaxBackoff: time.Second})
		start := time.Now()
		err := w.Notify(ctx, newLeak(t).msg)
		if err == nil || !strings.Contains(err.Error(), "retry after 1h0m0s") || time.Since(start) > 2*time.Second {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		rcv := newReceiver(t)
		url := rcv.hookURL(t)
		rcv.srv.Close()
		w := newTestWebhook(t, WebhookConfig{URL: url, MaxAttempts: 2})
		err := w.Notify(ctx, newLeak(t).msg)
		if err == nil {
			t.Fatal("no error")
		}
		assertNoURL(t, err, url)
	})
	t.Run("redirect is not followed", func(t *testing.T) {
		rcv := newReceiver(t, status(http.StatusFound, "Location", "http://127.0.0.1:1/elsewhere"))
		w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t)})
		var we *WebhookError
		if err := w.Notify(ctx, newLeak(t).msg); !errors.As(err, &we) || we.StatusCode != http.StatusFound {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		rcv := newReceiver(t, status(http.StatusTooManyRequests, "Retry-After", "20"))
		w := newTestWebhook(t, WebhookConfig{URL: rcv.hookURL(t), MaxBackoff: time.Minute})
		ctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		if err := w.Notify(ctx, newLeak(t).msg); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNewWebhook(t *testing.T) {
	secretish := "https://hooks.example.com/services/" + randHex(t, 12)
	w, err := NewWebhook(WebhookConfig{URL: secretish})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Name(), "webhook:hooks.example.com#") || strings.Contains(w.Name(), "services") {
		t.Fatalf("Name = %q", w.Name())
	}
	if w2, _ := NewWebhook(WebhookConfig{URL: secretish, Name: "slack-security"}); w2.Name() != "slack-security" {
		t.Fatal("Name not overridden")
	}
	for _, u := range []string{"", "hooks.example.com/x", "ftp://h/x", "https:///x", "http://%zz/" + randHex(t, 8)} {
		_, err := NewWebhook(WebhookConfig{URL: u})
		if err == nil {
			t.Errorf("NewWebhook(%q) accepted", u)
		} else if u != "" && strings.Contains(err.Error(), u) {
			t.Errorf("error echoes the URL: %v", err)
		}
	}
}

func assertNoURL(t *testing.T, err error, url string) {
	t.Helper()
	path := url[strings.Index(url, "/services"):]
	if strings.Contains(err.Error(), path) {
		t.Fatalf("error shows the webhook URL: %v", err)
	}
}
