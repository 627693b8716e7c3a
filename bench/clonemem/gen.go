package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// genOptions shape a synthetic history built from one source snapshot.
type genOptions struct {
	zip     string // module zip of the snapshot (go mod download -json)
	out     string // bare repository to create
	commits int
	seed    uint64
}

// tree is the current content of every file, by path.
type tree struct {
	paths   []string
	content map[string][]byte
	// hot is the paths ordered by how often they change (a Zipf-like
	// skew, as in real histories where a few files change often).
	hot []string
}

func readSnapshot(zipPath string) (*tree, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", zipPath, err)
	}
	defer zr.Close()
	t := &tree{content: map[string][]byte{}}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		// Module zips prefix every name with module@version/.
		at := strings.Index(f.Name, "@")
		slash := strings.Index(f.Name[at+1:], "/")
		if at < 0 || slash < 0 {
			continue
		}
		name := f.Name[at+1+slash+1:]
		if name == "" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Name, err)
		}
		t.content[name] = b
		t.paths = append(t.paths, name)
	}
	sort.Strings(t.paths)
	return t, nil
}

// generate writes a history of o.commits commits: the snapshot first,
// then a small edit of one file per commit (lines deleted, lines copied
// from other files inserted), in series of one to eight commits on the
// same file, with long commit messages, a tag every 1,000 commits and a
// side branch every 5,000. It is not the real
// history of the project: only its shape (commit, object and pack
// sizes) is meant to be comparable.
func generate(o genOptions) error {
	t, err := readSnapshot(o.zip)
	if err != nil {
		return err
	}
	if len(t.paths) == 0 {
		return fmt.Errorf("snapshot %s holds no files", o.zip)
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	t.hot = append([]string(nil), t.paths...)
	rng.Shuffle(len(t.hot), func(i, j int) { t.hot[i], t.hot[j] = t.hot[j], t.hot[i] })
	var docs [][]byte
	for _, p := range t.paths {
		if strings.HasPrefix(p, "Documentation/") && strings.HasSuffix(p, ".txt") {
			docs = append(docs, bytes.Split(t.content[p], []byte("\n"))...)
		}
	}
	if len(docs) == 0 {
		docs = [][]byte{[]byte("update")}
	}

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.out, err)
	}
	if out, err := exec.Command("git", "init", "--bare", "-q", o.out).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--done")
	cmd.Dir = o.out
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start git fast-import: %w", err)
	}
	w := bufio.NewWriterSize(in, 1<<20)
	data := func(b []byte) { fmt.Fprintf(w, "data %d\n", len(b)); w.Write(b); w.WriteString("\n") }
	when := int64(1112911993) // git's first commit, 2005-04-07
	message := func(i int) []byte {
		var m bytes.Buffer
		fmt.Fprintf(&m, "synthetic change %d\n\n", i)
		for n := 4 + rng.IntN(20); n > 0; n-- {
			m.Write(docs[rng.IntN(len(docs))])
			m.WriteByte('\n')
		}
		fmt.Fprintf(&m, "\nSigned-off-by: Dev %d <dev%d@example.com>\n", i%97, i%97)
		return m.Bytes()
	}
	commit := func(ref string, i int, from string, body func()) {
		when += int64(600 + rng.IntN(20000))
		fmt.Fprintf(w, "commit %s\nmark :%d\n", ref, i)
		fmt.Fprintf(w, "author Dev %d <dev%d@example.com> %d +0000\n", i%97, i%97, when)
		fmt.Fprintf(w, "committer Dev %d <dev%d@example.com> %d +0000\n", i%53, i%53, when)
		data(message(i))
		if from != "" {
			fmt.Fprintf(w, "from %s\n", from)
		}
		body()
	}
	put := func(p string) {
		fmt.Fprintf(w, "M 100644 inline %s\n", p)
		data(t.content[p])
	}
	commit("refs/heads/master", 1, "", func() {
		for _, p := range t.paths {
			put(p)
		}
	})
	// Commits come in series on one file, one file per commit: git
	// fast-import deltas a blob against the blob written just before it,
	// so each version is stored as a delta of the previous one, as a
	// repacked repository stores it, without a costly repack.
	var file string
	left := 0
	for i := 2; i <= o.commits; i++ {
		if left == 0 {
			file, left = t.pick(rng), 1+rng.IntN(8)
		}
		left--
		ref, from := "refs/heads/master", fmt.Sprintf(":%d", i-1)
		if i%5000 == 0 {
			ref = fmt.Sprintf("refs/heads/maint-%d", i/5000)
		}
		commit(ref, i, from, func() {
			t.content[file] = t.edit(rng, t.content[file])
			put(file)
		})
		if ref != "refs/heads/master" {
			// Keep master on the main line: the side branch ends here.
			fmt.Fprintf(w, "reset refs/heads/master\nfrom :%d\n", i)
		}
		if i%1000 == 0 {
			fmt.Fprintf(w, "reset refs/tags/v%d\nfrom :%d\n", i/1000, i)
		}
	}
	w.WriteString("done\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write to git fast-import: %w", err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	return nil
}

// pick chooses the file to change: mostly among the first few hundred
// of the hot list, sometimes anywhere.
func (t *tree) pick(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return t.hot[rng.IntN(len(t.hot))]
	}
	n := min(len(t.hot), 300)
	// Squaring a uniform draw favours the front of the list.
	f := rng.Float64()
	return t.hot[int(f*f*float64(n))]
}

// edit returns b with one to four hunks changed: zero to seven lines
// deleted, as many on average inserted from another file, so files keep
// their size. Files are kept under 256 KiB.
func (t *tree) edit(rng *rand.Rand, b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	for h := 1 + rng.IntN(4); h > 0; h-- {
		at := rng.IntN(len(lines) + 1)
		del := min(rng.IntN(8), len(lines)-at)
		src := bytes.SplitAfter(t.content[t.paths[rng.IntN(len(t.paths))]], []byte("\n"))
		s := rng.IntN(len(src))
		ins := src[s:min(len(src), s+rng.IntN(8))]
		next := make([][]byte, 0, len(lines)-del+len(ins))
		next = append(next, lines[:at]...)
		next = append(next, ins...)
		next = append(next, lines[at+del:]...)
		lines = next
	}
	out := bytes.Join(lines, nil)
	if len(out) > 256<<10 {
		out = out[:256<<10]
	}
	return out
}

// describe prints the commit count, object count and pack size of repo.
func describe(repo string) (string, error) {
	count := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(out))
	}
	var packBytes int64
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil {
			packBytes += fi.Size()
		}
	}
	objects := count("cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	return fmt.Sprintf("%s commits, %d objects, %d pack(s) of %.1f MiB",
		count("rev-list", "--all", "--count"), strings.Count(objects, "\n")+1, len(packs), float64(packBytes)/(1<<20)), nil
}
