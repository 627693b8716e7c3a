package twilio_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
)

func TestRetryBurstThenSuccess(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503} {
		e := newEnv(t)
		e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Times: 3, Status: status})
		if _, err := e.c.FetchAccount(context.Background(), e.sid, e.cred()); err != nil {
			t.Fatalf("%d burst: %v", status, err)
		}
		if n := countCalls(e.srv.Calls(), "GET", accountPath(e.sid)); n != 4 {
			t.Errorf("%d burst: %d attempts, want 4", status, n)
		}
	}
}

func TestRetryExhausted(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(twiliotest.Fault{Method: "GET", Status: 429})
	_, err := e.c.ListKeys(context.Background(), e.sid, e.cred())
	var te *twilio.Error
	if !errors.As(err, &te) || te.HTTPStatus != 429 || te.Code != twilio.CodeTooManyRequests || twilio.IsUnknownOutcome(err) {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.srv.Calls()); n != 5 {
		t.Errorf("attempts = %d, want 5", n)
	}
	if v := e.c.Verify(context.Background(), e.sid, e.cred()); v.Status != twilio.StatusUnknown || v.Err == nil {
		t.Errorf("Verify under 429 = %v", v.Status)
	}
}

func TestNoRetriesOption(t *testing.T) {
	e := newEnv(t, func(o *twilio.Options) { o.MaxRetries = -1 })
	e.srv.Inject(twiliotest.Fault{Method: "GET", Status: 500})
	if _, err := e.c.FetchAccount(context.Background(), e.sid, e.cred()); err == nil {
		t.Fatal("want error")
	}
	if n := len(e.srv.Calls()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, func(o *twilio.Options) { o.MaxBackoff = 5 * time.Second })
	e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Status: 429, RetryAfter: time.Second})
	start := time.Now()
	if _, err := e.c.FetchAccount(context.Background(), e.sid, e.cred()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Fatalf("waited %v, want about the 1s of Retry-After", d)
	}
}

func TestRetryAfterCappedAtMaxBackoff(t *testing.T) {
	e := newEnv(t) // MaxBackoff 20ms
	e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Times: 2, Status: 503, RetryAfter: 30 * time.Second})
	start := time.Now()
	if _, err := e.c.FetchAccount(context.Background(), e.sid, e.cred()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v despite MaxBackoff", d)
	}
}

func TestPostRetriedOn429(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(twiliotest.Fault{Method: "POST", PathPrefix: secondaryPath, Nth: 1, Times: 2, Status: 429})
	sec, err := e.c.CreateSecondaryAuthToken(context.Background(), e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if _, s := e.srv.Tokens(e.sid); !s.Equal(sec.Token) {
		t.Fatal("secondary mismatch")
	}
	if n := countCalls(e.srv.Calls(), "POST", secondaryPath); n != 3 {
		t.Errorf("attempts = %d, want 3", n)
	}
}

func TestPostNotRetriedAfterAmbiguousFailure(t *testing.T) {
	cases := map[string]twiliotest.Fault{
		"500 applied":     {Status: 500, AfterEffect: true},
		"500 not applied": {Status: 500},
		"503":             {Status: 503},
		"502 html":        {Status: 502},
		"drop applied":    {Drop: true, AfterEffect: true},
		"drop":            {Drop: true},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			f.Method, f.PathPrefix, f.Nth = "POST", secondaryPath, 1
			e.srv.Inject(f)
			_, err := e.c.CreateSecondaryAuthToken(context.Background(), e.cred())
			var u *twilio.UnknownOutcomeError
			if !errors.As(err, &u) || u.Method != "POST" || u.Path != secondaryPath {
				t.Fatalf("err = %v, want *UnknownOutcomeError", err)
			}
			if n := countCalls(e.srv.Calls(), "POST", secondaryPath); n != 1 {
				t.Fatalf("POST sent %d times", n)
			}
			if f.Status != 0 {
				var te *twilio.Error
				if !errors.As(err, &te) || te.HTTPStatus != f.Status {
					t.Errorf("cause = %v", err)
				}
			}
			_, s := e.srv.Tokens(e.sid)
			if applied := !s.IsZero(); applied != f.AfterEffect {
				t.Errorf("applied = %v, want %v", applied, f.AfterEffect)
			}
		})
	}
}

func TestPromoteOutcomeUnknown(t *testing.T) {
	e := newEnv(t)
	sec := e.srv.SetSecondary(e.sid)
	e.srv.Inject(twiliotest.Fault{Method: "POST", PathPrefix: promotePath, Status: 500, AfterEffect: true})
	_, err := e.c.PromoteSecondaryAuthToken(context.Background(), e.cred())
	if !twilio.IsUnknownOutcome(err) {
		t.Fatalf("err = %v", err)
	}
	// Re-checking state tells the truth: the old primary is dead.
	if v := e.c.Verify(context.Background(), e.sid, e.cred()); v.Status != twilio.StatusDead {
		t.Fatalf("old primary: %v", v.Status)
	}
	if v := e.c.Verify(context.Background(), e.sid, cred(e.sid, sec)); v.Status != twilio.StatusLive {
		t.Fatalf("promoted token: %v", v.Status)
	}
}

func TestTimeouts(t *testing.T) {
	// Generous against -race and loaded machines: only the delayed attempt
	// may time out.
	short := func(o *twilio.Options) { o.Timeout = 500 * time.Millisecond }

	t.Run("GET retried", func(t *testing.T) {
		e := newEnv(t, short)
		e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Delay: 3 * time.Second})
		if _, err := e.c.FetchAccount(context.Background(), e.sid, e.cred()); err != nil {
			t.Fatal(err)
		}
		if n := len(e.srv.Calls()); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})
	t.Run("GET exhausted", func(t *testing.T) {
		e := newEnv(t, short, func(o *twilio.Options) { o.MaxRetries = 1 })
		e.srv.Inject(twiliotest.Fault{Method: "GET", Delay: 3 * time.Second})
		v := e.c.Verify(context.Background(), e.sid, e.cred())
		if v.Status != twilio.StatusUnknown || !errors.Is(v.Err, context.DeadlineExceeded) {
			t.Fatalf("Verify = %v %v", v.Status, v.Err)
		}
	})
	t.Run("POST unknown", func(t *testing.T) {
		e := newEnv(t, short)
		e.srv.Inject(twiliotest.Fault{Method: "POST", Delay: 3 * time.Second, AfterEffect: true})
		_, err := e.c.CreateKey(context.Background(), e.sid, "k", e.cred())
		if !twilio.IsUnknownOutcome(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if n := len(e.srv.Calls()); n != 1 {
			t.Fatalf("calls = %d, want 1", n)
		}
		keys, err := e.c.ListKeys(context.Background(), e.sid, e.cred())
		if err != nil || len(keys) != 1 {
			t.Fatalf("the key was made despite the timeout: %v %v", keys, err)
		}
	})
}

func TestDropRetriedForGet(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Drop: true})
	if _, err := e.c.ListKeys(context.Background(), e.sid, e.cred()); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteRetries(t *testing.T) {
	t.Run("500 then 204", func(t *testing.T) {
		e := newEnv(t)
		k, _ := e.srv.AddKey(e.sid, false)
		e.srv.Inject(twiliotest.Fault{Method: "DELETE", Nth: 1, Status: 500})
		if err := e.c.DeleteKey(context.Background(), e.sid, k, e.cred()); err != nil {
			t.Fatal(err)
		}
		if e.srv.HasKey(e.sid, k) {
			t.Fatal("key not deleted")
		}
	})
	t.Run("applied then 404", func(t *testing.T) {
		e := newEnv(t)
		k, _ := e.srv.AddKey(e.sid, false)
		e.srv.Inject(twiliotest.Fault{Method: "DELETE", Nth: 1, Status: 500, AfterEffect: true})
		err := e.c.DeleteKey(context.Background(), e.sid, k, e.cred())
		if !twilio.IsNotFound(err) || e.srv.HasKey(e.sid, k) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("exhausted is unknown", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetSecondary(e.sid)
		e.srv.Inject(twiliotest.Fault{Method: "DELETE", Status: 503})
		err := e.c.DeleteSecondaryAuthToken(context.Background(), e.cred())
		if !twilio.IsUnknownOutcome(err) {
			t.Fatalf("err = %v", err)
		}
		if n := len(e.srv.Calls()); n != 5 {
			t.Fatalf("attempts = %d", n)
		}
	})
	t.Run("429 exhausted is not unknown", func(t *testing.T) {
		e := newEnv(t)
		e.srv.SetSecondary(e.sid)
		e.srv.Inject(twiliotest.Fault{Method: "DELETE", Status: 429})
		err := e.c.DeleteSecondaryAuthToken(context.Background(), e.cred())
		if err == nil || twilio.IsUnknownOutcome(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

// flakyDialer fails the first n dials, so the request provably never left.
func flakyDialer(n int32) (*http.Client, *atomic.Int32) {
	var dials atomic.Int32
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= n {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr}, &dials
}

func TestPostRetriedOnDialError(t *testing.T) {
	hc, dials := flakyDialer(2)
	e := newEnv(t, func(o *twilio.Options) { o.HTTPClient = hc })
	if _, err := e.c.CreateSecondaryAuthToken(context.Background(), e.cred()); err != nil {
		t.Fatal(err)
	}
	if dials.Load() != 3 || len(e.srv.Calls()) != 1 {
		t.Fatalf("dials %d, calls %d", dials.Load(), len(e.srv.Calls()))
	}

	hc, _ = flakyDialer(100)
	e = newEnv(t, func(o *twilio.Options) { o.HTTPClient = hc })
	_, err := e.c.CreateSecondaryAuthToken(context.Background(), e.cred())
	if err == nil || twilio.IsUnknownOutcome(err) {
		t.Fatalf("never connected: %v (must not be unknown)", err)
	}
}

func TestContextCancel(t *testing.T) {
	t.Run("stops retries", func(t *testing.T) {
		e := newEnv(t, func(o *twilio.Options) { o.MinBackoff, o.MaxBackoff = 10*time.Second, 10*time.Second })
		e.srv.Inject(twiliotest.Fault{Method: "GET", Status: 500})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := e.c.FetchAccount(ctx, e.sid, e.cred())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		if n := len(e.srv.Calls()); n != 1 {
			t.Fatalf("attempts = %d", n)
		}
	})
	t.Run("already canceled", func(t *testing.T) {
		e := newEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.c.CreateKey(ctx, e.sid, "x", e.cred()); !errors.Is(err, context.Canceled) || twilio.IsUnknownOutcome(err) {
			t.Fatalf("err = %v", err)
		}
		if len(e.srv.Calls()) != 0 {
			t.Fatal("request sent with a canceled context")
		}
	})
	t.Run("POST in flight", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Inject(twiliotest.Fault{Method: "POST", Delay: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := e.c.PromoteSecondaryAuthToken(ctx, e.cred())
		if !twilio.IsUnknownOutcome(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMalformedSuccess(t *testing.T) {
	body := `<?xml version="1.0"?><TwilioResponse/>`
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		if r.Method == "POST" {
			w.WriteHeader(201)
		}
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c := twilio.New(twilio.Options{APIBaseURL: srv.URL, AccountsBaseURL: srv.URL, HTTPClient: srv.Client()})
	sid := "AC" + randHex(16)
	cr := cred(sid, e2s(randHex(16)))
	if _, err := c.FetchAccount(context.Background(), sid, cr); !errors.Is(err, twilio.ErrMalformedResponse) || hits.Load() != 1 {
		t.Fatalf("GET: %v (%d hits)", err, hits.Load())
	}
	// A 201 with a body we cannot read: applied, result lost.
	if _, err := c.CreateSecondaryAuthToken(context.Background(), cr); !twilio.IsUnknownOutcome(err) || !errors.Is(err, twilio.ErrMalformedResponse) {
		t.Fatalf("POST: %v", err)
	}
}

func TestRedirectsNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := twilio.New(twilio.Options{APIBaseURL: srv.URL, HTTPClient: srv.Client()})
	sid := "AC" + randHex(16)
	v := c.Verify(context.Background(), sid, cred(sid, e2s(randHex(16))))
	if v.Status != twilio.StatusUnknown || leaked.Load() != 0 {
		t.Fatalf("status %v, redirected requests %d", v.Status, leaked.Load())
	}
}

func TestBadBaseURL(t *testing.T) {
	c := twilio.New(twilio.Options{APIBaseURL: "ftp://x"})
	sid := "AC" + randHex(16)
	if _, err := c.FetchAccount(context.Background(), sid, cred(sid, e2s(randHex(16)))); !errors.Is(err, twilio.ErrInvalidArgument) {
		t.Fatalf("err = %v", err)
	}
}
