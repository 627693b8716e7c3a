package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v in %s: %v", args, dir, err)
	}
	return strings.TrimSpace(string(out))
}

// TestGenerate builds a small organisation and checks what the benchmark
// relies on: the manifest matches the repositories, forks are separate
// clones holding their parent's history plus commits of their own, and
// the planted credentials, and only they, are found by the scanner.
func TestGenerate(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	out := filepath.Join(t.TempDir(), "org")
	m, err := Generate(Options{Out: out, Org: "acme", N: 40, ForkRatio: 0.25, Leaks: 6, Seed: 3, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Manifest
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(onDisk.Repos) != 40 || len(m.Repos) != 40 {
		t.Fatalf("manifest has %d repositories (returned %d), want 40", len(onDisk.Repos), len(m.Repos))
	}
	byName := map[string]ManifestRepo{}
	ids := map[int64]bool{}
	forks := 0
	kinds := map[string]bool{}
	for _, r := range onDisk.Repos {
		byName[r.FullName] = r
		if ids[r.ID] {
			t.Errorf("duplicate id %d", r.ID)
		}
		ids[r.ID] = true
		if r.PushedAt.IsZero() {
			t.Errorf("%s: no pushed_at", r.FullName)
		}
		if r.Fork {
			forks++
		}
		for _, l := range r.Leaks {
			kinds[l.Kind] = true
		}
	}
	if forks != 10 {
		t.Errorf("%d forks, want 10", forks)
	}
	for _, k := range []string{"main", "branch", "deleted", "shared", "inherited", "fork-only"} {
		if !kinds[k] {
			t.Errorf("no credential planted as %q", k)
		}
	}

	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := scanner.NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range onDisk.Repos {
		dir := filepath.Join(out, filepath.FromSlash(r.Path))
		if r.Empty {
			if refs := gitOut(t, dir, "for-each-ref"); refs != "" {
				t.Errorf("%s: empty repository has refs %q", r.FullName, refs)
			}
			continue
		}
		if n := gitOut(t, dir, "rev-list", "--count", "refs/heads/"+r.DefaultBranch); n != itoa(r.Commits) {
			t.Errorf("%s: %s commits on %s, manifest says %d", r.FullName, n, r.DefaultBranch, r.Commits)
		}
		if r.Fork {
			p := byName[r.Parent]
			pdir := filepath.Join(out, filepath.FromSlash(p.Path))
			ptip := gitOut(t, pdir, "rev-parse", "refs/heads/"+p.DefaultBranch)
			// The fork's branch descends from the parent's tip.
			if err := exec.Command("git", "--git-dir", dir, "merge-base", "--is-ancestor", ptip, "refs/heads/"+r.DefaultBranch).Run(); err != nil {
				t.Errorf("%s: parent tip %s is not in its history: %v", r.FullName, ptip, err)
			}
			if cfg := gitOut(t, dir, "config", "--list"); strings.Contains(cfg, "remote.") {
				t.Errorf("%s: fork keeps a remote: %s", r.FullName, cfg)
			}
		}
		res, err := scanner.ScanGit(context.Background(), d, dir, scanner.GitOptions{})
		if err != nil {
			t.Fatalf("scan %s: %v", r.FullName, err)
		}
		var found []string
		for _, f := range res.Findings {
			for _, loc := range f.Locations {
				found = append(found, loc.Path)
			}
		}
		var want []string
		for _, l := range r.Leaks {
			want = append(want, l.Path)
		}
		slices.Sort(found)
		found = slices.Compact(found)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(found, want) {
			t.Errorf("%s: found credentials in %v, planted in %v", r.FullName, found, want)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestServe lists a generated organisation through go-github, page by
// page, and clones a repository over HTTP with and without the token.
func TestServe(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	out := filepath.Join(t.TempDir(), "org")
	if _, err := Generate(Options{Out: out, Org: "acme", N: 12, ForkRatio: 0.25, Leaks: 2, Seed: 5, Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	tok := "bench-" + strings.Repeat("t", 8)
	s, err := NewServer(out, tok)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := context.Background()

	anon, err := github.NewClient(nil).WithEnterpriseURLs(srv.URL+"/api/v3/", srv.URL+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.Repositories.ListByOrg(ctx, "acme", nil); err == nil {
		t.Fatal("listing without a token succeeded")
	}
	c := anon.WithAuthToken(tok)
	var all []*github.Repository
	opt := &github.RepositoryListByOrgOptions{ListOptions: github.ListOptions{PerPage: 5}}
	pages := 0
	for {
		repos, resp, err := c.Repositories.ListByOrg(ctx, "acme", opt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, repos...)
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(all) != 12 || pages != 3 {
		t.Fatalf("listed %d repositories in %d pages, want 12 in 3", len(all), pages)
	}
	var r *github.Repository
	for _, x := range all {
		if x.GetSize() > 0 {
			r = x
			break
		}
	}
	dst := filepath.Join(t.TempDir(), "clone.git")
	cmd := exec.Command("git", "clone", "-q", "--mirror", r.GetCloneURL(), dst)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_GLOBAL=/dev/null")
	if err := cmd.Run(); err == nil {
		t.Fatal("clone without the token succeeded")
	}
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+tok))
	cmd = exec.Command("git", "-c", "http.extraHeader="+auth, "clone", "-q", "--mirror", r.GetCloneURL(), dst)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_GLOBAL=/dev/null")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone %s: %v: %s", r.GetCloneURL(), err, b)
	}
	if s.fetches.Load() == 0 || s.packBytes.Load() == 0 {
		t.Errorf("stats did not count the fetch: %d posts, %d bytes", s.fetches.Load(), s.packBytes.Load())
	}
}
