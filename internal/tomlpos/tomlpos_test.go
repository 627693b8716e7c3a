package tomlpos

import (
	"testing"

	"github.com/BurntSushi/toml"
)

const doc = `version = 1
"quoted-key" = 2

[allowlist]
paths = ["a"]

[[rules]]
id = "one"
regex = 'x'

[rules.allowlist]
regexes = ['y']

[[rules]]
id = "two"

[[sinks]]
name = "s"
[sinks.env]
kind = "not the sink's"

[[sinks]]
  kind = "api-key"
`

func TestIndex(t *testing.T) {
	x := New([]byte(doc))
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"top key", x.Top("version"), 1},
		{"quoted top key", x.Top("quoted-key"), 2},
		{"top key only before headers", x.Top("paths"), 0},
		{"table", x.Table("allowlist", 0), 4},
		{"first array element", x.Table("rules", 0), 7},
		{"second array element", x.Table("rules", 1), 14},
		{"no third element", x.Table("rules", 2), 0},
		{"key in element", x.Key("rules", 0, "regex"), 9},
		{"key in a sub-table of the element", x.Key("rules", 0, "regexes"), 12},
		{"missing key: the header", x.Key("rules", 1, "regex"), 14},
		{"key of the second element", x.Key("rules", 1, "id"), 15},
		{"no such table", x.Key("nope", 0, "id"), 0},
		{"indented key", x.Key("sinks", 1, "kind"), 23},
		{"anywhere", x.Anywhere("regexes"), 12},
		{"anywhere: first", x.Anywhere("id"), 8},
		{"anywhere: none", x.Anywhere("absent"), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: line %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestUndecoded(t *testing.T) {
	x := New([]byte(doc))
	for _, c := range []struct {
		key  toml.Key
		want int
	}{
		{toml.Key{"version"}, 1},
		{toml.Key{"allowlist"}, 4},
		{toml.Key{"rules", "regex"}, 9},
		// The first element that has the key directly: the env sub-table's
		// kind is not the sink's, the second sink's is.
		{toml.Key{"sinks", "kind"}, 23},
		{toml.Key{"env", "kind"}, 0}, // a dotted header is named in full
		{toml.Key{"sinks.env", "kind"}, 20},
		{toml.Key{"rules", "absent"}, 0},
		{toml.Key{}, 0},
	} {
		if got := x.Undecoded(c.key); got != c.want {
			t.Errorf("Undecoded(%v) = %d, want %d", c.key, got, c.want)
		}
	}
}
