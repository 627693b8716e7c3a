package scanner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// TestWithInlineAllow: by default a leakstop:allow line hides its hits,
// plain and encoded; WithInlineAllow(false) keeps them.
func TestWithInlineAllow(t *testing.T) {
	g := rules.NewGenerator(7)
	plain, err := g.Expand("TWILIO_ACCOUNT_SID={{sid s1}}\nTWILIO_AUTH_TOKEN={{token t1}} # " + AllowComment + "\n")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := g.Expand(`Authorization: Basic {{b64 sid:s2 ":" token:t2}} # ` + AllowComment + "\n")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"plain.env": plain,
		"enc.http":  enc,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	tokens := func(opts ...DetectorOption) map[string]bool {
		d, err := NewDetector(set, opts...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ScanDir(context.Background(), d, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range res.Findings {
			out[f.Secret.Reveal()] = true
		}
		return out
	}
	if got := tokens(); len(got) != 0 {
		t.Errorf("default: %d finding(s) on allowed lines", len(got))
	}
	if got := tokens(WithInlineAllow(true)); len(got) != 0 {
		t.Errorf("WithInlineAllow(true): %d finding(s) on allowed lines", len(got))
	}
	got := tokens(WithInlineAllow(false))
	for _, k := range []string{"t1", "t2"} {
		if !got[g.Values[k]] {
			t.Errorf("WithInlineAllow(false): %s not found (%d findings)", k, len(got))
		}
	}
}
