package twiliotest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault changes the answer to matching requests.
//
// A request matches when Method (empty: any) and PathPrefix (empty: any)
// fit. Every matching request counts, whether or not this fault fires on
// it; the fault fires on the Nth matching request and the Times-1 after it
// (Nth 0: on every matching request). When several faults fire, the first
// injected wins.
//
// On firing: AfterEffect first applies the request to the state; then Delay
// waits (if the client leaves meanwhile, nothing more happens); then Drop
// closes the connection without an answer, or Status answers with a Twilio
// error body (Code, or 20429 / 20500 / 20503 / … by default; 502 and 504
// get a gateway HTML page), with Retry-After when RetryAfter is set. With
// neither Drop nor Status the request gets its normal answer after Delay
// (the one computed before the delay when AfterEffect is set).
type Fault struct {
	Method      string
	PathPrefix  string
	Nth         int // 1-based count of matching calls; 0 = every
	Times       int // how many consecutive matching calls are affected, default 1
	Status      int
	Code        int
	Delay       time.Duration
	Drop        bool          // hijack and close the connection without a response
	AfterEffect bool          // apply the operation, then fail the response: "outcome unknown"
	RetryAfter  time.Duration // Retry-After header (whole seconds, rounded up) on a Status answer
}

type faultState struct {
	f    Fault
	seen int
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{f: f})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) matchFault(method, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hit *Fault
	for _, fs := range s.faults {
		f := fs.f
		if (f.Method != "" && !strings.EqualFold(f.Method, method)) || !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		fs.seen++
		times := max(f.Times, 1)
		fires := f.Nth == 0 || (fs.seen >= f.Nth && fs.seen < f.Nth+times)
		if fires && hit == nil {
			hit = &fs.f
		}
	}
	if hit == nil {
		return Fault{}, false
	}
	return *hit, true
}

var defaultCodes = map[int]int{
	http.StatusBadRequest:          20001,
	http.StatusUnauthorized:        20003,
	http.StatusForbidden:           20008,
	http.StatusNotFound:            20404,
	http.StatusTooManyRequests:     20429,
	http.StatusInternalServerError: 20500,
	http.StatusServiceUnavailable:  20503,
}

func faultResponse(f Fault) response {
	var r response
	if (f.Status == http.StatusBadGateway || f.Status == http.StatusGatewayTimeout) && f.Code == 0 {
		r = response{status: f.Status, raw: []byte("<html><body><h1>" + strconv.Itoa(f.Status) + " " + http.StatusText(f.Status) + "</h1></body></html>\n")}
	} else {
		code := f.Code
		if code == 0 {
			code = defaultCodes[f.Status]
		}
		msg := http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Too many requests"
		}
		r = errorResponse(f.Status, code, msg)
	}
	if f.Status == http.StatusUnauthorized {
		r.header = http.Header{"Www-Authenticate": {`Basic realm="Twilio API"`}}
	}
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		if r.header == nil {
			r.header = http.Header{}
		}
		r.header.Set("Retry-After", strconv.Itoa(secs))
	}
	return r
}
