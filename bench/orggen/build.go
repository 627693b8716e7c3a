package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/leakstop/leakstop/rules"
)

// plantLeaks generates o.Leaks credentials (at run time, from rules'
// template generator) and places them, cycling through the kinds.
func plantLeaks(r *rand.Rand, o Options, specs, originals []*spec) error {
	if o.Leaks == 0 || len(originals) == 0 {
		return nil
	}
	g := rules.NewGenerator(o.Seed)
	var parents, forks []*spec
	for _, s := range specs {
		if s.Fork {
			forks = append(forks, s)
			if !slices.Contains(parents, s.parent) {
				parents = append(parents, s.parent)
			}
		}
	}
	placeholder := "AC" + strings.Repeat("x", 32)
	for i := range o.Leaks {
		label := fmt.Sprintf("s%d", i)
		v, err := g.Expand(fmt.Sprintf("{{sid %s}} {{token t%d}}", label, i))
		if err != nil {
			return fmt.Errorf("generate credential %s: %w", label, err)
		}
		sid, tok, _ := strings.Cut(v, " ")
		path := fmt.Sprintf("config/settings_%s.py", label)
		content := strings.Join([]string{
			"# settings",
			"DEBUG = False",
			`TWILIO_ACCOUNT_SID = "` + sid + `"`,
			`TWILIO_AUTH_TOKEN = "` + tok + `"`,
			"# from the docs, not a credential:",
			`EXAMPLE_ACCOUNT_SID = "` + placeholder + `"`,
			"",
		}, "\n")
		kinds := []string{"main", "branch", "deleted", "shared", "inherited", "fork-only"}
		kind := kinds[i%len(kinds)]
		put := func(s *spec, kind, ref string) {
			s.secrets[label] = content
			s.Leaks = append(s.Leaks, Leak{Label: label, Kind: kind, Ref: ref, Path: path})
		}
		switch kind {
		case "main":
			s := pick(r, originals)
			put(s, kind, "refs/heads/"+s.DefaultBranch)
		case "branch":
			s := pick(r, originals)
			put(s, kind, "refs/heads/feature-"+label)
		case "deleted":
			s := pick(r, originals)
			s.Commits = max(s.Commits, 3)
			put(s, kind, "refs/heads/"+s.DefaultBranch)
		case "shared":
			a := pick(r, originals)
			b := pick(r, originals)
			for b == a && len(originals) > 1 {
				b = pick(r, originals)
			}
			put(a, kind, "refs/heads/"+a.DefaultBranch)
			if b != a {
				put(b, kind, "refs/heads/"+b.DefaultBranch)
			}
		case "inherited":
			if len(parents) == 0 {
				s := pick(r, originals)
				put(s, "main", "refs/heads/"+s.DefaultBranch)
				continue
			}
			s := pick(r, parents)
			put(s, kind, "refs/heads/"+s.DefaultBranch)
		case "fork-only":
			if len(forks) == 0 {
				s := pick(r, originals)
				put(s, "main", "refs/heads/"+s.DefaultBranch)
				continue
			}
			s := pick(r, forks)
			put(s, kind, "refs/heads/"+s.DefaultBranch)
		}
	}
	// A fork holds every credential of its parent's branches too.
	for _, f := range forks {
		own := f.Leaks
		f.Leaks = nil
		for _, l := range f.parent.Leaks {
			f.Leaks = append(f.Leaks, Leak{Label: l.Label, Kind: "inherited", Ref: l.Ref, Path: l.Path})
		}
		f.Leaks = append(f.Leaks, own...)
	}
	return nil
}

// stream writes a git fast-import stream.
type stream struct {
	b    bytes.Buffer
	mark int
}

type change struct {
	path    string
	content string // "" deletes
}

func (st *stream) commit(ref, from string, when time.Time, author, msg string, changes []change) string {
	st.mark++
	fmt.Fprintf(&st.b, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n",
		ref, st.mark, author, when.Unix(), author, when.Unix(), len(msg), msg)
	if from != "" {
		fmt.Fprintf(&st.b, "from %s\n", from)
	}
	for _, c := range changes {
		if c.content == "" {
			fmt.Fprintf(&st.b, "D %s\n", c.path)
			continue
		}
		fmt.Fprintf(&st.b, "M 100644 inline %s\ndata %d\n%s\n", c.path, len(c.content), c.content)
	}
	st.b.WriteString("\n")
	return fmt.Sprintf(":%d", st.mark)
}

var authors = []string{"Ada Dev <ada@example.com>", "Bo Eng <bo@example.com>", "Cy Ops <cy@example.com>"}

// build creates one repository: an original from scratch, a fork by
// cloning its parent and adding its own commits.
func build(o Options, s *spec) error {
	dir := filepath.Join(o.Out, filepath.FromSlash(s.Path))
	r := rand.New(rand.NewPCG(s.seed, 5))
	st := &stream{}
	branch := "refs/heads/" + s.DefaultBranch
	var leaks []Leak
	for _, l := range s.Leaks {
		if l.Kind != "inherited" || !s.Fork {
			leaks = append(leaks, l)
		}
	}
	if s.Fork {
		if err := git("", "clone", "--bare", "-q", "--no-hardlinks", filepath.Join(o.Out, filepath.FromSlash(s.parent.Path)), dir); err != nil {
			return err
		}
		// A fork does not point at its parent's path.
		if err := os.WriteFile(filepath.Join(dir, "config"), []byte(bareConfig), 0o644); err != nil {
			return fmt.Errorf("write %s config: %w", s.Name, err)
		}
		extra := s.extra
		head := branch + "^0"
		for j := range extra {
			p := fmt.Sprintf("src/fork_change_%d.go", j)
			ch := []change{{p, strings.Join(newFile(r, p), "\n") + "\n"}}
			if j == 0 {
				for _, l := range leaks {
					ch = append(ch, change{l.Path, s.secrets[l.Label]})
				}
			}
			when := s.PushedAt.Add(-time.Duration(extra-j) * time.Minute)
			head = st.commit(branch, head, when, pick(r, authors), fmt.Sprintf("fork: change %d", j), ch)
		}
		return fastImport(dir, st)
	}
	if err := initBare(dir, s.DefaultBranch); err != nil {
		return err
	}
	if s.Empty {
		return nil
	}
	files := map[string][]string{}
	lang := pick(r, []string{".go", ".py", ".js"})
	initial := []string{"README.md", "config/app.yaml", "src/main" + lang}
	for range 1 + r.IntN(4) {
		initial = append(initial, fmt.Sprintf("src/%s_%s%s", pick(r, words), pick(r, words), lang))
	}
	var ch []change
	for _, p := range initial {
		files[p] = newFile(r, p)
		ch = append(ch, change{p, strings.Join(files[p], "\n") + "\n"})
	}
	if r.IntN(2) == 0 {
		ch = append(ch, change{"LICENSE", license})
	}
	if r.IntN(10) < 3 {
		p, f := vendored(r.IntN(3))
		ch = append(ch, change{p, strings.Join(f, "\n") + "\n"})
	}
	// Where the credentials of the default branch go: commit plantAt[label].
	plantAt := map[int][]Leak{}
	for _, l := range leaks {
		if l.Ref != branch {
			continue
		}
		c := 1 + r.IntN(s.Commits-1)
		if l.Kind == "deleted" {
			c = 1 + r.IntN(s.Commits-2)
		}
		plantAt[c] = append(plantAt[c], l)
	}
	when := s.PushedAt.Add(-time.Duration(s.Commits) * time.Hour)
	head := st.commit(branch, "", when, pick(r, authors), "initial import", ch)
	paths := initial
	for c := 1; c < s.Commits; c++ {
		ch = nil
		for _, l := range plantAt[c] {
			ch = append(ch, change{l.Path, s.secrets[l.Label]})
		}
		for _, l := range plantAt[c-1] {
			if l.Kind == "deleted" {
				ch = append(ch, change{l.Path, ""})
			}
		}
		if r.IntN(4) == 0 {
			p := fmt.Sprintf("src/%s_%d%s", pick(r, words), c, lang)
			files[p] = newFile(r, p)
			paths = append(paths, p)
			ch = append(ch, change{p, strings.Join(files[p], "\n") + "\n"})
		}
		for range 1 + r.IntN(2) {
			p := pick(r, paths)
			files[p] = edit(r, p, files[p])
			ch = append(ch, change{p, strings.Join(files[p], "\n") + "\n"})
		}
		when = when.Add(time.Duration(30+r.IntN(50)) * time.Minute)
		head = st.commit(branch, "", when, pick(r, authors), sentence(r), dedupe(ch))
	}
	for _, l := range leaks {
		if l.Ref == branch {
			continue
		}
		st.commit(l.Ref, head, when.Add(time.Minute), pick(r, authors), "try settings", []change{{l.Path, s.secrets[l.Label]}})
	}
	return fastImport(dir, st)
}

// dedupe keeps the last change of each path.
func dedupe(ch []change) []change {
	seen := map[string]bool{}
	var out []change
	for i := len(ch) - 1; i >= 0; i-- {
		if !seen[ch[i].path] {
			seen[ch[i].path] = true
			out = append(out, ch[i])
		}
	}
	slices.Reverse(out)
	return out
}

const bareConfig = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"

// initBare lays out an empty bare repository, what "git init --bare
// --template=" writes, without a process per repository.
func initBare(dir, branch string) error {
	for _, d := range []string{"objects/info", "objects/pack", "refs/heads", "refs/tags"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	for name, content := range map[string]string{"HEAD": "ref: refs/heads/" + branch + "\n", "config": bareConfig} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return nil
}

func fastImport(dir string, st *stream) error {
	st.b.WriteString("done\n")
	// unpackLimit=1: keep the import as one pack, as a GitHub repository
	// is, instead of spawning unpack-objects into loose objects.
	cmd := exec.Command("git", "--git-dir", dir, "-c", "fastimport.unpackLimit=1", "fast-import", "--quiet", "--done")
	cmd.Stdin = &st.b
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fast-import %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func git(dir string, args ...string) error {
	if dir != "" {
		args = append([]string{"--git-dir", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
