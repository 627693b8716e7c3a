package scanner

import (
	"bytes"
	"regexp"

	"github.com/leakstop/leakstop/rules"
)

// siblingLabel finds the name given to a value: line beside it:
// "- name: TWILIO_AUTH_TOKEN / value: …", <add key="X" value="…"/>.
var siblingLabel = regexp.MustCompile(`(?i)\b(?:name|key)["']?\s*[:=]\s*["']?([A-Za-z][A-Za-z0-9_.\-]*)`)

// siblingName returns the name that the value named "value" at line
// start ls (name at at) is given on its line or the two lines above.
func siblingName(data []byte, ls, at int) string {
	if m := siblingLabel.FindAllSubmatch(data[ls:at], -1); len(m) > 0 {
		return string(m[len(m)-1][1])
	}
	p := ls
	for range 2 {
		if p == 0 {
			break
		}
		start := bytes.LastIndexByte(data[max(0, p-1-maxNameBytes):p-1], '\n') + 1 + max(0, p-1-maxNameBytes)
		if m := siblingLabel.FindAllSubmatch(data[start:p-1], -1); len(m) > 0 {
			return string(m[len(m)-1][1])
		}
		p = start
	}
	return ""
}

// maxParentLines bounds how far up a parent key or section is looked for.
const maxParentLines = 40

// parentClass judges a generic name by the key or section it sits in: an
// inline object on its line ("bugsnag": { "apiKey": …), the nearest less
// indented line above (YAML, JSON, HCL blocks, PHP arrays), or the
// [section] above a top-level key (TOML, INI). A parent naming the owner
// makes the name the owner's; a parent the model calls other (stripe:,
// provider "newrelic" {, active_record_encryption:) makes it someone
// else's. NameNone when the parent says nothing.
func parentClass(m *rules.NameModel, data []byte, ls, at int) rules.NameClass {
	depth := 0
	for i := at - 1; i >= ls; i-- {
		switch data[i] {
		case '}':
			depth++
		case '{':
			if depth > 0 {
				depth--
				continue
			}
			p := i
			for p > ls && bytes.IndexByte([]byte(" \t:=\"'"), data[p-1]) >= 0 {
				p--
			}
			name, _ := readName(m, data, ls, p)
			return labelClass(m, name)
		}
	}
	ind := indentOf(data[ls:at])
	p := ls
	for range maxParentLines {
		if p == 0 {
			return rules.NameNone
		}
		lo := max(0, p-1-maxNameBytes)
		start := lo + bytes.LastIndexByte(data[lo:p-1], '\n') + 1
		line := bytes.TrimRight(data[start:p-1], "\r")
		p = start
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || t[0] == ';' || bytes.HasPrefix(t, []byte("//")) || t[0] == '*' || bytes.HasPrefix(t, []byte("/*")) {
			continue
		}
		if ind == 0 {
			if t[0] == '[' && t[len(t)-1] == ']' {
				return labelClass(m, string(bytes.Trim(t, "[] ")))
			}
			continue
		}
		if indentOf(line) >= ind {
			continue
		}
		label, ok := parentLabel(bytes.TrimLeft(t, "- "))
		if !ok {
			return rules.NameNone // code (class X {, def f():), not a key
		}
		return labelClass(m, label)
	}
	return rules.NameNone
}

// parentLabel returns the key of a line that opens a block of keys: a key
// followed by ":", "=", "=>" and nothing or an opening bracket (YAML
// stripe:, JSON "stripe": {, PHP 'mailgun' => [, TOML x = {), or an HCL
// block header (provider "newrelic" {).
func parentLabel(t []byte) (string, bool) {
	var label []byte
	i, n := 0, len(t)
	token := func() bool {
		if i < n && (t[i] == '"' || t[i] == '\'') {
			j := bytes.IndexByte(t[i+1:], t[i])
			if j < 0 {
				return false
			}
			label = append(append(label, ' '), t[i+1:i+1+j]...)
			i += j + 2
			return true
		}
		j := i
		for j < n && (isNameByte(t[j]) || t[j] == '$') {
			j++
		}
		if j == i {
			return false
		}
		label = append(append(label, ' '), t[i:j]...)
		i = j
		return true
	}
	blank := func() {
		for i < n && (t[i] == ' ' || t[i] == '\t') {
			i++
		}
	}
	if !token() {
		return "", false
	}
	blank()
	if i < n && (t[i] == ':' || t[i] == '=') {
		i++
		if i < n && t[i] == '>' {
			i++
		}
		blank()
		rest := string(t[i:])
		switch {
		case rest == "", rest == "{", rest == "[", rest == "array(", rest == "|", rest == ">", rest == "(",
			rest[0] == '#', rest[0] == '&':
			return string(label), true
		}
		return "", false
	}
	// HCL: a word, then quoted labels, then {.
	for i < n && (t[i] == '"' || t[i] == '\'') {
		if !token() {
			return "", false
		}
		blank()
	}
	if i == n-1 && t[i] == '{' && bytes.Count(label, []byte(" ")) > 1 {
		return string(label), true
	}
	return "", false
}

// labelClass classifies a parent label: the owner, someone else, or
// nothing (a name that only fits, or none).
func labelClass(m *rules.NameModel, label string) rules.NameClass {
	if c := m.Classify(label); c == rules.NameOwner || c == rules.NameOther {
		return c
	}
	return rules.NameNone
}

// indentOf counts the blanks and list dashes a line starts with.
func indentOf(line []byte) int {
	n := 0
	for n < len(line) && (line[n] == ' ' || line[n] == '\t' || line[n] == '-') {
		n++
	}
	return n
}
