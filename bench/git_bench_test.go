// Package bench holds benchmarks of leakstop's sources against real and
// synthetic repositories. See git.sh.
package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
