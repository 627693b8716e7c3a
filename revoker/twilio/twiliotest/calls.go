package twiliotest

import "net/url"

// Call is one request the fake received. It never holds the password.
type Call struct {
	Method       string
	Path         string
	Query        url.Values
	Form         url.Values // the form body of a POST
	AuthUser     string     // Basic username (the password is not kept)
	ContentType  string     // request Content-Type
	Status       int        // status answered; 0 when nothing was (Drop, or the client left during a Delay)
	ResponseType string     // response Content-Type
	Response     []byte     // body as sent, with auth_token, secondary_auth_token and secret values "[REDACTED]"
	Fault        bool       // an injected fault matched and fired
	InFlight     bool       // still being answered (Status and Response not yet known)
}

// Calls returns a copy of every call so far, in arrival order. A call is
// listed as soon as it arrives; InFlight marks one not yet answered.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Query = cloneValues(c.Query)
		c.Form = cloneValues(c.Form)
		c.Response = append([]byte(nil), c.Response...)
		out[i] = c
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.callGen++
}

// begin lists an arriving call and returns a function that completes it.
func (s *Server) begin(c Call) (finish func(Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.InFlight = true
	s.calls = append(s.calls, c)
	i := len(s.calls) - 1
	gen := s.callGen
	return func(c Call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.callGen && i < len(s.calls) {
			c.InFlight = false
			s.calls[i] = c
		}
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
