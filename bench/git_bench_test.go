// Package bench holds benchmarks of leakstop's sources against real and
// synthetic repositories. See git.sh.
package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

// benchRepo returns the repository to benchmark: $LEAKSTOP_BENCH_REPO, or
// a 2000-commit synthetic one built once in a temporary directory.
func benchRepo(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("LEAKSTOP_BENCH_REPO"); p != "" {
		return p
	}
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	dir := filepath.Join(b.TempDir(), "repo")
	cmd := exec.Command("go", "run", "./cmd/genrepo", "-commits", "2000", "-out", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("genrepo: %v", err)
	}
	return dir
}

func detector(b *testing.B) *scanner.Detector {
	set, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	d, err := scanner.NewDetector(set)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkScanGitHistory(b *testing.B) {
	repo := benchRepo(b)
	d := detector(b)
	b.ResetTimer()
	var blobBytes int64
	for b.Loop() {
		res, err := scanner.ScanGit(context.Background(), d, repo, scanner.GitOptions{})
		if err != nil {
			b.Fatal(err)
		}
		blobBytes = res.Stats.Bytes
	}
	b.SetBytes(blobBytes)
}

// BenchmarkScanGitStaged times a pre-commit scan of a 3-file change in a
// repository with a long history (a shared clone of the bench repo).
func BenchmarkScanGitStaged(b *testing.B) {
	repo := benchRepo(b)
	d := detector(b)
	clone := filepath.Join(b.TempDir(), "clone")
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("", "clone", "-q", "--shared", repo, clone)
	files := 0
	for _, f := range splitLines(git(clone, "ls-files", "*.go")) {
		if files == 3 {
			break
		}
		p := filepath.Join(clone, f)
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, append(data, "// staged change\n"...), 0o644); err != nil {
			b.Fatal(err)
		}
		git(clone, "add", f)
		files++
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := scanner.ScanGit(context.Background(), d, clone, scanner.GitOptions{Staged: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.Blobs != 3 {
			b.Fatalf("read %d blobs, want 3", res.Stats.Blobs)
		}
	}
}

// BenchmarkScanGitRange times a pull-request scan of the last 10 commits.
func BenchmarkScanGitRange(b *testing.B) {
	repo := benchRepo(b)
	d := detector(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := scanner.ScanGit(context.Background(), d, repo, scanner.GitOptions{Revs: gitdb.BaseHead("HEAD~10", "HEAD")}); err != nil {
			b.Fatal(err)
		}
	}
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
