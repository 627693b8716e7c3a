package scanner

import (
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// TestJoinedLiterals: a token written as several literals is found, with
// its location at the first piece; literals that are not joined (a list,
// two statements) stay apart.
func TestJoinedLiterals(t *testing.T) {
	d := defaultDetector(t)
	cases := []struct {
		name, tmpl string
		found      bool
		line, col  int
	}{
		{"js plus", `const sid = "{{sid s}}";` + "\n" + `const token = "{{part token:t 0 16}}" + "{{part t 16 32}}";`, true, 2, 16},
		{"python implicit", "SID = '{{sid s}}'\nTOKEN = (\n    '{{part token:t 0 16}}'\n    '{{part t 16 32}}'\n)", true, 3, 6},
		{"go multi-line plus", "sid := \"{{sid s}}\"\ntok := \"{{part token:t 0 8}}\" +\n\t\"{{part t 8 32}}\"", true, 2, 9},
		{"php dot", "$sid = '{{sid s}}';\n$token = '{{part token:t 0 12}}'.'{{part t 12 32}}';", true, 2, 11},
		{"shell adjacent", "SID={{sid s}}\nTOKEN=\"{{part token:t 0 16}}\"'{{part t 16 32}}'", true, 2, 8},
		{"concat", "sid = '{{sid s}}'\ntoken = '{{part token:t 0 10}}'.concat('{{part t 10 20}}').concat('{{part t 20 32}}')", true, 2, 10},
		{"plus-equals", "val sid = \"{{sid s}}\"\nvar token = \"{{part token:t 0 16}}\"\ntoken += \"{{part t 16 32}}\"", true, 2, 14},
		{"list is not joined", "sid = '{{sid s}}'\nparts = [\"{{part token:t 0 16}}\", \"{{part t 16 32}}\"]", false, 0, 0},
		{"two statements", "sid = '{{sid s}}'\na = \"{{part token:t 0 16}}\"\nb = \"{{part t 16 32}}\"", false, 0, 0},
		{"joined hash is named", "sid = '{{sid s}}'\nasset_version = \"{{part token:t 0 16}}\" + \"{{part t 16 32}}\"", false, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := rules.NewGenerator(7)
			text, err := g.Expand(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			fs := d.Pair([]FileHits{{Path: "f", Hits: d.Hits([]byte(text))}})
			var got *Finding
			for i := range fs {
				if fs[i].Secret.Reveal() == g.Values["t"] {
					got = &fs[i]
				}
			}
			if (got != nil) != c.found {
				t.Fatalf("found %v, want %v (%d findings)", got != nil, c.found, len(fs))
			}
			if got == nil {
				return
			}
			l := got.Locations[0]
			if got.Identifier != g.Values["s"] || l.Line != c.line || l.Column != c.col {
				t.Errorf("identifier ok %v, location %d:%d, want %d:%d", got.Identifier == g.Values["s"], l.Line, l.Column, c.line, c.col)
			}
			first := strings.Split(text, "\n")[l.Line-1]
			if !strings.HasPrefix(g.Values["t"], first[l.Column-1:l.EndColumn-1]) {
				t.Errorf("columns %d-%d are not the first piece of the token", l.Column, l.EndColumn)
			}
		})
	}
}

// BenchmarkJoinedLiterals measures content full of short literals joined
// with "+", the worst case for the join pass.
func BenchmarkJoinedLiterals(b *testing.B) {
	d := benchDetector(b)
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString(`msg = "hello" + "world" + name + "x1y2z3"` + "\n")
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = d.Hits(data)
	}
}
