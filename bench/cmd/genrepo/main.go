// Command genrepo builds a synthetic git repository for benchmarks: a
// history of realistic source text with small edits (so packs hold
// deltas), feature branches merged back, tags, and a few credentials
// generated at run time (never stored in this repository).
//
//	go run ./bench/cmd/genrepo -commits 20000 -out "$TMPDIR/genrepo"
//
// It writes a git fast-import stream and repacks, so a 20k-commit
// repository takes about a minute on two cores.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/leakstop/leakstop/rules"
)

func main() {
	commits := flag.Int("commits", 2000, "number of commits")
	files := flag.Int("files", 400, "files in the initial tree")
	secrets := flag.Int("secrets", 5, "credentials to plant")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("out", "", "repository directory to create (must not exist)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genrepo: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *commits, *files, *secrets, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genrepo:", err)
		os.Exit(1)
	}
}

var words = strings.Fields(`the a config value handler request response client server error
	result data user account message send receive parse format buffer stream token session
	cache index build render update delete create list query filter sort map reduce merge
	context timeout retry backoff limit offset page cursor batch queue worker pool channel
	lock mutex wait group signal close open read write flush sync async await promise future
	string int float bool byte rune slice array struct interface method function return if
	else for range switch case default break continue go defer select import package var const`)

var idents = strings.Fields(`userID accountName msgCount retryLimit pageSize bufLen reqCtx
	respBody errCount itemList queryArgs cacheKey sessionTTL workerCount batchSize`)

type gen struct {
	r   *rand.Rand
	w   *bufio.Writer
	blb int // next mark
	now int64
}

func (g *gen) line() string {
	var b strings.Builder
	switch g.r.IntN(6) {
	case 0:
		fmt.Fprintf(&b, "\t// %s %s %s %s.", words[g.r.IntN(len(words))], words[g.r.IntN(len(words))], words[g.r.IntN(len(words))], words[g.r.IntN(len(words))])
	case 1:
		fmt.Fprintf(&b, "\t%s := %s(%s, %d)", idents[g.r.IntN(len(idents))], words[g.r.IntN(len(words))], idents[g.r.IntN(len(idents))], g.r.IntN(1000))
	case 2:
		fmt.Fprintf(&b, "\tif %s != nil {\n\t\treturn %s\n\t}", idents[g.r.IntN(len(idents))], idents[g.r.IntN(len(idents))])
	case 3:
		fmt.Fprintf(&b, "\t%s.%s(%q)", idents[g.r.IntN(len(idents))], strings.Title(words[g.r.IntN(len(words))]), words[g.r.IntN(len(words))]) //nolint:staticcheck
	case 4:
		fmt.Fprintf(&b, "\tfor i := 0; i < %s; i++ {\n\t\t%s += i\n\t}", idents[g.r.IntN(len(idents))], idents[g.r.IntN(len(idents))])
	default:
		fmt.Fprintf(&b, "func %s%s(%s int) error {", strings.Title(words[g.r.IntN(len(words))]), strings.Title(words[g.r.IntN(len(words))]), idents[g.r.IntN(len(idents))]) //nolint:staticcheck
	}
	return b.String()
}

func (g *gen) file(lines int) []string {
	out := make([]string, 0, lines)
	out = append(out, "package main", "")
	for len(out) < lines {
		out = append(out, g.line())
	}
	return out
}

// edit changes a few lines of a file.
func (g *gen) edit(f []string) []string {
	f = append([]string(nil), f...)
	for range 1 + g.r.IntN(4) {
		i := 2 + g.r.IntN(max(1, len(f)-2))
		switch g.r.IntN(3) {
		case 0:
			f = append(f[:i], append([]string{g.line()}, f[i:]...)...)
		case 1:
			if i < len(f) {
				f[i] = g.line()
			}
		default:
			if i < len(f) && len(f) > 10 {
				f = append(f[:i], f[i+1:]...)
			}
		}
	}
	return f
}

func (g *gen) blob(content string) int {
	g.blb++
	fmt.Fprintf(g.w, "blob\nmark :%d\ndata %d\n%s\n", g.blb, len(content), content)
	return g.blb
}

type state map[string][]string

func (s state) clone() state {
	c := state{}
	for k, v := range s {
		c[k] = v
	}
	return c
}

// commit writes a commit changing paths of st; it returns its mark.
func (g *gen) commit(ref string, from, merge int, st state, changed []string, deleted []string, msg string) int {
	marks := map[string]int{}
	sort.Strings(changed)
	for _, p := range changed {
		marks[p] = g.blob(strings.Join(st[p], "\n") + "\n")
	}
	g.blb++
	m := g.blb
	g.now += 60 + int64(g.r.IntN(600))
	author := []string{"Ada Dev <ada@example.com>", "Bo Eng <bo@example.com>", "Cy Ops <cy@example.com>"}[g.r.IntN(3)]
	fmt.Fprintf(g.w, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n",
		ref, m, author, g.now, author, g.now, len(msg), msg)
	if from > 0 {
		fmt.Fprintf(g.w, "from :%d\n", from)
	}
	if merge > 0 {
		fmt.Fprintf(g.w, "merge :%d\n", merge)
	}
	for _, p := range changed {
		fmt.Fprintf(g.w, "M 100644 :%d %s\n", marks[p], p)
	}
	for _, p := range deleted {
		fmt.Fprintf(g.w, "D %s\n", p)
	}
	g.w.WriteString("\n")
	return m
}

func run(out string, commits, nfiles, nsecrets int, seed uint64) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists", out)
	}
	if err := gitRun("", "init", "-q", "-b", "main", out); err != nil {
		return err
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--done")
	cmd.Dir = out
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, 7)), w: bufio.NewWriterSize(stdin, 1<<20), now: 1_600_000_000}
	cg := rules.NewGenerator(seed)
	dirs := []string{"cmd", "internal/api", "internal/store", "internal/auth", "pkg/util", "pkg/client", "web/src", "docs", "scripts", "test"}
	st := state{}
	var paths []string
	for i := range nfiles {
		p := fmt.Sprintf("%s/%s_%d.go", dirs[i%len(dirs)], words[g.r.IntN(len(words))], i)
		st[p] = g.file(40 + g.r.IntN(400))
		paths = append(paths, p)
	}
	head := g.commit("refs/heads/main", 0, 0, st, paths, nil, "initial import")
	done := 1
	// Where credentials go: commit numbers spread over the history.
	plant := map[int]int{}
	for i := range nsecrets {
		plant[(i+1)*commits/(nsecrets+1)] = i
	}
	pick := func() string { return paths[g.r.IntN(len(paths))] }
	for done < commits {
		if done%97 == 0 && commits-done > 6 {
			// A feature branch of a few commits, merged back.
			bst := st.clone()
			bhead := head
			n := 2 + g.r.IntN(4)
			ref := fmt.Sprintf("refs/heads/feature-%d", done)
			var touched []string
			for range n {
				p := pick()
				bst[p] = g.edit(bst[p])
				touched = append(touched, p)
				bhead = g.commit(ref, bhead, 0, bst, []string{p}, nil, "feature work on "+filepath.Base(p))
				done++
			}
			// Main moves on meanwhile.
			p := pick()
			st[p] = g.edit(st[p])
			head = g.commit("refs/heads/main", head, 0, st, []string{p}, nil, "fix "+filepath.Base(p))
			done++
			for _, tp := range touched {
				st[tp] = bst[tp]
			}
			head = g.commit("refs/heads/main", head, bhead, st, uniq(touched), nil, "Merge "+ref)
			done++
			if g.r.IntN(3) == 0 {
				fmt.Fprintf(g.w, "reset %s\nfrom 0000000000000000000000000000000000000000\n\n", ref)
			}
			continue
		}
		var changed, deleted []string
		if i, ok := plant[done]; ok {
			s, err := cg.Expand(fmt.Sprintf("{{sid s%d}} {{token t%d}}", i, i))
			if err != nil {
				return err
			}
			sid, tok, _ := strings.Cut(s, " ")
			p := fmt.Sprintf("config/settings_%d.py", i)
			st[p] = []string{"# settings", "DEBUG = False", "TWILIO_ACCOUNT_SID = \"" + sid + "\"", "TWILIO_AUTH_TOKEN = \"" + tok + "\"", ""}
			changed = append(changed, p)
			paths = append(paths, p)
		}
		switch r := g.r.IntN(100); {
		case r < 3:
			p := fmt.Sprintf("%s/new_%d.go", dirs[g.r.IntN(len(dirs))], done)
			st[p] = g.file(30 + g.r.IntN(200))
			paths = append(paths, p)
			changed = append(changed, p)
		case r < 4 && len(paths) > 50:
			i := g.r.IntN(len(paths))
			p := paths[i]
			if !strings.HasPrefix(p, "config/") {
				delete(st, p)
				paths = append(paths[:i], paths[i+1:]...)
				deleted = append(deleted, p)
			}
		}
		for range 1 + g.r.IntN(3) {
			p := pick()
			if _, ok := st[p]; !ok {
				continue
			}
			st[p] = g.edit(st[p])
			changed = append(changed, p)
		}
		head = g.commit("refs/heads/main", head, 0, st, uniq(changed), deleted, fmt.Sprintf("change %d", done))
		done++
		if done%1000 == 0 {
			fmt.Fprintf(g.w, "reset refs/tags/v0.%d\nfrom :%d\n\n", done/1000, head)
		}
	}
	g.w.WriteString("done\n")
	if err := g.w.Flush(); err != nil {
		return err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("fast-import: %w", err)
	}
	if err := gitRun(out, "repack", "-a", "-d", "-q", "--window=10", "--depth=50"); err != nil {
		return err
	}
	return gitRun(out, "checkout", "-q", "-f", "main")
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func gitRun(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}
