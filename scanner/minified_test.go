package scanner

import (
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/rules"
)

// TestMinifiedLineCost: a one-line 8 MB file with many credentials costs
// about as much as 8 MB of ordinary lines — no work per hit that grows
// with the length of the line.
func TestMinifiedLineCost(t *testing.T) {
	d := defaultDetector(t)
	g := rules.NewGenerator(13)
	var b strings.Builder
	for i := 0; b.Len() < 8<<20; i++ {
		b.WriteString(strings.Repeat("var_a=function(x){return x*2};", 1000))
		if i%10 == 0 {
			s, _ := g.Expand(`;tw=require("twilio")("{{sid}}","{{token}}");`)
			b.WriteString(s)
		}
	}
	one := []byte(b.String())
	start := time.Now()
	hits := d.Hits(one)
	el := time.Since(start)
	if len(hits) < 40 {
		t.Fatalf("%d hits, want the planted credentials", len(hits))
	}
	many := []byte(strings.ReplaceAll(b.String(), ";", ";\n"))
	start = time.Now()
	d.Hits(many)
	base := time.Since(start)
	t.Logf("one line: %v, many lines: %v, %d hits", el, base, len(hits))
	if el > 4*base+200*time.Millisecond {
		t.Errorf("one 8 MB line took %v, the same text in lines %v", el, base)
	}
}

// TestWindowEdgeNeverCutsARun: a long hex run that a bounded window cuts
// through is not taken for a token.
func TestWindowEdgeNeverCutsARun(t *testing.T) {
	d := defaultDetector(t)
	g := rules.NewGenerator(17)
	sid, _ := g.Expand("{{sid}}")
	digest, _ := g.Expand("{{token a}}{{token b}}{{token c}}")
	for pad := maxLineWindow - 40; pad < maxLineWindow+40; pad++ {
		text := sid + " " + strings.Repeat("x", pad) + " " + digest + " end"
		for _, h := range d.Hits([]byte(text)) {
			if h.Rule.Kind == rules.Secret {
				t.Fatalf("pad %d: piece of a 96-hex run taken for a token at column %d", pad, h.Column)
			}
		}
	}
}
