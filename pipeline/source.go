package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/scanner"
)

// scanned is a scan's findings, merged per credential, and what it read.
type scanned struct {
	*scanner.Result
	scope string
}

// scanSource scans one source with d: the scanner.Source that s names,
// its findings merged per credential by scanner.Collect.
func scanSource(ctx context.Context, d *scanner.Detector, s Source, opts scanner.Options) (*scanned, error) {
	if s.Kind == SourceNothing {
		return &scanned{Result: &scanner.Result{}, scope: "nothing"}, nil
	}
	src, scope, note, err := buildSource(s, opts)
	if err != nil {
		return nil, err
	}
	res, err := scanner.Collect(ctx, d, src)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if note != "" {
		res.Notes = append([]string{note}, res.Notes...)
	}
	return &scanned{Result: res, scope: scope(res.Stats)}, nil
}

// buildSource returns the scanner.Source for s, a function that says
// what it scanned from its stats, and a note for the user ("" if none).
func buildSource(s Source, opts scanner.Options) (scanner.Source, func(scanner.Stats) string, string, error) {
	files := func(scanner.Stats) string { return "files" }
	switch s.Kind {
	case SourceStdin:
		name := s.StdinName
		if name == "" {
			name = "stdin"
		}
		return scanner.ReaderSource{Name: name, R: s.Stdin, Options: opts}, func(scanner.Stats) string { return "standard input" }, "", nil
	case SourceFiles:
		return scanner.DirSource{Root: s.Path, Options: opts}, files, "", nil
	case SourcePaths:
		return scanner.PathsSource{Root: s.Path, Paths: s.Paths, Options: opts},
			func(scanner.Stats) string { return "the files given" }, "", nil
	case SourceGit:
		src, err := gitSource(s.Path, s.Git, opts, false)
		return src, gitScope(s.Git, false), "", err
	}
	if scanner.IsGitRepo(s.Path) {
		wt := hasWorkTree(s.Path)
		src, err := gitSource(s.Path, s.Git, opts, wt)
		return src, gitScope(s.Git, wt), "", err
	}
	if top, rel, ok := gitdb.FindWorkTree(s.Path); ok {
		src, err := gitSource(top, s.Git, opts, true)
		if err != nil {
			return nil, nil, "", err
		}
		scope := gitScope(s.Git, true)
		return scanner.LimitSource{Src: src, Prefix: rel},
			func(st scanner.Stats) string { return scope(st) + ", limited to " + rel },
			fmt.Sprintf("%s is inside the git repository %s: scanned that repository, limited to %s (--no-git scans the folder's files only)", s.Path, top, rel), nil
	}
	if s.hasGitOptions() {
		return nil, nil, "", fmt.Errorf("scan %s: not a git repository, and git flags were given", s.Path)
	}
	return scanner.DirSource{Root: s.Path, Options: opts}, files, "", nil
}

// hasWorkTree reports whether the repository at path has a work tree (it
// is not bare).
func hasWorkTree(path string) bool {
	_, err := os.Stat(filepath.Join(path, ".git"))
	return err == nil
}

// gitSource is the scanner.Source of a git scan: what g says (a range,
// the staged index, a branch's history) or the whole history, and with
// worktree also what is not committed when g narrows nothing.
func gitSource(repo string, g scanner.GitOptions, opts scanner.Options, worktree bool) (scanner.Source, error) {
	if g.Range != "" {
		if !g.Revs.IsZero() {
			return nil, fmt.Errorf("scan git: Range and Revs cannot be combined")
		}
		r, err := gitdb.ParseRange(g.Range)
		if err != nil {
			return nil, err
		}
		g.Revs, g.Range = r, ""
	}
	switch {
	case g.Staged && !g.Revs.IsZero():
		return nil, fmt.Errorf("scan git: --staged and --range cannot be combined")
	case g.Staged:
		return scanner.StagedSource{Repo: repo, IndexFile: g.IndexFile, Options: opts}, nil
	case !g.Revs.IsZero():
		return scanner.RangeSource{Repo: repo, Range: g.Revs, Since: g.Since,
			AllObjects: g.AllObjects, AllLocations: g.AllLocations, Options: opts}, nil
	}
	hist := scanner.HistorySource{Repo: repo, Branch: g.Branch, Since: g.Since,
		AllObjects: g.AllObjects, AllLocations: g.AllLocations, Options: opts}
	if !worktree || g.Branch != "" || !g.Since.IsZero() {
		return hist, nil
	}
	return scanner.Sources{hist, scanner.WorktreeSource{Repo: repo, Options: opts}}, nil
}

// gitScope says what a git scan of g read.
func gitScope(g scanner.GitOptions, worktree bool) func(scanner.Stats) string {
	return func(st scanner.Stats) string {
		switch {
		case g.Staged:
			return "staged changes (" + plural(st.Files, "file", "files") + ")"
		case g.Range != "" || !g.Revs.IsZero():
			return "range of " + plural(st.Commits, "commit", "commits")
		}
		out := "history of " + plural(st.Commits, "commit", "commits")
		if g.Branch != "" {
			out += " of " + g.Branch
		}
		if !g.Since.IsZero() {
			out += " since " + g.Since.Format("2006-01-02")
		}
		if !worktree || g.Branch != "" || !g.Since.IsZero() {
			return out
		}
		var wt []string
		for _, c := range []struct {
			n    int64
			what string
		}{{st.Staged, "staged"}, {st.Modified, "modified"}, {st.Untracked, "untracked"}} {
			if c.n > 0 {
				wt = append(wt, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		switch {
		case len(wt) > 0:
			out += " + working tree (" + strings.Join(wt, ", ") + ")"
		case st.Staged == 0 && st.Modified == 0 && st.Untracked == 0:
			out += " + working tree (clean)"
		}
		return out
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
