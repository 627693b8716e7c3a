package scanner

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

const corpusDir = "../testdata/corpus"

// expandCorpus writes the corpus with its templates filled in from seed
// into a temporary directory and returns it with the generated values.
func expandCorpus(t testing.TB, seed uint64) (string, map[string]string) {
	t.Helper()
	g := rules.NewGenerator(seed)
	dst := t.TempDir()
	err := filepath.WalkDir(corpusDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, path)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if rel == "want.txt" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := g.Expand(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return os.WriteFile(filepath.Join(dst, rel), []byte(out), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst, g.Values
}

type credKey struct{ path, rule, id, secret, flags string }

func readWant(t testing.TB, values map[string]string) []credKey {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	val := func(label string) string {
		if label == "-" {
			return ""
		}
		up := strings.HasPrefix(label, "^")
		v, ok := values[strings.TrimPrefix(label, "^")]
		if !ok {
			t.Fatalf("want.txt: label %q not in corpus", label)
		}
		if up {
			v = strings.ToUpper(v)
		}
		return v
	}
	var want []credKey
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		k := credKey{path: fs[0], rule: fs[1], id: val(fs[2]), secret: val(fs[3])}
		if len(fs) > 4 {
			k.flags = fs[4]
		}
		want = append(want, k)
	}
	return want
}

// TestCorpus scans every shape and trap of testdata/corpus and asserts the
// exact set of credentials found: each expected one, nothing else.
func TestCorpus(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			root, values := expandCorpus(t, seed)
			want := readWant(t, values)
			entries, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []credKey
			for _, e := range entries {
				res, err := ScanDir(context.Background(), d, filepath.Join(root, e.Name()), Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range res.Findings {
					p := f.Locations[0].Path
					if e.IsDir() {
						p = e.Name() + "/" + p
					} else {
						p = e.Name()
					}
					k := credKey{path: p, rule: f.RuleID, id: f.Identifier, secret: f.Secret.Reveal()}
					if f.Test {
						k.flags = "test"
					}
					got = append(got, k)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("missed: %s %s (id %q)", w.path, w.rule, w.id)
				}
			}
			for _, g := range got {
				if !slices.Contains(want, g) {
					t.Errorf("unexpected: %s %s id=%q secret=%s flags=%q", g.path, g.rule, g.id, redactForTest(g.secret), g.flags)
				}
			}
		})
	}
}

func redactForTest(s string) string {
	if len(s) > 6 {
		return s[:6] + "…"
	}
	return s
}
