package scanner

import (
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// BenchmarkNamesOnLongLine: a minified line full of SID, token pairs
// separated by commas: the name model must stay bounded per value.
func BenchmarkNamesOnLongLine(b *testing.B) {
	d := benchDetector(b)
	g := rules.NewGenerator(2)
	var sb strings.Builder
	for sb.Len() < 4<<20 {
		s, _ := g.Expand(`{a:"{{sid}}",b:"{{token}}",c:[1,2,3]},`)
		sb.WriteString(s)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = d.Hits(data)
	}
}
