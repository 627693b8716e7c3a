// Command orggen builds a synthetic GitHub organisation for the org-scan
// benchmark: N bare repositories with small realistic histories (a few
// commits each, Go/Python/JS/YAML/Markdown files, vendored files shared
// byte for byte between repositories), about a fifth of them forks, a few
// empty, archived and private ones, and credentials planted at run time
// (never stored in this repository), plus a manifest.json describing each
// repository as the GitHub API would list it.
//
//	go run ./bench/orggen -n 1000 -out "$TMPDIR/org"
//
//	GITHUB_TOKEN=t go run ./bench/orggen -serve -out "$TMPDIR/org" -url-file url
//
// -serve serves a generated organisation: the GitHub API listing of
// /orgs/ORG/repos under BASE/api/v3 (paginated with Link headers) and the
// repositories with the real git http-backend, both requiring the token,
// and BASE/_stats (pack negotiations and bytes served, for the benchmark).
//
// Layout: OUT/ORG/NAME.git (serve OUT with git http-backend as
// GIT_PROJECT_ROOT) and OUT/manifest.json. Forks are made as GitHub makes
// them: a separate clone of the parent (git clone --bare --no-hardlinks,
// so their objects are the parent's in content but stored separately),
// plus a commit or two of their own. Histories are written with git
// fast-import; 1000 repositories take seconds.
//
// Planted credentials (labels, kinds and paths in the manifest, never the
// values): on the default branch; only on a feature branch; added then
// deleted in a later commit; the same credential in two repositories; in
// a parent that forks inherit; only in a fork's own commit. Every planted
// file also holds a placeholder that must not be reported.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/sourcegraph/conc/pool"
)

// ManifestRepo is one repository of manifest.json: the fields of the
// GitHub API's repository object the fake server needs, and what was
// planted in it.
type ManifestRepo struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	Path          string    `json:"path"` // relative to OUT
	DefaultBranch string    `json:"default_branch"`
	Fork          bool      `json:"fork"`
	Parent        string    `json:"parent,omitempty"` // full name
	Archived      bool      `json:"archived,omitempty"`
	Private       bool      `json:"private,omitempty"`
	Empty         bool      `json:"empty,omitempty"`
	PushedAt      time.Time `json:"pushed_at"`
	Commits       int       `json:"commits"`
	Leaks         []Leak    `json:"leaks,omitempty"`
}

// Leak is a planted credential: its label (the same label in two
// repositories is the same credential), how it was planted and where.
type Leak struct {
	Label string `json:"label"`
	Kind  string `json:"kind"` // main, branch, deleted, shared, inherited, fork-only
	Ref   string `json:"ref"`
	Path  string `json:"path"`
}

// Manifest is manifest.json.
type Manifest struct {
	Org   string         `json:"org"`
	Seed  uint64         `json:"seed"`
	Repos []ManifestRepo `json:"repos"`
}

func main() {
	n := flag.Int("n", 1000, "number of repositories, forks included")
	out := flag.String("out", "", "directory to create (must not exist)")
	org := flag.String("org", "acme", "organisation name")
	forks := flag.Float64("forks", 0.2, "share of the repositories that are forks")
	leaks := flag.Int("leaks", 12, "credentials to plant (in about as many repositories)")
	seed := flag.Uint64("seed", 1, "random seed")
	jobs := flag.Int("jobs", 2*runtime.NumCPU(), "repositories built at once (git processes mostly wait: twice the CPUs)")
	doServe := flag.Bool("serve", false, "serve the organisation already generated in -out (fake GitHub API + git http-backend; token from GITHUB_TOKEN) instead of generating")
	addr := flag.String("addr", "127.0.0.1:0", "with -serve: address to listen on")
	urlFile := flag.String("url-file", "", "with -serve: file to write the base URL to")
	flag.Parse()
	if *doServe {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, *out, *addr, *urlFile, os.Getenv("GITHUB_TOKEN")); err != nil {
			fmt.Fprintln(os.Stderr, "leakstop: error: orggen:", err)
			os.Exit(1)
		}
		return
	}
	if *out == "" || *n < 1 || *forks < 0 || *forks >= 1 || *jobs < 1 || *leaks < 0 {
		fmt.Fprintln(os.Stderr, "leakstop: error: orggen: -out is required; -n >= 1, 0 <= -forks < 1, -jobs >= 1, -leaks >= 0")
		os.Exit(2)
	}
	start := time.Now()
	m, err := Generate(Options{Out: *out, Org: *org, N: *n, ForkRatio: *forks, Leaks: *leaks, Seed: *seed, Jobs: *jobs})
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: error: orggen:", err)
		os.Exit(1)
	}
	nf, nl := 0, 0
	for _, r := range m.Repos {
		if r.Fork {
			nf++
		}
		nl += len(r.Leaks)
	}
	fmt.Fprintf(os.Stderr, "orggen: %d repositories (%d forks, %d planted credential locations) in %s under %s\n",
		len(m.Repos), nf, nl, time.Since(start).Round(time.Millisecond), *out)
}

// Options configure Generate.
type Options struct {
	Out       string
	Org       string
	N         int
	ForkRatio float64
	Leaks     int
	Seed      uint64
	Jobs      int
}

// Generate plans the organisation, builds every repository (originals
// first, then forks from them) and writes OUT/manifest.json.
func Generate(o Options) (*Manifest, error) {
	if _, err := os.Stat(o.Out); err == nil {
		return nil, fmt.Errorf("create %s: it exists", o.Out)
	}
	if err := os.MkdirAll(filepath.Join(o.Out, o.Org), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", o.Out, err)
	}
	specs, err := plan(o)
	if err != nil {
		return nil, err
	}
	for _, forks := range []bool{false, true} {
		p := pool.New().WithErrors().WithMaxGoroutines(o.Jobs)
		for _, s := range specs {
			if s.Fork == forks {
				p.Go(func() error { return build(o, s) })
			}
		}
		if err := p.Wait(); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Org: o.Org, Seed: o.Seed}
	for _, s := range specs {
		m.Repos = append(m.Repos, s.ManifestRepo)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.Out, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	return m, nil
}

// spec is a planned repository: its manifest entry plus what build needs.
type spec struct {
	ManifestRepo
	seed   uint64
	parent *spec
	extra  int // a fork's own commits
	// secrets: label -> file content holding that credential.
	secrets map[string]string
}

// plan decides every repository: names, forks, flags, dates, leaks.
func plan(o Options) ([]*spec, error) {
	r := rand.New(rand.NewPCG(o.Seed, 11))
	nForks := int(float64(o.N) * o.ForkRatio)
	nOrig := o.N - nForks
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var specs, originals []*spec
	for i := range nOrig {
		s := &spec{seed: o.Seed*1_000_003 + uint64(i), secrets: map[string]string{}}
		s.ID = 100_000 + int64(i)
		s.Name = fmt.Sprintf("%s-%s-%04d", pick(r, prefixes), pick(r, suffixes), i)
		s.DefaultBranch = "main"
		if i%10 == 7 {
			s.DefaultBranch = "master"
		}
		s.Empty = i%150 == 149
		s.Archived = i%50 == 13
		s.Private = i%4 == 1
		s.PushedAt = base.Add(time.Duration(r.IntN(300*24)) * time.Hour)
		s.Commits = 2 + r.IntN(7)
		if s.Empty {
			s.Commits = 0
		}
		specs = append(specs, s)
		if !s.Empty {
			originals = append(originals, s)
		}
	}
	if nForks > 0 && len(originals) == 0 {
		return nil, fmt.Errorf("plan forks: no non-empty repository to fork")
	}
	for i := range nForks {
		p := pick(r, originals)
		s := &spec{seed: o.Seed*1_000_003 + uint64(nOrig+i), parent: p, secrets: map[string]string{}}
		s.ID = 100_000 + int64(nOrig+i)
		s.Name = fmt.Sprintf("%s-fork-%04d", p.Name, i)
		s.DefaultBranch = p.DefaultBranch
		s.Fork = true
		s.Parent = o.Org + "/" + p.Name
		s.Private = p.Private
		s.PushedAt = p.PushedAt.Add(time.Duration(1+r.IntN(60*24)) * time.Hour)
		s.extra = 1 + r.IntN(2)
		specs = append(specs, s)
	}
	for _, s := range specs {
		s.FullName = o.Org + "/" + s.Name
		s.Path = filepath.ToSlash(filepath.Join(o.Org, s.Name+".git"))
	}
	if err := plantLeaks(r, o, specs, originals); err != nil {
		return nil, err
	}
	for _, s := range specs {
		if s.Fork {
			s.Commits = s.parent.Commits + s.extra
		}
	}
	return specs, nil
}
