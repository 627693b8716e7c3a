// Package tomlpos finds the lines of tables and keys in a TOML file, so that
// errors found after decoding (BurntSushi/toml reports lines only for
// syntax errors) can name a line. The rules file and the revoker
// configuration share it.
//
// It understands the plain layout such files use: [table] and [[array]]
// headers, sub-tables of an array element ([rules.allowlist] after
// [[rules]]), and key = value lines, with bare or quoted keys. Where it
// cannot tell, it answers 0: no line.
package tomlpos

import (
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Index holds the positions of one file's headers and keys.
type Index struct {
	headers []header
	keys    []key
}

type header struct {
	name string
	line int
	// owner is the header of the array element a sub-table belongs to
	// ([rules.allowlist] after [[rules]]), or -1.
	owner int
}

type key struct {
	name string
	line int
	// header is the index of the header the key is under, -1 before any.
	header int
}

var (
	headerRE = regexp.MustCompile(`^\s*\[(\[?)\s*([A-Za-z0-9_.-]+)\s*\]`)
	keyRE    = regexp.MustCompile(`^\s*"?([A-Za-z0-9_-]+)"?\s*=`)
)

// New indexes data.
func New(data []byte) Index {
	var x Index
	cur := -1
	lastArray := map[string]int{} // array name → header index of its last element
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if m := headerRE.FindStringSubmatch(line); m != nil {
			name, owner := m[2], -1
			if dot := strings.IndexByte(name, '.'); dot > 0 {
				if h, ok := lastArray[name[:dot]]; ok {
					owner = h
				}
			}
			x.headers = append(x.headers, header{name: name, line: n, owner: owner})
			cur = len(x.headers) - 1
			if m[1] == "[" {
				lastArray[name] = cur
			}
			continue
		}
		if m := keyRE.FindStringSubmatch(line); m != nil {
			x.keys = append(x.keys, key{name: m[1], line: n, header: cur})
		}
	}
	return x
}

// nth returns the index of the n-th (0-based) [name] or [[name]] header, or -1.
func (x Index) nth(name string, n int) int {
	seen := 0
	for i, h := range x.headers {
		if h.name == name {
			if seen == n {
				return i
			}
			seen++
		}
	}
	return -1
}

// Table returns the line of the n-th (0-based) [name] or [[name]] header.
func (x Index) Table(name string, n int) int {
	if h := x.nth(name, n); h >= 0 {
		return x.headers[h].line
	}
	return 0
}

// Key returns the line of key in the n-th [name] or [[name]] table (or in
// a sub-table of that array element), else the table's header line.
func (x Index) Key(name string, n int, k string) int {
	h := x.nth(name, n)
	if h < 0 {
		return 0
	}
	for _, kk := range x.keys {
		if kk.name == k && kk.header >= 0 && (kk.header == h || x.headers[kk.header].owner == h) {
			return kk.line
		}
	}
	return x.headers[h].line
}

// Top returns the line of a top-level key (one before any header).
func (x Index) Top(k string) int {
	for _, kk := range x.keys {
		if kk.header >= 0 {
			break
		}
		if kk.name == k {
			return kk.line
		}
	}
	return 0
}

// Anywhere returns the first line of key k in any table.
func (x Index) Anywhere(k string) int {
	for _, kk := range x.keys {
		if kk.name == k {
			return kk.line
		}
	}
	return 0
}

// Undecoded finds a key that toml.MetaData.Undecoded reported: a top-level
// key (or table), or a key in the first table of its parent's name that
// has it.
func (x Index) Undecoded(k toml.Key) int {
	switch len(k) {
	case 0:
		return 0
	case 1:
		if l := x.Top(k[0]); l > 0 {
			return l
		}
		return x.Table(k[0], 0)
	}
	parent, name := k[len(k)-2], k[len(k)-1]
	for n := 0; ; n++ {
		h := x.nth(parent, n)
		if h < 0 {
			return 0
		}
		for _, kk := range x.keys {
			if kk.name == name && kk.header == h {
				return kk.line
			}
		}
	}
}
