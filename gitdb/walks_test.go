package gitdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// branchy builds main and two feature branches, one merged into main,
// and returns the repository.
func branchy(t *testing.T) *testRepo {
	r := newTestRepo(t)
	step := func(name string, i int) {
		r.write(fmt.Sprintf("%s/f%d.txt", name, i%3), fmt.Sprintf("%s %d\n", name, i))
		r.write("shared.txt", fmt.Sprintf("shared by %s %d\n", name, i))
		r.commit(fmt.Sprintf("%s %d", name, i))
	}
	for i := range 4 {
		step("main", i)
	}
	r.git("checkout", "-q", "-b", "a")
	for i := range 3 {
		step("a", i)
	}
	r.git("checkout", "-q", "main")
	step("main", 4)
	r.git("checkout", "-q", "-b", "b")
	for i := range 3 {
		step("b", i)
	}
	r.git("checkout", "-q", "main")
	r.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge a", "a")
	step("main", 5)
	r.git("gc", "-q")
	step("main", 6) // loose
	return r
}

func TestRangeCommitsMatchesRevList(t *testing.T) {
	r := branchy(t)
	db := r.open()
	// Branch names that are also hex prefixes of object ids name the
	// branches (go-git alone takes them for abbreviated ids).
	for _, name := range []string{"a", "b", "main", "a~1", "main~2^2", "b~2"} {
		h, err := db.ResolveCommit(name)
		if want := r.git("rev-parse", name); err != nil || h.String() != want {
			t.Errorf("ResolveCommit(%q) = %s, %v; want %s", name, h, err, want)
		}
	}
	resolve := func(revs []string) []Hash {
		var out []Hash
		for _, rev := range revs {
			h, err := db.ResolveCommit(rev)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
		}
		return out
	}
	for _, rg := range []Range{
		BaseHead("main~3", "main"),
		BaseHead("main", "a"),
		BaseHead("a", "main"),
		BaseHead("main", "b"),
		BaseHead("b", "b"),
		{Include: []string{"a", "b"}, Exclude: []string{"main~2"}},
		{Include: []string{"main", "b"}, Exclude: []string{"a", "main~1"}},
		{Include: []string{"b"}},
	} {
		args := append([]string{"rev-list"}, rg.Include...)
		for _, e := range rg.Exclude {
			args = append(args, "^"+e)
		}
		want := lines(r.git(append(args, "--")...))
		commits, err := db.RangeCommits(context.Background(), resolve(rg.Include), resolve(rg.Exclude))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range commits {
			got = append(got, c.Hash.String())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d commits, git rev-list: %d", rg, len(got), len(want))
		}
		// What the range adds, by brute force: the blobs of each commit
		// that no parent holds at the same path.
		wantBlobs := map[string]bool{}
		for _, c := range want {
			parents := strings.Fields(r.git("log", "-1", "--format=%P", c))
			for path, blob := range lsTree(r, c) {
				inParent := false
				for _, p := range parents {
					if lsTree(r, p)[path] == blob {
						inParent = true
					}
				}
				if !inParent {
					wantBlobs[blob] = true
				}
			}
		}
		blobs, _, err := db.AddedBlobs(context.Background(), commits)
		if err != nil {
			t.Fatal(err)
		}
		var gotBlobs []string
		for _, b := range blobs {
			gotBlobs = append(gotBlobs, b.String())
		}
		var wb []string
		for b := range wantBlobs {
			wb = append(wb, b)
		}
		slices.Sort(gotBlobs)
		slices.Sort(wb)
		if !slices.Equal(gotBlobs, wb) {
			t.Errorf("%s: added blobs %v, want %v", rg, gotBlobs, wb)
		}
	}
}

// lsTree maps each file path of a commit's tree to its blob.
func lsTree(r *testRepo, commit string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(r.git("ls-tree", "-r", commit)) {
		meta, path, _ := strings.Cut(l, "\t")
		if f := strings.Fields(meta); f[1] == "blob" {
			m[path] = f[2]
		}
	}
	return m
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{
		"main..feature":     BaseHead("main", "feature"),
		"v1.0...HEAD":       BaseHead("v1.0", "HEAD"),
		"abc123..def456~2":  {Include: []string{"def456~2"}, Exclude: []string{"abc123"}},
		"origin/main..HEAD": BaseHead("origin/main", "HEAD"),
	} {
		got, err := ParseRange(in)
		if err != nil || !slices.Equal(got.Include, want.Include) || !slices.Equal(got.Exclude, want.Exclude) {
			t.Errorf("ParseRange(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "main", "..HEAD", "main..", "..."} {
		if _, err := ParseRange(bad); !errors.Is(err, ErrBadRange) {
			t.Errorf("ParseRange(%q): %v, want ErrBadRange", bad, err)
		}
	}
	if s := BaseHead("a", "b").String(); s != "a..b" {
		t.Errorf("String = %q", s)
	}
	if s := (Range{Include: []string{"x", "y"}, Exclude: []string{"z"}}).String(); s != "x y ^z" {
		t.Errorf("String = %q", s)
	}
	if !(Range{}).IsZero() || BaseHead("a", "b").IsZero() {
		t.Error("IsZero")
	}
}

func TestStagedChanges(t *testing.T) {
	r := newTestRepo(t)
	if err := os.Symlink("target", filepath.Join(r.dir, "link")); err != nil {
		t.Fatal(err)
	}
	r.write("keep.txt", "unchanged\n")
	r.write("dir/mod.txt", "old\n")
	r.write("gone.txt", "deleted\n")
	r.commit("first")
	r.write("dir/mod.txt", "new\n")
	r.write("dir/deep/added.txt", "added\n")
	r.write("unstaged.txt", "not added\n")
	r.git("add", "dir")
	r.git("rm", "-q", "gone.txt")
	r.write("keep.txt", "changed in the work tree only\n")
	r.git("update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",sub")
	db := r.open()
	got, err := db.StagedChanges("")
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "dir/deep/added.txt", Blob: plumbing.NewHash(r.git("rev-parse", ":dir/deep/added.txt"))},
		{Path: "dir/mod.txt", Blob: plumbing.NewHash(r.git("rev-parse", ":dir/mod.txt"))},
	}
	if !slices.Equal(got, want) {
		t.Errorf("StagedChanges = %v, want %v", got, want)
	}
	// Another index file (GIT_INDEX_FILE in a hook) is read instead.
	saved := filepath.Join(t.TempDir(), "index")
	data, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r.git("reset", "-q")
	if got, err := db.StagedChanges(""); err != nil || len(got) != 0 {
		t.Errorf("after reset: %v, %v; want nothing staged", got, err)
	}
	if got, err := db.StagedChanges(saved); err != nil || !slices.Equal(got, want) {
		t.Errorf("StagedChanges(saved index) = %v, %v; want %v", got, err, want)
	}
	if _, err := db.StagedChanges(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing index file: no error")
	}
}

func TestStagedChangesUnborn(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	r.git("add", "a.txt")
	got, err := r.open().StagedChanges("")
	if err != nil || len(got) != 1 || got[0].Path != "a.txt" {
		t.Errorf("StagedChanges on an unborn branch = %v, %v", got, err)
	}
}
