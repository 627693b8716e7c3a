package scanner

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Source is content to scan: a directory or file (DirSource), a stream
// (ReaderSource), a git history (HistorySource), the commits of a git
// range (RangeSource) or the staged index (StagedSource).
//
// Scan streams the source's fragments — a file's or a blob's content with
// its provenance — through the detector, keeping only the hits (by path,
// or by blob id for git), pairs the hits of each snapshot (a directory, a
// stream, the staged files, a commit's tree) and passes the snapshot's
// findings to emit as soon as they are known. The same credential may
// come in several calls, with other locations: Collect, or a Collector,
// merges them. An error from emit stops the scan and is returned.
//
// Scan returns what it counted and noted. A source that cannot be read
// completely returns an error, never a clean summary.
type Source interface {
	Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error)
}

// Summary is what a scan counted and noted, besides its findings.
type Summary struct {
	Stats Stats
	// Notes are facts the user should know (a shallow history, …).
	Notes []string
}

// Collect runs src and merges its findings per credential: one
// credential found in N places is one Finding with N locations. It is
// the only step of a scan that holds every finding.
func Collect(ctx context.Context, d *Detector, src Source) (*Result, error) {
	c := NewCollector()
	sum, err := src.Scan(ctx, d, func(fs []Finding) error {
		c.Add(fs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Result{Findings: c.Findings(), Stats: sum.Stats, Notes: sum.Notes}, nil
}

// tracer prints the duration of a scan's phases to Options.Trace.
type tracer struct {
	w           io.Writer
	start, last time.Time
}

func newTracer(w io.Writer) *tracer {
	now := time.Now()
	return &tracer{w: w, start: now, last: now}
}

// phase prints the time since the last phase; a nil tracer prints nothing.
func (t *tracer) phase(name string) {
	if t == nil || t.w == nil {
		return
	}
	now := time.Now()
	fmt.Fprintf(t.w, "leakstop: trace: %-12s %8.1f ms (total %8.1f ms)\n", name,
		float64(now.Sub(t.last).Microseconds())/1000, float64(now.Sub(t.start).Microseconds())/1000)
	t.last = now
}
