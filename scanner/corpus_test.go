package scanner

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// The corpora: corpusDir holds the shapes the rules were written with,
// shapesDir shapes written after them (issue 12), with look-alikes.
const (
	corpusDir = "../testdata/corpus"
	shapesDir = "../testdata/shapes"
)

// expandCorpus writes the corpus with its templates filled in from seed
// into a temporary directory and returns it with the generated values.
func expandCorpus(t testing.TB, corpusDir string, seed uint64) (string, map[string]string) {
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

func readWant(t testing.TB, corpusDir string, values map[string]string) []credKey {
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

// scanCorpus expands corpus dir with seed and scans each top-level entry
// as one snapshot. It returns what was found and what want.txt expects,
// keyed by entry.
func scanCorpus(t testing.TB, d *Detector, dir string, seed uint64) (got, want map[string][]credKey) {
	t.Helper()
	root, values := expandCorpus(t, dir, seed)
	got, want = map[string][]credKey{}, map[string][]credKey{}
	for _, w := range readWant(t, dir, values) {
		top, _, _ := strings.Cut(w.path, "/")
		want[top] = append(want[top], w)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		got[e.Name()] = nil
		res, err := ScanDir(context.Background(), d, filepath.Join(root, e.Name()), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			p := e.Name()
			if e.IsDir() {
				p += "/" + f.Locations[0].Path
			}
			k := credKey{path: p, rule: f.RuleID, id: f.Identifier, secret: f.Secret.Reveal()}
			if f.Test {
				k.flags = "test"
			}
			got[e.Name()] = append(got[e.Name()], k)
		}
	}
	return got, want
}

// diffCorpus reports every expected credential missed and every finding
// not expected.
func diffCorpus(t *testing.T, got, want []credKey) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missed: %s %s (id %q) flags=%q", w.path, w.rule, w.id, w.flags)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("unexpected: %s %s id=%q secret=%s flags=%q", g.path, g.rule, g.id, redactForTest(g.secret), g.flags)
		}
	}
}

// TestCorpus scans every shape and trap of testdata/corpus and asserts the
// exact set of credentials found: each expected one, nothing else.
func TestCorpus(t *testing.T) {
	d := defaultDetector(t)
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			got, want := scanCorpus(t, d, corpusDir, seed)
			var g, w []credKey
			for k := range got {
				g = append(g, got[k]...)
				w = append(w, want[k]...)
			}
			diffCorpus(t, g, w)
		})
	}
}

// TestShapes scans testdata/shapes, one subtest per file: configuration,
// code, logs and exports from many ecosystems, each credential with
// look-alikes beside it (issue 12: names decide, test credentials, colour
// codes, split literals, cross-file pairs).
func TestShapes(t *testing.T) {
	d := defaultDetector(t)
	for seed := uint64(1); seed <= 8; seed++ {
		got, want := scanCorpus(t, d, shapesDir, seed)
		names := slices.Sorted(maps.Keys(got))
		for _, name := range names {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				diffCorpus(t, got[name], want[name])
			})
		}
	}
}

func redactForTest(s string) string {
	if len(s) > 6 {
		return s[:6] + "…"
	}
	return s
}
