package githubtest

import (
	"net/http"
	"strconv"
	"time"
)

// FaultKind selects the failure a Fault produces.
type FaultKind int

const (
	// PrimaryRateLimit answers 403 with X-RateLimit-Remaining: 0 and
	// X-RateLimit-Reset (go-github: *github.RateLimitError).
	PrimaryRateLimit FaultKind = iota + 1
	// SecondaryRateLimit answers 403 with a secondary-rate-limits
	// documentation_url and, when RetryAfter is set, Retry-After
	// (go-github: *github.AbuseRateLimitError).
	SecondaryRateLimit
	// TooManyRequests answers 429 with Retry-After when RetryAfter is set,
	// and X-RateLimit-Remaining: 0 with X-RateLimit-Reset when Reset is set
	// (go-github: a plain *github.ErrorResponse).
	TooManyRequests
	// Status answers Fault.Status with a JSON error body.
	Status
)

// Fault makes matching requests fail. Faults are checked after
// authentication and before routing, in the order they were injected.
type Fault struct {
	Kind   FaultKind
	Method string // "" matches any method
	Path   string // path.Match pattern on the path without /api/v3; "" matches any
	Times  int    // how many matching requests fail; 0 means 1

	// RetryAfter becomes a Retry-After header in whole seconds, rounded up;
	// zero omits the header.
	RetryAfter time.Duration
	// Reset is the X-RateLimit-Reset time. PrimaryRateLimit defaults it to
	// one second from now.
	Reset time.Time
	// ResetIn, when Reset is zero, puts X-RateLimit-Reset this long after
	// the failing request arrives (as GitHub does: the window is the
	// quota's, not the test's), so that the wait does not depend on how
	// long the client took to get there.
	ResetIn time.Duration
	// Status is the status code for Kind Status.
	Status int
}

type faultState struct {
	Fault
	left int
}

// InjectFault arranges for the next f.Times requests matching f to fail.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Times})
}

// PendingFaults is how many injected failures have not fired yet.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.left
	}
	return n
}

// injectFault answers r with the first matching fault, if any.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var hit *Fault
	for _, f := range s.faults {
		if f.left > 0 && matches(f.Method, f.Path, r.Method, r.URL.Path) {
			f.left--
			c := f.Fault
			hit = &c
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	h := w.Header()
	if hit.Reset.IsZero() && hit.ResetIn > 0 {
		hit.Reset = time.Now().Add(hit.ResetIn)
	}
	if hit.RetryAfter > 0 {
		secs := int64((hit.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	switch hit.Kind {
	case PrimaryRateLimit:
		reset := hit.Reset
		if reset.IsZero() {
			reset = time.Now().Add(time.Second)
		}
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": docsURL + "/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
		})
	case SecondaryRateLimit:
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": docsURL + "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case TooManyRequests:
		if !hit.Reset.IsZero() {
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(hit.Reset.Unix(), 10))
		}
		writeError(w, http.StatusTooManyRequests, "Too Many Requests")
	default:
		status := hit.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeError(w, status, http.StatusText(status))
	}
	return true
}
