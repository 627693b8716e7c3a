package orgscan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/conc"
)

func progressRepo(i int) Repo {
	return Repo{ID: int64(1000 + i), Owner: "acme", Name: fmt.Sprintf("r%d", i), FullName: fmt.Sprintf("acme/r%d", i)}
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLogProgressJSON(t *testing.T) {
	var buf syncBuffer
	p := NewProgress(&buf, false, nil)
	if _, ok := p.(*LogProgress); !ok {
		t.Fatalf("NewProgress(isTTY=false) = %T, want *LogProgress", p)
	}
	p.Round(3)
	p.RepoStarted(progressRepo(1))
	time.Sleep(5 * time.Millisecond)
	p.RepoDone(progressRepo(1), 2048, nil)
	p.RepoStarted(progressRepo(2))
	p.RepoDone(progressRepo(2), 10, fmt.Errorf("fetch acme/r2: %w", errors.New("objects missing")))
	p.RepoDone(progressRepo(3), 0, nil) // unchanged: never started
	p.Finish()
	p.Finish()                          // idempotent
	p.RepoDone(progressRepo(4), 1, nil) // after Finish: ignored
	lines := decodeLines(t, buf.String())
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5 (round, 3 repositories, summary):\n%s", len(lines), buf.String())
	}
	if lines[0]["msg"] != "round" || lines[0]["total"] != float64(3) {
		t.Errorf("first line = %v, want round total 3", lines[0])
	}
	ok := lines[1]
	if ok["msg"] != "repository scanned" || ok["level"] != "INFO" || ok["repo"] != "acme/r1" || ok["id"] != float64(1001) || ok["bytes"] != float64(2048) {
		t.Errorf("scanned line = %v", ok)
	}
	if d, _ := ok["duration_ms"].(float64); d < 5 {
		t.Errorf("duration_ms = %v, want >= 5 (slept 5 ms between start and done)", ok["duration_ms"])
	}
	if _, has := ok["error"]; has {
		t.Errorf("a scanned repository has an error attribute: %v", ok)
	}
	bad := lines[2]
	if bad["msg"] != "repository failed" || bad["level"] != "WARN" || bad["repo"] != "acme/r2" || bad["error"] != "fetch acme/r2: objects missing" {
		t.Errorf("failed line = %v", bad)
	}
	if lines[3]["repo"] != "acme/r3" || lines[3]["duration_ms"] != float64(0) {
		t.Errorf("unchanged line = %v", lines[3])
	}
	sum := lines[4]
	if sum["msg"] != "org scan finished" || sum["total"] != float64(3) || sum["done"] != float64(3) || sum["failed"] != float64(1) || sum["bytes"] != float64(2058) {
		t.Errorf("summary = %v", sum)
	}
	if _, has := sum["bytes_per_second"]; !has {
		t.Errorf("summary has no bytes_per_second: %v", sum)
	}
}

func TestLogProgressUsesGivenLogger(t *testing.T) {
	var logBuf, w syncBuffer
	l := slog.New(slog.NewJSONHandler(&logBuf, nil)).With("worker", 2)
	p := NewProgress(&w, false, l)
	p.Round(1)
	p.RepoDone(progressRepo(1), 1, nil)
	p.Finish()
	if w.String() != "" {
		t.Errorf("wrote to w with a logger given: %q", w.String())
	}
	for _, m := range decodeLines(t, logBuf.String()) {
		if m["worker"] != float64(2) {
			t.Errorf("line lost the logger's attributes: %v", m)
		}
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func TestTTYProgressShowsCountsAndActive(t *testing.T) {
	var buf syncBuffer
	p := NewProgress(&buf, true, nil)
	if _, ok := p.(*TTYProgress); !ok {
		t.Fatalf("NewProgress(isTTY=true) = %T, want *TTYProgress", p)
	}
	p.Round(4)
	p.RepoStarted(progressRepo(1))
	p.RepoStarted(progressRepo(2))
	p.RepoDone(progressRepo(1), 3*1024*1024, nil)
	// The display redraws every 200 ms: wait for a frame that shows the
	// count and the repository still being scanned.
	deadline := time.Now().Add(5 * time.Second)
	var frame string
	for time.Now().Before(deadline) {
		frame = ansi.ReplaceAllString(buf.String(), "")
		if strings.Contains(frame, "1/4") && strings.Contains(frame, "scanning: acme/r2") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"repos", "1/4", "3.0 MiB", "/s", "ETA", "scanning: acme/r2"} {
		if !strings.Contains(frame, want) {
			t.Errorf("display lacks %q:\n%s", want, frame)
		}
	}
	if last := frame[strings.LastIndex(frame, "scanning:"):]; strings.Contains(last, "acme/r1") {
		t.Errorf("latest frame still lists the finished acme/r1: %q", last)
	}
	p.RepoDone(progressRepo(2), 1024, errors.New("clone acme/r2: exit status 128"))
	p.Finish()
	p.Finish()
	out := ansi.ReplaceAllString(buf.String(), "")
	if !strings.Contains(out, "leakstop: error: acme/r2: clone acme/r2: exit status 128") {
		t.Errorf("failure not printed:\n%s", out)
	}
	if !strings.Contains(out, "2/2") {
		t.Errorf("final frame does not complete the bar at 2 done:\n%s", out)
	}
	want := regexp.MustCompile(`leakstop: org scan: 2/4 repositories done, 1 failed, 3\.0 MiB in [0-9.]+m?s \(.*/s\)\n$`)
	if !want.MatchString(out) {
		t.Errorf("summary line missing or wrong, output ends:\n%q", out[max(0, len(out)-200):])
	}
}

// TestProgressConcurrent hammers both displays from many goroutines; run
// with -race.
func TestProgressConcurrent(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			var buf syncBuffer
			p := NewProgress(&buf, tty, nil)
			const workers, each = 8, 25
			p.Round(workers * each)
			var wg conc.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						r := progressRepo(w*each + i)
						p.RepoStarted(r)
						var err error
						if i%10 == 0 {
							err = errors.New("boom")
						}
						p.RepoDone(r, 100, err)
					}
				})
			}
			wg.Wait()
			p.Finish()
			out := ansi.ReplaceAllString(buf.String(), "")
			if tty {
				if !strings.Contains(out, "200/200 repositories done, 24 failed, 19.5 KiB") {
					t.Errorf("summary wrong:\n%s", out[max(0, len(out)-300):])
				}
				return
			}
			lines := decodeLines(t, out)
			if len(lines) != 1+workers*each+1 {
				t.Fatalf("%d lines, want %d", len(lines), 2+workers*each)
			}
			sum := lines[len(lines)-1]
			if sum["done"] != float64(200) || sum["failed"] != float64(24) || sum["bytes"] != float64(20000) {
				t.Errorf("summary = %v", sum)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Error("a bytes.Buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	if IsTerminal(io.Discard) {
		t.Error("io.Discard is a terminal")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestErrorTextRedactsTokens(t *testing.T) {
	tok := "ghs_" + strings.Repeat("A1b2", 9)
	pat := "github_pat_" + strings.Repeat("x9Y_", 15)
	for _, tc := range []struct{ in, want string }{
		{"fetch acme/r: exit status 128", "fetch acme/r: exit status 128"},
		{"clone https://x-access-token:" + tok + "@github.com/acme/r.git: denied", "clone https://[redacted]github.com/acme/r.git: denied"},
		{"token " + tok + " rejected", "token [redacted] rejected"},
		{"bad " + pat, "bad [redacted]"},
		{"request had Authorization: Bearer " + tok, "request had Authorization: Bearer [redacted]"},
	} {
		got := errorText(errors.New(tc.in))
		if got != tc.want {
			t.Errorf("errorText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, tok) || strings.Contains(got, pat) {
			t.Errorf("token left in %q", got)
		}
	}
	var buf syncBuffer
	p := NewLogProgress(slog.New(slog.NewJSONHandler(&buf, nil)))
	p.RepoDone(progressRepo(1), 0, errors.New("fetch https://u:"+tok+"@h/r.git"))
	if strings.Contains(buf.String(), tok) {
		t.Errorf("the log holds the token: %s", buf.String())
	}
}

func TestTTYProgressWriteAboveBars(t *testing.T) {
	var buf syncBuffer
	p := NewTTYProgress(&buf)
	l := slog.New(slog.NewTextHandler(p, nil))
	p.Round(1)
	l.Info("listing done", "repos", 1)
	p.RepoDone(progressRepo(1), 1, nil)
	p.Finish()
	l.Info("after finish")
	out := ansi.ReplaceAllString(buf.String(), "")
	for _, want := range []string{"msg=\"listing done\" repos=1\n", "leakstop: org scan: 1/1", "msg=\"after finish\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "after finish") < strings.Index(out, "leakstop: org scan:") {
		t.Errorf("a line written after Finish came before the summary:\n%s", out)
	}
}
