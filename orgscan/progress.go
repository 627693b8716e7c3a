package orgscan

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Progress follows one process's share of a round. Every method is safe
// for concurrent use by the scan workers. The calls of one round are:
// Round (once the listing is known; again if the total changes), then
// RepoStarted and RepoDone for each repository this process handles
// (RepoDone alone, with bytes 0, for a repository skipped as unchanged),
// then Finish once, which writes the final summary. Calls after Finish
// are ignored.
type Progress interface {
	// Round sets the number of repositories of the round.
	Round(total int)
	// RepoStarted says that a worker began to fetch and scan r.
	RepoStarted(r Repo)
	// RepoDone says r is finished: bytes is what was fetched and scanned
	// for it, err why it could not be scanned (nil on success).
	RepoDone(r Repo, bytes int64, err error)
	// Finish stops the display and writes the summary.
	Finish()
}

// IsTerminal reports whether w is a terminal (an *os.File on a tty), for
// NewProgress's isTTY.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewProgress returns the progress display for w: bars on a terminal
// (isTTY), else one JSON log line per repository on l. A nil l logs JSON
// to w.
func NewProgress(w io.Writer, isTTY bool, l *slog.Logger) Progress {
	if isTTY {
		return NewTTYProgress(w)
	}
	if l == nil {
		l = slog.New(slog.NewJSONHandler(w, nil))
	}
	return NewLogProgress(l)
}

// tally is what both displays count; its methods hold mu.
type tally struct {
	mu      sync.Mutex
	start   time.Time
	total   int
	done    int
	failed  int
	bytes   int64
	active  map[int64]Repo
	started map[int64]time.Time
	closed  bool
}

func newTally() *tally {
	return &tally{start: time.Now(), active: map[int64]Repo{}, started: map[int64]time.Time{}}
}

// begin records r as being scanned; false after Finish.
func (t *tally) begin(r Repo) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.active[r.ID] = r
	t.started[r.ID] = time.Now()
	return true
}

// end records r as done and returns how long it took (0 if it was never
// started); false after Finish.
func (t *tally) end(r Repo, bytes int64, err error) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, false
	}
	var d time.Duration
	if s, ok := t.started[r.ID]; ok {
		d = time.Since(s)
	}
	delete(t.active, r.ID)
	delete(t.started, r.ID)
	t.done++
	if err != nil {
		t.failed++
	}
	t.bytes += max(bytes, 0)
	return d, true
}

// summary is the final count of a round, as Finish reports it.
type summary struct {
	Total    int
	Done     int
	Failed   int
	Bytes    int64
	Duration time.Duration
}

// BytesPerSecond is the scan rate over the whole round.
func (s summary) BytesPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Bytes) / s.Duration.Seconds()
}

func (s summary) String() string {
	return fmt.Sprintf("%d/%d repositories done, %d failed, %s in %s (%s/s)",
		s.Done, s.Total, s.Failed, humanBytes(s.Bytes), s.Duration.Round(time.Millisecond), humanBytes(int64(s.BytesPerSecond())))
}

// close marks the tally finished and returns its summary; false if it
// already was.
func (t *tally) close() (summary, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return summary{}, false
	}
	t.closed = true
	return t.summaryLocked(), true
}

func (t *tally) summaryLocked() summary {
	return summary{Total: t.total, Done: t.done, Failed: t.failed, Bytes: t.bytes, Duration: time.Since(t.start)}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// tokenLike matches what must not reach a log even if an error carried
// it: GitHub tokens (classic, fine-grained, App installation and user
// tokens), the user information of a URL, an Authorization header's value.
var tokenLike = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|(://)[^/@\s]+@|((?i:authorization):\s*\S+\s+)\S+`)

// errorText is err's message with anything token-like replaced by
// "[redacted]": errors should never hold a token; this makes sure one
// that does is not printed.
func errorText(err error) string {
	return tokenLike.ReplaceAllString(err.Error(), "${1}${2}[redacted]")
}

// LogProgress writes one structured log line per repository done or
// failed, and a summary, for logs and CI (no terminal).
type LogProgress struct {
	l *slog.Logger
	t *tally
}

// NewLogProgress returns a Progress logging to l (JSON with
// slog.NewJSONHandler). Lines: "round" (total), "repository scanned"
// (repo, id, bytes, duration_ms), "repository failed" (the same and
// error, level WARN), and "org scan finished" (total, done, failed, bytes,
// duration_ms, bytes_per_second).
func NewLogProgress(l *slog.Logger) *LogProgress {
	return &LogProgress{l: l, t: newTally()}
}

// Round implements Progress.
func (p *LogProgress) Round(total int) {
	p.t.mu.Lock()
	closed := p.t.closed
	p.t.total = total
	p.t.mu.Unlock()
	if !closed {
		p.l.Info("round", "total", total)
	}
}

// RepoStarted implements Progress. It logs nothing: a line per repository
// started would double the log for no information.
func (p *LogProgress) RepoStarted(r Repo) { p.t.begin(r) }

// RepoDone implements Progress.
func (p *LogProgress) RepoDone(r Repo, bytes int64, err error) {
	d, ok := p.t.end(r, bytes, err)
	if !ok {
		return
	}
	attrs := []any{"repo", r.FullName, "id", r.ID, "bytes", bytes, "duration_ms", d.Milliseconds()}
	if err != nil {
		p.l.Warn("repository failed", append(attrs, "error", errorText(err))...)
		return
	}
	p.l.Info("repository scanned", attrs...)
}

// Finish implements Progress.
func (p *LogProgress) Finish() {
	s, ok := p.t.close()
	if !ok {
		return
	}
	p.l.Info("org scan finished", "total", s.Total, "done", s.Done, "failed", s.Failed,
		"bytes", s.Bytes, "duration_ms", s.Duration.Milliseconds(), "bytes_per_second", int64(s.BytesPerSecond()))
}

// TTYProgress draws, with github.com/vbauerster/mpb, a bar of the
// repositories done out of the round's total with the bytes scanned, the
// rate and an ETA, a line naming the repositories being scanned, and a
// line above the bar for each failure; Finish writes the summary.
type TTYProgress struct {
	w   io.Writer
	t   *tally
	p   *mpb.Progress
	bar *mpb.Bar
}

// NewTTYProgress returns a Progress drawing on w, which should be a
// terminal (the display redraws itself with cursor movements; on another
// writer it is drawn 80 columns wide).
func NewTTYProgress(w io.Writer) *TTYProgress {
	tp := &TTYProgress{w: w, t: newTally()}
	tp.p = mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(200*time.Millisecond))
	tp.bar = tp.p.AddBar(0,
		mpb.PrependDecorators(
			decor.Name("repos "),
			decor.CountersNoUnit("%d/%d", decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.Any(tp.bytesAndRate, decor.WCSyncSpace),
			decor.Name(" ETA "),
			decor.AverageETA(decor.ET_STYLE_GO),
		),
		mpb.BarBtmExtender(mpb.BarFillerFunc(tp.activeLine)),
	)
	return tp
}

// bytesAndRate is the decorator after the bar: failures, bytes, rate.
func (tp *TTYProgress) bytesAndRate(decor.Statistics) string {
	tp.t.mu.Lock()
	s := tp.t.summaryLocked()
	tp.t.mu.Unlock()
	failed := ""
	if s.Failed > 0 {
		failed = fmt.Sprintf("%d failed  ", s.Failed)
	}
	return fmt.Sprintf("%s%s  %s/s", failed, humanBytes(s.Bytes), humanBytes(int64(s.BytesPerSecond())))
}

// activeLine is the line under the bar: the repositories being scanned,
// oldest first, cut to the width.
func (tp *TTYProgress) activeLine(w io.Writer, st decor.Statistics) error {
	tp.t.mu.Lock()
	type act struct {
		name string
		at   time.Time
	}
	acts := make([]act, 0, len(tp.t.active))
	for id, r := range tp.t.active {
		acts = append(acts, act{r.FullName, tp.t.started[id]})
	}
	tp.t.mu.Unlock()
	slices.SortFunc(acts, func(a, b act) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	line := ""
	if len(acts) > 0 {
		names := make([]string, len(acts))
		for i, a := range acts {
			names[i] = a.name
		}
		line = "  scanning: " + strings.Join(names, ", ")
	}
	if width := st.AvailableWidth; width > 1 && len(line) > width {
		line = line[:width-1] + "…"
	}
	_, err := io.WriteString(w, line+"\n")
	return err
}

// Write prints p above the bars (which stay at the bottom of the
// terminal), or straight to the writer after Finish: give it to a logger
// (slog.NewTextHandler(tp, nil)) so that log lines do not tear the
// display. Write whole lines.
func (tp *TTYProgress) Write(p []byte) (int, error) {
	tp.t.mu.Lock()
	closed := tp.t.closed
	tp.t.mu.Unlock()
	if closed {
		return tp.w.Write(p)
	}
	n, err := tp.p.Write(p)
	if err != nil {
		// The display stopped meanwhile (Finish): write directly.
		return tp.w.Write(p)
	}
	return n, nil
}

// Round implements Progress.
func (tp *TTYProgress) Round(total int) {
	tp.t.mu.Lock()
	closed := tp.t.closed
	tp.t.total = total
	tp.t.mu.Unlock()
	if !closed {
		tp.bar.SetTotal(int64(total), false)
	}
}

// RepoStarted implements Progress.
func (tp *TTYProgress) RepoStarted(r Repo) { tp.t.begin(r) }

// RepoDone implements Progress.
func (tp *TTYProgress) RepoDone(r Repo, bytes int64, err error) {
	if _, ok := tp.t.end(r, bytes, err); !ok {
		return
	}
	if err != nil {
		// Printed above the bars, which stay at the bottom.
		fmt.Fprintf(tp.p, "leakstop: error: %s: %s\n", r.FullName, errorText(err))
	}
	tp.bar.Increment()
}

// Finish implements Progress.
func (tp *TTYProgress) Finish() {
	s, ok := tp.t.close()
	if !ok {
		return
	}
	// Complete the bar at what was done (a process of a fleet does only
	// its share of the round), then wait for the last frame.
	tp.bar.SetTotal(-1, true)
	tp.p.Wait()
	fmt.Fprintf(tp.w, "leakstop: org scan: %s\n", s)
}
