package twiliotest

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// Start starts a fake Twilio where no testing.TB is at hand: a testscript
// command, a helper process. fatalf reports misuse (an unknown account, a
// status not in the spec) as t.Fatalf would, and must not return (nil:
// panic); cleanup registers the function that closes the server (for
// example (*testscript.TestScript).Defer). Everything else is as
// NewServer.
func Start(fatalf func(format string, args ...any), cleanup func(func())) *Server {
	if fatalf == nil {
		fatalf = func(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
	}
	s := &Server{
		t:        standaloneTB{fatalf: fatalf},
		accounts: map[string]*account{},
		acctSeq:  map[string]uint64{},
		keys:     map[string]*apiKey{},
		keySeq:   map[string]uint64{},
	}
	s.srv = httptest.NewServer(s)
	cleanup(s.srv.Close)
	return s
}

// standaloneTB is the testing.TB the Server uses (Helper and Fatalf only)
// when it was started without one. Any other method panics.
type standaloneTB struct {
	testing.TB
	fatalf func(format string, args ...any)
}

func (standaloneTB) Helper() {}

func (t standaloneTB) Fatalf(format string, args ...any) {
	t.fatalf(format, args...)
	panic("twiliotest: fatalf returned")
}
