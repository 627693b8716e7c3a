package sink

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/secret"
)

// maxParallel bounds how many sinks DeliverAll runs at once.
const maxParallel = 4

// Result is one sink's outcome.
type Result struct {
	Sink     string // the sink's Name
	Err      error  // nil when delivered
	Duration time.Duration
}

// Report is the outcome of delivering to several sinks, in their order.
type Report struct {
	Results []Result
}

// OK reports whether every sink took the delivery (true for none).
func (r Report) OK() bool { return len(r.Failed()) == 0 }

// Failed returns the results of the sinks that failed.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Err != nil {
			out = append(out, res)
		}
	}
	return out
}

// Err is nil when every sink took the delivery, else a *DeliveryError.
func (r Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	return &DeliveryError{Failed: failed, Total: len(r.Results)}
}

// DeliveryError lists the sinks that failed; a rotation must not proceed.
type DeliveryError struct {
	Failed []Result
	Total  int
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deliver to %d of %d sinks failed", len(e.Failed), e.Total)
	for i, r := range e.Failed {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		b.WriteString(sep + r.Err.Error())
	}
	return b.String()
}

// Unwrap returns each failed sink's error, for errors.Is and errors.As.
func (e *DeliveryError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, r := range e.Failed {
		out[i] = r.Err
	}
	return out
}

// DeliverAll delivers d to every sink, a few at a time, and reports each
// outcome. Every sink is tried even when one fails. A sink that panics
// counts as failed. Errors are scrubbed of d.Secret in case a sink let it
// slip into one.
func DeliverAll(ctx context.Context, d Delivery, sinks ...Sink) Report {
	results := make([]Result, len(sinks))
	p := pool.New().WithMaxGoroutines(maxParallel)
	for i, s := range sinks {
		p.Go(func() {
			results[i] = deliverOne(ctx, s, d)
		})
	}
	p.Wait()
	return Report{Results: results}
}

func deliverOne(ctx context.Context, s Sink, d Delivery) (res Result) {
	res.Sink = s.Name()
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			res.Err = secret.ScrubError(fmt.Errorf("deliver to %s: panic: %v", res.Sink, v), d.Secret)
		}
		res.Duration = time.Since(start)
	}()
	res.Err = secret.ScrubError(s.Deliver(ctx, d), d.Secret)
	return res
}

// Multi is a Sink that delivers to all of its sinks with DeliverAll; its
// error is a *DeliveryError naming those that failed.
type Multi []Sink

var _ Sink = Multi(nil)

// Name is "multi(NAME,NAME,...)".
func (m Multi) Name() string {
	names := make([]string, len(m))
	for i, s := range m {
		names[i] = s.Name()
	}
	return "multi(" + strings.Join(names, ",") + ")"
}

// Deliver delivers to every sink and fails unless all of them took it.
func (m Multi) Deliver(ctx context.Context, d Delivery) error {
	return DeliverAll(ctx, d, m...).Err()
}
