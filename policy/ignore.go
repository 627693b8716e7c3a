package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// Ignore is a set of fingerprints not to report, read from an
// ignore file (IgnoreFile):
//
//	# Lines are fingerprints, as leakstop prints them, each optionally
//	# followed by a comment saying why it is safe.
//	0123…cdef  # fixture in testdata/, not a real token
//
// Blank lines and lines starting with # are ignored; anything else is an
// error naming FILE:LINE.
type Ignore struct {
	// Path is the file the entries came from ("" when none was read).
	Path    string
	entries map[string]IgnoreEntry
	order   []string
}

// IgnoreEntry is one fingerprint of an ignore file.
type IgnoreEntry struct {
	Fingerprint string
	// Comment is the text after #, trimmed.
	Comment string
	// Line is the line it stands on (1-based).
	Line int
}

// maxIgnoreLine bounds one line of an ignore file.
const maxIgnoreLine = 64 << 10

// LoadIgnore reads the ignore file at path. A missing file is an empty
// Ignore, not an error; anything but a regular file is refused before it
// is opened. LoadIgnoreFile is for a file the user named.
func LoadIgnore(path string) (*Ignore, error) {
	if err := CheckRegular("ignore file", path); errors.Is(err, fs.ErrNotExist) {
		return &Ignore{entries: map[string]IgnoreEntry{}}, nil
	} else if err != nil {
		return nil, err
	}
	return LoadIgnoreFile(path)
}

// LoadIgnoreFile reads the ignore file at path, which must exist and be a
// regular file (--ignore-file: a misspelt name must not silently ignore
// nothing).
func LoadIgnoreFile(path string) (*Ignore, error) {
	if err := CheckRegular("ignore file", path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	ig, err := ParseIgnore(f, path)
	if err != nil {
		return nil, err
	}
	ig.Path = path
	return ig, nil
}

// ParseIgnore reads an ignore file's content; name is used in errors
// ("name:3: …"). An error never quotes the offending line, which may be a
// secret pasted in by mistake.
func ParseIgnore(r io.Reader, name string) (*Ignore, error) {
	ig := &Ignore{Path: name, entries: map[string]IgnoreEntry{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxIgnoreLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		text, comment, _ := strings.Cut(string(line), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue // blank or a comment
		}
		fp := strings.ToLower(text)
		if !report.ValidFingerprint(fp) {
			what := fmt.Sprintf("want a fingerprint of %d hexadecimal digits, optionally followed by # comment", report.FingerprintLen)
			if strings.ContainsAny(text, " \t\v\f\r") {
				what = "want one fingerprint per line, optionally followed by # comment"
			}
			return nil, fmt.Errorf("%s:%d: %s", name, n, what)
		}
		if _, dup := ig.entries[fp]; dup {
			continue
		}
		ig.entries[fp] = IgnoreEntry{Fingerprint: fp, Comment: strings.TrimSpace(comment), Line: n}
		ig.order = append(ig.order, fp)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n+1, maxIgnoreLine)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return ig, nil
}

// Len is the number of fingerprints.
func (ig *Ignore) Len() int {
	if ig == nil {
		return 0
	}
	return len(ig.order)
}

// Entries lists the fingerprints in file order.
func (ig *Ignore) Entries() []IgnoreEntry {
	if ig == nil {
		return nil
	}
	out := make([]IgnoreEntry, 0, len(ig.order))
	for _, fp := range ig.order {
		out = append(out, ig.entries[fp])
	}
	return out
}

// Has reports whether fingerprint fp is ignored.
func (ig *Ignore) Has(fp string) bool {
	if ig == nil {
		return false
	}
	_, ok := ig.entries[strings.ToLower(fp)]
	return ok
}

// Filter splits findings into those to report and those ignored, keeping
// their order. A nil Ignore ignores nothing.
func (ig *Ignore) Filter(findings []scanner.Finding) (kept, ignored []scanner.Finding) {
	for _, f := range findings {
		if ig.Has(f.Fingerprint) {
			ignored = append(ignored, f)
		} else {
			kept = append(kept, f)
		}
	}
	return kept, ignored
}

// Unused lists the entries that match none of findings: stale lines that
// could be removed.
func (ig *Ignore) Unused(findings []scanner.Finding) []IgnoreEntry {
	seen := map[string]bool{}
	for _, f := range findings {
		seen[strings.ToLower(f.Fingerprint)] = true
	}
	var out []IgnoreEntry
	for _, e := range ig.Entries() {
		if !seen[e.Fingerprint] {
			out = append(out, e)
		}
	}
	return out
}
