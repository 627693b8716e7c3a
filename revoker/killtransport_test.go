package revoker

import (
	"context"
	"net/http"
	"sync"

	"github.com/leakstop/leakstop/revoker/twilio"
)

// killTransport simulates a kill of the process at the n-th (0-based)
// request to Twilio: before the request leaves (after false), or once
// Twilio has applied it and before its answer is read (after true). The
// kill cancels the run's context, so that nothing more happens: no request,
// no delivery (memSink honours the context), no store write.
type killTransport struct {
	base  http.RoundTripper
	n     int // -1: never kill, only count
	after bool
	kill  context.CancelCauseFunc

	mu     sync.Mutex
	seen   int
	killed bool
	log    []string // METHOD path of each request that left
}

func newKillTransport(e *env, n int, after bool) *killTransport {
	base := e.fake.Options().HTTPClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &killTransport{base: base, n: n, after: after, kill: func(error) {}}
}

func (k *killTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	k.mu.Lock()
	if k.killed {
		k.mu.Unlock()
		return nil, errCrash
	}
	i := k.seen
	k.seen++
	hit := i == k.n
	if hit && !k.after {
		k.killed = true
		k.mu.Unlock()
		k.kill(errCrash)
		return nil, errCrash
	}
	k.log = append(k.log, req.Method+" "+req.URL.Path)
	k.mu.Unlock()
	resp, err := k.base.RoundTrip(req)
	if hit {
		k.mu.Lock()
		k.killed = true
		k.mu.Unlock()
		if resp != nil {
			_ = resp.Body.Close()
		}
		k.kill(errCrash)
		return nil, errCrash
	}
	return resp, err
}

func (k *killTransport) fired() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.killed
}

func (k *killTransport) requests() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen
}

// deps points a revoker's Twilio client at the fake through k.
func (k *killTransport) deps(e *env) func(*Deps) {
	return func(d *Deps) {
		opts := e.fake.Options()
		opts.HTTPClient = &http.Client{Transport: k}
		d.Twilio = twilio.New(opts)
	}
}
