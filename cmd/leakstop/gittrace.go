package main

import (
	"io"
	"os"
)

// gitTraceEnv turns on the timing of a git scan's phases (a debugging
// aid): the library reads no environment, main does.
const gitTraceEnv = "LEAKSTOP_GIT_TRACE"

// gitTrace is where a git scan prints the duration of its phases: stderr
// when LEAKSTOP_GIT_TRACE is set, else nowhere (nil).
func (s *stdio) gitTrace() io.Writer {
	if os.Getenv(gitTraceEnv) == "" {
		return nil
	}
	return s.err
}
