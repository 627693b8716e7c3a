package scanner

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

func benchDetector(b testing.TB) *Detector {
	set, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDetector(set)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// noKeywordText is prose and numbers with none of the rules' keywords.
func noKeywordText(n int) []byte {
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "function", "return", "value", "index", "buffer", "1234", "print", "loop", "int", "string"}
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			sb.WriteByte('\n')
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String())
}

// sourceText is Go/Python-like source with keywords ("token", "auth",
// "account", "secret", "task") scattered the way real code has them.
func sourceText(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	lines := []string{
		"func (s *Server) handle(ctx context.Context, req *Request) error {",
		"\tif err := s.auth.Check(ctx, req.Token); err != nil {",
		"\t\treturn fmt.Errorf(\"check token: %w\", err)",
		"\taccount := s.accounts.Get(req.AccountID)",
		"\tfor i, task := range tasks { process(i, task) }",
		"def refresh_access_token(self, secret_name):",
		"    return self.cache.get(key) or compute(key)",
		"\tlog.Printf(\"backing off for %v\", delay)",
		"}",
		"// Package server implements the HTTP API.",
		"const maxRetries = 5",
		"\tsum := sha256.Sum256(data) // 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(lines[r.IntN(len(lines))])
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

func BenchmarkDetector(b *testing.B) {
	d := benchDetector(b)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"no-keywords", noKeywordText(4 << 20)},
		{"source-with-keywords", sourceText(4 << 20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				_ = d.Hits(c.data)
			}
		})
	}
}

func TestBenchInputsAreClean(t *testing.T) {
	d := benchDetector(t)
	for i, data := range [][]byte{noKeywordText(1 << 20), sourceText(1 << 20)} {
		if h := d.Hits(data); len(h) != 0 {
			t.Errorf("input %d: %d hits, first %s", i, len(h), fmt.Sprint(h[0].Rule.ID))
		}
	}
}
