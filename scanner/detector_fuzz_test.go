package scanner

import (
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// FuzzDetector feeds arbitrary content, with and without a planted
// credential, through hits and pairing: no panic, every hit's position
// inside the content, every planted credential still found.
func FuzzDetector(f *testing.F) {
	set, err := rules.Default()
	if err != nil {
		f.Fatal(err)
	}
	d, err := NewDetector(set)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "AC", "auth_token=", "Basic QUM=", `\u0041C`, "%3a%3A%", "twilio\r\n\r\n", strings.Repeat("ac", 100)} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		hits := d.Hits(data)
		lines := strings.Count(string(data), "\n") + 1
		for _, h := range hits {
			if h.Line < 1 || h.Line > lines || h.Column < 1 || h.EndColumn <= h.Column {
				t.Fatalf("bad position %d:%d-%d", h.Line, h.Column, h.EndColumn)
			}
			if h.Offset < 0 || h.Offset >= len(data) {
				t.Fatalf("offset %d outside %d bytes", h.Offset, len(data))
			}
		}
		_ = d.Pair([]FileHits{{Path: "f", Hits: hits}})

		// A real credential planted in a clean line after the fuzz input
		// is still found.
		g := rules.NewGenerator(seed)
		plant, _ := g.Expand("\nTWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}\n")
		content := append(append([]byte{}, data...), plant...)
		found := false
		for _, fd := range d.Pair([]FileHits{{Path: "f", Hits: d.Hits(content)}}) {
			if fd.Identifier == g.Values["s"] && fd.Secret.Reveal() == g.Values["t"] {
				found = true
			}
		}
		if !found && !strings.Contains(string(data), AllowComment) {
			t.Fatalf("planted credential not found after %q", data)
		}
	})
}
