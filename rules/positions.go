package rules

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

// positions maps the tables and keys of a rules file to line numbers, so
// that errors found after decoding can still name a line. BurntSushi/toml
// reports lines only for syntax errors.
type positions struct {
	blocks map[blockKey]*block
	keys   map[string]int // first line of each key anywhere
}

type blockKey struct {
	table string
	index int
}

type block struct {
	line   int
	fields map[string]int
}

var (
	arrayHeader = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.]+)\s*\]\]`)
	tableHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.]+)\s*\]`)
	keyLine     = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=`)
)

func indexPositions(data []byte) positions {
	p := positions{blocks: map[blockKey]*block{}, keys: map[string]int{}}
	counts := map[string]int{}
	var cur *block
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := arrayHeader.FindStringSubmatch(line); m != nil {
			k := blockKey{m[1], counts[m[1]]}
			counts[m[1]]++
			cur = &block{line: n, fields: map[string]int{}}
			p.blocks[k] = cur
			continue
		}
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			name := m[1]
			// A sub-table of an array element ([rules.allowlist]) keeps
			// attributing keys to that element.
			if i := strings.IndexByte(name, '.'); i > 0 && counts[name[:i]] > 0 {
				continue
			}
			cur = &block{line: n, fields: map[string]int{}}
			p.blocks[blockKey{name, 0}] = cur
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			if _, ok := p.keys[m[1]]; !ok {
				p.keys[m[1]] = n
			}
			if cur != nil {
				if _, ok := cur.fields[m[1]]; !ok {
					cur.fields[m[1]] = n
				}
			}
		}
	}
	return p
}

func (p positions) headerLine(table string, i int) int {
	if b := p.blocks[blockKey{table, i}]; b != nil {
		return b.line
	}
	return 0
}

func (p positions) fieldLine(table string, i int, key string) int {
	if b := p.blocks[blockKey{table, i}]; b != nil {
		if l, ok := b.fields[key]; ok {
			return l
		}
		return b.line
	}
	return 0
}

func (p positions) keyLine(key string) int { return p.keys[key] }
