package scanner

import (
	"bytes"
	"strings"

	"github.com/leakstop/leakstop/rules"
)

// A value's own name decides what it is. These functions find the name a
// value sits under in the content — a key (NAME=v, name: v, "name": "v",
// name := v, :name => v, $name = v), an XML element or attribute, a flag
// (--name v), a label on a log line (ETag: v, trace_id=v, "auth token v"),
// the header of its CSV column, the first argument of env("NAME", "v") or
// the sibling name of a value: line (Kubernetes env, <add key= value=>)
// — and let the rule's name model classify it. A generic name (AUTH_TOKEN,
// api_key) is judged with the key or section it sits in.

// maxNameBytes bounds how far back a name is looked for on a line.
const maxNameBytes = 512

// nameClass returns what the name of the value data[off:end] says.
func nameClass(m *rules.NameModel, data []byte, off, end int) rules.NameClass {
	if attached(data, off, end) {
		// A piece of a longer token: a file name (main.<hash>.css), a
		// slug, a prefixed key (key-<hex>).
		return rules.NameOther
	}
	ls := max(0, off-maxNameBytes)
	if i := bytes.LastIndexByte(data[ls:off], '\n'); i >= 0 {
		ls += i + 1
	}
	name, at := nameBefore(m, data, ls, off)
	if at < ls { // the name ends the line above
		ls = max(0, at-maxNameBytes)
		if i := bytes.LastIndexByte(data[ls:at], '\n'); i >= 0 {
			ls += i + 1
		}
	}
	if name == "" {
		return rules.NameNone
	}
	words := rules.Words(name)
	if onlyWords(words, "value", "val", "data", "content", "default") {
		if sib := siblingName(data, ls, at); sib != "" {
			words = rules.Words(sib)
		}
	}
	class := m.ClassifyWords(words)
	if class == rules.NameFits {
		if p := parentClass(m, data, ls, at); p != rules.NameNone {
			return p
		}
	}
	return class
}

func onlyWords(words []string, set ...string) bool {
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		found := false
		for _, s := range set {
			found = found || w == s
		}
		if !found {
			return false
		}
	}
	return true
}

func attached(data []byte, off, end int) bool {
	joiner := func(b byte) bool { return b == '.' || b == '-' || b == '_' }
	if off >= 2 && joiner(data[off-1]) && isAlnum(data[off-2]) {
		return true
	}
	return end+1 < len(data) && joiner(data[end]) && isAlnum(data[end+1])
}

// sgrStart returns where an ANSI SGR sequence (ESC[…m, or its escaped
// forms \x1b[ \u001b[ \033[ \e[) ending at p starts, or -1.
func sgrStart(data []byte, lo, p int) int {
	if p-1 < lo || data[p-1] != 'm' {
		return -1
	}
	i := p - 2
	for i >= lo && (data[i] >= '0' && data[i] <= '9' || data[i] == ';') {
		i--
	}
	if i < lo || data[i] != '[' {
		return -1
	}
	// i is the '['; what introduces it?
	switch {
	case i-1 >= lo && data[i-1] == 0x1b:
		return i - 1
	case i-4 >= lo && string(data[i-4:i]) == `\x1b`, i-4 >= lo && string(data[i-4:i]) == `\033`:
		return i - 4
	case i-6 >= lo && string(data[i-6:i]) == `\u001b`:
		return i - 6
	case i-2 >= lo && string(data[i-2:i]) == `\e`:
		return i - 2
	}
	return -1
}

// skipFill moves p back over what stands between a name and its value:
// blanks, quotes, escapes, colour codes. It reports whether a blank was
// among them.
func skipFill(data []byte, lo, p int) (int, bool) {
	blank := false
	for p > lo {
		switch c := data[p-1]; c {
		case ' ', '\t':
			blank = true
			p--
		case '"', '\'', '`', '\\', '@', '$', '{':
			p--
		default:
			if s := sgrStart(data, lo, p); s >= 0 {
				p = s
				continue
			}
			return p, blank
		}
	}
	return p, blank
}

func isNameByte(b byte) bool { return isAlnum(b) || b == '_' || b == '-' || b == '.' }

// readName reads the name ending at p: name characters, and before them
// words the model knows, separated by single blanks ("Auth Token").
func readName(m *rules.NameModel, data []byte, lo, p int) (string, int) {
	for p > lo {
		if c := data[p-1]; c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ']' || c == '`' {
			p--
		} else if s := sgrStart(data, lo, p); s >= 0 {
			p = s
		} else {
			break
		}
	}
	end := p
	for p > lo && isNameByte(data[p-1]) {
		p--
	}
	if p == end {
		return "", p
	}
	for {
		q := p
		if q-1 <= lo || data[q-1] != ' ' {
			break
		}
		q--
		ws := q
		for q > lo && isAlnum(data[q-1]) {
			q--
		}
		w := rules.Words(string(data[q:ws]))
		if q == ws || len(w) != 1 || !m.Known(w[0]) {
			break
		}
		p = q
	}
	return string(data[p:end]), p
}

// nameLike rejects "names" that are values: a SID before ":token", a hash.
func nameLike(name string) bool {
	letters, run, digits := false, 0, 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAlnum(c) {
			run++
			if c >= '0' && c <= '9' {
				digits++
			} else {
				letters = true
			}
			if run >= 20 && digits > 1 {
				return false
			}
			continue
		}
		run, digits = 0, 0
	}
	return letters && len(name) <= 100
}

// fillers are words between a name and its value in prose ("the token is").
var fillers = map[string]bool{"is": true, "was": true, "are": true, "be": true, "to": true, "of": true,
	"with": true, "using": true, "as": true, "set": true, "equals": true, "now": true}

// nameBefore returns the name of the value at off, and where it starts.
func nameBefore(m *rules.NameModel, data []byte, ls, off int) (string, int) {
	p, blank := skipFill(data, ls, off)
	if p <= ls && ls > 0 {
		// The value opens its line: the name may end the line above
		// (NAME = (⏎ "…" ⏎ "…"), key:⏎  value, NAME = \⏎ …).
		end := ls - 1
		for end > 0 && (data[end-1] == ' ' || data[end-1] == '\t' || data[end-1] == '\r') {
			end--
		}
		if end > 0 && bytes.IndexByte([]byte("(=:\\"), data[end-1]) >= 0 {
			ls = max(0, end-maxNameBytes)
			if i := bytes.LastIndexByte(data[ls:end], '\n'); i >= 0 {
				ls += i + 1
			}
			p, blank = end, true
		}
	}
	if p > ls && data[p-1] == '\\' {
		p, _ = skipFill(data, ls, p-1)
	}
	if p > ls && data[p-1] == '(' {
		// NAME = ("…" …): a parenthesised value, not a call's argument.
		q, _ := skipFill(data, ls, p-1)
		if q <= ls || (data[q-1] != '=' && data[q-1] != ':') {
			return "", p
		}
		p = q
	}
	if p <= ls {
		return "", p
	}
	c := data[p-1]
	switch {
	case c == '>' && p-2 >= ls && (data[p-2] == '=' || data[p-2] == '-'):
		p -= 2
	case c == '>':
		lt := bytes.LastIndexByte(data[ls:p], '<')
		if lt < 0 {
			return "", p
		}
		tag := data[ls+lt+1 : p-1]
		if i := bytes.IndexAny(tag, " \t/"); i >= 0 {
			tag = tag[:i]
		}
		return string(tag), ls + lt
	case c == '=':
		p--
		for p > ls && bytes.IndexByte([]byte(":+!?.|&"), data[p-1]) >= 0 {
			p--
		}
	case c == '/' && p == off:
		p-- // a path segment is named by the one before it: /hooks/<v>
	case c == ':':
		if p == off && userinfo(data, ls, p-1) {
			return "", p // $SID:token, ${SID}:token, //user:token@
		}
		p--
	case c == ',' || c == ';' || c == '\t' || c == '|':
		if name := csvHeader(data, ls, p, c); name != "" {
			return name, p
		}
		if c == ',' {
			return quotedNameBefore(data, ls, p-1)
		}
		return "", p
	case isAlnum(c) && blank:
		return wordBefore(m, data, ls, p)
	default:
		return "", p
	}
	name, at := readName(m, data, ls, p)
	if typeNames[strings.ToLower(name)] {
		// A declared type, not the name: authToken: string = …,
		// AUTH_TOKEN: &'static str = …, var authToken string = ….
		q := at
		for q > ls && bytes.IndexByte([]byte(" \t&':"), data[q-1]) >= 0 {
			q--
		}
		if q >= ls+len("static") && string(data[q-len("static"):q]) == "static" {
			q -= len("static")
			for q > ls && bytes.IndexByte([]byte(" \t&':"), data[q-1]) >= 0 {
				q--
			}
		}
		name, at = readName(m, data, ls, q)
	}
	if !nameLike(name) {
		return "", at
	}
	return name, at
}

// typeNames are the string types a declaration may put between a name and
// its value (Rust, TypeScript, Go, Kotlin, Swift, Scala).
var typeNames = map[string]bool{"str": true, "string": true, "bytes": true, "text": true, "char": true,
	"charsequence": true, "secretstring": true}

// userinfo reports whether the ':' at colon, touching the value, joins a
// user to a password ($TWILIO_ACCOUNT_SID:…, ${SID}:…, https://user:…@)
// rather than a key to its value.
func userinfo(data []byte, ls, colon int) bool {
	p := colon
	if p > ls && data[p-1] == '}' {
		return true
	}
	for p > ls && (isAlnum(data[p-1]) || data[p-1] == '_') {
		p--
	}
	return p > ls && (data[p-1] == '$' || data[p-1] == '/')
}

// wordBefore reads a label separated from its value by blanks only:
// "--auth-token v", "correlation v", "the token is v".
func wordBefore(m *rules.NameModel, data []byte, ls, p int) (string, int) {
	for range 2 {
		w := p
		for w > ls && isAlnum(data[w-1]) {
			w--
		}
		if !fillers[string(bytes.ToLower(data[w:p]))] {
			break
		}
		for w > ls && (data[w-1] == ' ' || data[w-1] == '\t') {
			w--
		}
		p = w
	}
	name, at := readName(m, data, ls, p)
	if name == "" || !nameLike(name) {
		return "", at
	}
	return name, at
}

// quotedNameBefore reads a quoted name before a comma: env("NAME", "v").
func quotedNameBefore(data []byte, ls, p int) (string, int) {
	for p > ls && (data[p-1] == ' ' || data[p-1] == '\t') {
		p--
	}
	if p <= ls || (data[p-1] != '"' && data[p-1] != '\'') {
		return "", p
	}
	q := data[p-1]
	open := bytes.LastIndexByte(data[ls:p-1], q)
	if open < 0 {
		return "", p
	}
	name := data[ls+open+1 : p-1]
	for _, b := range name {
		if !isNameByte(b) {
			return "", p
		}
	}
	// Only a call's first argument names what follows: env('NAME', 'v').
	if before := ls + open; before == ls || data[before-1] != '(' || !nameLike(string(name)) {
		return "", p
	}
	return string(name), ls + open
}

// maxCSVLine bounds the lines csvHeader reads, so that a value on a long
// minified line costs no more than one on a short line.
const maxCSVLine = 4096

// csvHeader returns the header of the column the value at p (just after a
// separator sep) stands in, when the content starts with a header line of
// as many fields as the value's line, all of them names.
func csvHeader(data []byte, ls, p int, sep byte) string {
	if sep == '|' || ls == 0 || p-ls > maxCSVLine {
		return ""
	}
	le := bytes.IndexByte(data[p:min(len(data), p+maxCSVLine)], '\n')
	if le < 0 {
		if len(data)-p > maxCSVLine {
			return "" // not a CSV line: one long line
		}
		le = len(data) - p
	}
	line := bytes.TrimRight(data[ls:p+le], "\r")
	col := bytes.Count(data[ls:p], []byte{sep})
	fields := bytes.Count(line, []byte{sep}) + 1
	if fields < 3 {
		return ""
	}
	he := bytes.IndexByte(data[:min(len(data), maxCSVLine)], '\n')
	if he < 0 {
		return ""
	}
	header := bytes.Split(bytes.TrimRight(data[:he], "\r"), []byte{sep})
	if len(header) != fields {
		return ""
	}
	for _, h := range header {
		h = bytes.Trim(h, "\"' ")
		if len(h) == 0 || len(h) > 64 || !nameLike(string(h)) {
			return ""
		}
		for _, b := range h {
			if !isNameByte(b) && b != ' ' {
				return ""
			}
		}
	}
	return string(bytes.Trim(header[col], "\"' "))
}
