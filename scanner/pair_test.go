package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
)

func defaultDetector(t testing.TB) *Detector {
	t.Helper()
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scanFiles writes templated files to a directory, scans it as one
// snapshot and returns the findings with the generated values.
func scanFiles(t *testing.T, files map[string]string) ([]Finding, map[string]string) {
	t.Helper()
	g := rules.NewGenerator(42)
	dir := t.TempDir()
	for name, tmpl := range files {
		text, err := g.Expand(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ScanDir(context.Background(), defaultDetector(t), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings, g.Values
}

func TestConfidenceLevels(t *testing.T) {
	fs, v := scanFiles(t, map[string]string{
		"a.env":     "TWILIO_ACCOUNT_SID={{sid s1}}\nTWILIO_AUTH_TOKEN={{token t1}}\n",
		"b.py":      `Client("{{sid s2}}", "{{token t2}}")` + "\n",
		"c/lone.sh": "export TWILIO_AUTH_TOKEN={{token t3}}\n",
	})
	want := map[string]Confidence{v["t1"]: High, v["t2"]: Medium}
	got := map[string]Confidence{}
	for _, f := range fs {
		got[f.Secret.Reveal()] = f.Confidence
	}
	for tok, c := range want {
		if got[tok] != c {
			t.Errorf("token %s…: confidence %v, want %v", tok[:4], got[tok], c)
		}
	}
	// The lone token pairs across files (two SIDs in the snapshot), at
	// low confidence as it cannot say which, once per SID.
	n := 0
	for _, f := range fs {
		if f.Secret.Reveal() == v["t3"] {
			n++
			if f.Confidence != Low || f.Locations[0].IdentifierPath == "c/lone.sh" {
				t.Errorf("cross-file pair: %+v", f.Locations[0])
			}
		}
	}
	if n != 2 {
		t.Errorf("lone token paired %d times, want 2 (one per SID of the snapshot)", n)
	}
}

func TestUnpairedAndTooManyIdentifiers(t *testing.T) {
	files := map[string]string{"lone.env": "TWILIO_AUTH_TOKEN={{token t}}\n"}
	for i := 0; i < maxCrossFileIdentifiers+1; i++ {
		files[string(rune('a'+i))+".md"] = "account {{sid}}\n"
	}
	fs, v := scanFiles(t, files)
	if len(fs) != 1 || fs[0].Secret.Reveal() != v["t"] || fs[0].Identifier != "" || fs[0].Confidence != Low {
		t.Fatalf("want one unpaired low finding, got %d: %+v", len(fs), fs)
	}
}

func TestOneCredentialManyPlaces(t *testing.T) {
	f1 := "TWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}\n"
	fs, _ := scanFiles(t, map[string]string{"x/.env": f1, "y/.env": "\n\n\n" + f1, "z.env": f1})
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	if n := len(fs[0].Locations); n != 3 {
		t.Errorf("got %d locations, want 3", n)
	}
}

func TestFingerprintStableWhenLinesMove(t *testing.T) {
	d := defaultDetector(t)
	g := rules.NewGenerator(9)
	a, _ := g.Expand("TWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}\n")
	b := "# header\n\n" + strings.ReplaceAll(a, "\n", "\n\n")
	fa := d.Pair([]FileHits{{Path: "a", Hits: d.Hits([]byte(a))}})
	fb := d.Pair([]FileHits{{Path: "b", Hits: d.Hits([]byte(b))}})
	if len(fa) != 1 || len(fb) != 1 || fa[0].Fingerprint != fb[0].Fingerprint {
		t.Fatalf("fingerprints differ or missing: %v %v", fa, fb)
	}
	if fa[0].Locations[0].Line == fb[0].Locations[0].Line {
		t.Fatal("test did not move the line")
	}
}

func TestPositions(t *testing.T) {
	d := defaultDetector(t)
	g := rules.NewGenerator(3)
	text, _ := g.Expand("x\r\n  TWILIO_ACCOUNT_SID={{sid s}}\r\nTWILIO_AUTH_TOKEN=\"{{token t}}\"\r\n")
	fs := d.Pair([]FileHits{{Path: "p", Hits: d.Hits([]byte(text))}})
	if len(fs) != 1 {
		t.Fatalf("got %d findings", len(fs))
	}
	l := fs[0].Locations[0]
	if l.Line != 3 || l.Column != 20 || l.EndColumn != 52 || l.IdentifierLine != 2 {
		t.Errorf("location %+v, want line 3 col 20-52, SID line 2", l)
	}
}

func TestBinaryAndUTF16(t *testing.T) {
	if Text([]byte("a\x00b")) != nil {
		t.Error("NUL content not binary")
	}
	u := []byte{0xff, 0xfe, 'h', 0, 'i', 0}
	if got := string(Text(u)); got != "hi" {
		t.Errorf("utf-16: %q", got)
	}
	// Binary content is scanned: its printable runs.
	fs, _ := scanFiles(t, map[string]string{"bin.dat": "\x00\x01TWILIO_ACCOUNT_SID={{sid}}\nTWILIO_AUTH_TOKEN={{token}}\n"})
	if len(fs) != 1 || !fs[0].Locations[0].Binary || fs[0].Locations[0].Offset != 74 {
		t.Errorf("binary file: %+v", fs)
	}
}

func TestIsPlaceholder(t *testing.T) {
	for _, v := range []string{
		strings.Repeat("0", 32), strings.Repeat("ab", 16), "0123456789abcdef0123456789abcdef",
		"AC" + strings.Repeat("0", 32), strings.Repeat("x", 32), "abcdefghijklmnopqrstuvwxyzabcdef",
	} {
		if !IsPlaceholder(v) {
			t.Errorf("%q not a placeholder", v)
		}
	}
	g := rules.NewGenerator(5)
	for i := 0; i < 200; i++ {
		v, _ := g.Expand("{{token}}")
		if IsPlaceholder(v) {
			t.Errorf("random value %q taken for a placeholder", v)
		}
	}
}

func TestDirNeverFollowsSymlinks(t *testing.T) {
	g := rules.NewGenerator(11)
	outside := t.TempDir()
	leak, _ := g.Expand("TWILIO_ACCOUNT_SID={{sid}}\nTWILIO_AUTH_TOKEN={{token}}\n")
	if err := os.WriteFile(filepath.Join(outside, "secret.env"), []byte(leak), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret.env"), filepath.Join(root, "link.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	res, err := ScanDir(context.Background(), defaultDetector(t), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || res.Stats.Symlinks != 2 {
		t.Errorf("findings %d, symlinks %d: want 0 and 2", len(res.Findings), res.Stats.Symlinks)
	}
}

func TestDirSkipsLargeFilesWithWarning(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "big.txt"), make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	var warned []string
	res, err := ScanDir(context.Background(), defaultDetector(t), root, Options{MaxFileSize: 1024, Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.SkippedLarge != 1 || len(warned) != 1 || !strings.Contains(warned[0], "big.txt") {
		t.Errorf("stats %+v warnings %q", res.Stats, warned)
	}
}

// TestPairsWithTheSIDAbove: in a dump of SID/token lines, each token pairs
// with the SID on the line above it, not the next one (which can stand a
// byte closer).
func TestPairsWithTheSIDAbove(t *testing.T) {
	var tmpl strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&tmpl, "TWILIO_ACCOUNT_SID={{sid s%d}}\nTWILIO_AUTH_TOKEN={{token t%d}}\n", i, i)
	}
	fs, v := scanFiles(t, map[string]string{"dump.env": tmpl.String()})
	if len(fs) != 50 {
		t.Fatalf("%d findings, want 50", len(fs))
	}
	for _, f := range fs {
		line := f.Locations[0].Line
		i := (line - 2) / 2
		if f.Identifier != v[fmt.Sprintf("s%d", i)] || f.Secret.Reveal() != v[fmt.Sprintf("t%d", i)] {
			t.Errorf("token on line %d paired with the wrong SID", line)
		}
	}
}

// TestCrossFileConfidence: a token under a Twilio name pairs with the one
// SID of another file at medium confidence; under a generic name, low;
// with more SIDs than pair across a snapshot, with those of its own
// directory.
func TestCrossFileConfidence(t *testing.T) {
	fs, v := scanFiles(t, map[string]string{
		"config/twilio.yml":     "twilio:\n  account_sid: {{sid s}}\n",
		"deploy/production.env": "TWILIO_AUTH_TOKEN={{token named}}\n",
		"deploy/generic.env":    "AUTH_TOKEN={{token generic}}\n",
	})
	got := map[string]Finding{}
	for _, f := range fs {
		got[f.Secret.Reveal()] = f
	}
	if f := got[v["named"]]; f.Identifier != v["s"] || f.Confidence != Medium || f.Locations[0].IdentifierPath != "config/twilio.yml" {
		t.Errorf("named token: identifier %q confidence %v", Redact(f.Identifier), f.Confidence)
	}
	if f := got[v["generic"]]; f.Identifier != v["s"] || f.Confidence != Low {
		t.Errorf("generic token: identifier %q confidence %v", Redact(f.Identifier), f.Confidence)
	}

	files := map[string]string{"svc/sms/.env": "TWILIO_AUTH_TOKEN={{token t}}\n", "svc/sms/config.yml": "account_sid: {{sid own}}\n"}
	for i := 0; i < maxCrossFileIdentifiers+1; i++ {
		files[fmt.Sprintf("docs/%d.md", i)] = "account {{sid}}\n"
	}
	fs, v = scanFiles(t, files)
	n := 0
	for _, f := range fs {
		if f.Secret.Reveal() == v["t"] {
			n++
			if f.Identifier != v["own"] {
				t.Errorf("paired with %q, want the SID of its directory", Redact(f.Identifier))
			}
		}
	}
	if n != 1 {
		t.Errorf("token reported %d times, want once", n)
	}
}
