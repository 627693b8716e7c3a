package revoker

import (
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex finds the lines of tables and keys in a TOML file, so that
// errors found after decoding can point at the right line. It understands
// the plain layout configuration files use ([table], [[array]], key = …);
// where it cannot tell, it answers 0 (no line).
type lineIndex struct {
	lines []string
}

func indexLines(data []byte) lineIndex {
	return lineIndex{lines: strings.Split(string(data), "\n")}
}

var headerRE = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?`)

func keyRE(key string) *regexp.Regexp {
	return regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
}

// header returns the table name a line opens, or "".
func header(line string) (string, bool) {
	m := headerRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// table returns the line of the n-th (0-based) [name] or [[name]] header.
func (x lineIndex) table(name string, n int) int {
	seen := 0
	for i, l := range x.lines {
		if h, ok := header(l); ok && h == name {
			if seen == n {
				return i + 1
			}
			seen++
		}
	}
	return 0
}

// in returns the line of key inside the n-th [[name]] table, else the
// table's header line.
func (x lineIndex) in(name string, n int, key string) int {
	start := x.table(name, n)
	if start == 0 {
		return 0
	}
	re := keyRE(key)
	for i := start; i < len(x.lines); i++ {
		if _, ok := header(x.lines[i]); ok {
			break
		}
		if re.MatchString(x.lines[i]) {
			return i + 1
		}
	}
	return start
}

// top returns the line of a top-level key (before any table).
func (x lineIndex) top(key string) int {
	re := keyRE(key)
	for i, l := range x.lines {
		if _, ok := header(l); ok {
			return 0
		}
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// keyLine finds an undecoded key: a top-level key, or a key in the first
// table of its parent's name that has it.
func (x lineIndex) keyLine(k toml.Key) int {
	switch len(k) {
	case 0:
		return 0
	case 1:
		if l := x.top(k[0]); l > 0 {
			return l
		}
		return x.table(k[0], 0)
	}
	parent, key := k[len(k)-2], k[len(k)-1]
	for n := 0; ; n++ {
		start := x.table(parent, n)
		if start == 0 {
			return 0
		}
		if l := x.in(parent, n, key); l != start {
			return l
		}
	}
}
