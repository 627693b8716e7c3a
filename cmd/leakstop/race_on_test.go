//go:build race

package main

// raceEnabled: the race detector slows the binary under test several
// times over, so timing limits are relaxed (see interruptCmd).
const raceEnabled = true
