package gitdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// allObjects lists every object of the repository with git, as id → type.
func allObjects(r *testRepo) map[string]string {
	r.t.Helper()
	m := map[string]string{}
	for _, l := range lines(r.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")) {
		id, typ, _ := strings.Cut(l, " ")
		m[id] = typ
	}
	return m
}

// layered returns a repository whose objects are in three packs (one
// with long delta chains), loose, and duplicated across packs and loose
// objects; and its commits. It is built once and shared: tests only read
// it.
func layered(t *testing.T) (*testRepo, []string) {
	layeredOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gitdb-test-")
		if err != nil {
			t.Fatal(err)
		}
		layeredDir = dir
		r := &testRepo{t: t, dir: dir}
		r.git("init", "-q", "-b", "main")
		commits := history(r, 20)
		r.git("gc", "-q", "--aggressive")
		commits = append(commits, history(r, 8)...)
		r.git("repack", "-q") // a second, incremental pack
		commits = append(commits, history(r, 4)...)
		r.git("repack", "-a", "-q") // a third holding everything: duplicates
		commits = append(commits, history(r, 3)...)
		packs, _ := filepath.Glob(filepath.Join(r.dir, ".git/objects/pack/*.pack"))
		if len(packs) < 3 {
			t.Fatalf("%d packs, want 3", len(packs))
		}
		layeredN, layeredCommits = r.n, commits
	})
	if layeredCommits == nil {
		t.Fatal("building the shared repository failed")
	}
	return &testRepo{t: t, dir: layeredDir, n: layeredN}, layeredCommits
}

var (
	layeredOnce    sync.Once
	layeredDir     string
	layeredN       int
	layeredCommits []string
)

// TestMain removes the shared repository; the test binary exits with
// m.Run's status.
func TestMain(m *testing.M) {
	m.Run()
	if layeredDir != "" {
		os.RemoveAll(layeredDir)
	}
}

func TestEachBlobReadsEveryBlobOnce(t *testing.T) {
	r, _ := layered(t)
	want := map[string]bool{}
	for id, typ := range allObjects(r) {
		if typ == "blob" {
			want[id] = true
		}
	}
	db := r.open()
	var mu sync.Mutex
	got := map[string]int{}
	err := db.EachBlob(context.Background(), 3, func(h Hash, data []byte) {
		if id := objectID("blob", data); id != h.String() {
			t.Errorf("blob %s: content hashes to %s", h, id)
		}
		mu.Lock()
		got[h.String()]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("blob %s passed %d times, want 1", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d blobs passed, git lists %d", len(got), len(want))
	}
}

func TestReadEveryObject(t *testing.T) {
	r, _ := layered(t)
	db := r.open()
	for id, typ := range allObjects(r) {
		gt, data, err := db.Read(plumbing.NewHash(id))
		if err != nil {
			t.Fatalf("Read %s: %v", id, err)
		}
		if gt.String() != typ || objectID(typ, data) != id {
			t.Errorf("Read %s: a %s hashing to %s, want a %s", id, gt, objectID(gt.String(), data), typ)
		}
	}
	if _, _, err := db.Read(plumbing.NewHash(strings.Repeat("ab", 20))); err == nil {
		t.Error("Read of a missing object: no error")
	}
	blob := r.git("rev-parse", "HEAD:big.txt")
	if _, err := db.ReadTyped(ObjectTree, plumbing.NewHash(blob)); err == nil {
		t.Error("ReadTyped of a blob as a tree: no error")
	}
}

func TestIndexTreesAndTreeWalker(t *testing.T) {
	r, commits := layered(t)
	db := r.open()
	// Mark the blobs of dir/sub/f3.txt and bin.dat.
	marked := map[Hash]bool{}
	var mu sync.Mutex
	err := db.EachBlob(context.Background(), 2, func(h Hash, data []byte) {
		if strings.HasPrefix(string(data), "content 3") || strings.Contains(string(data), "content 8") || strings.Contains(string(data), "binary") {
			mu.Lock()
			marked[h] = true
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	hit := func(h Hash) bool { return marked[h] }
	if err := db.IndexTrees(context.Background(), 2, hit); err != nil {
		t.Fatal(err)
	}
	w := db.NewTreeWalker(hit)
	for _, c := range commits {
		commit, err := db.Commit(plumbing.NewHash(c))
		if err != nil {
			t.Fatal(err)
		}
		if tree := r.git("rev-parse", c+"^{tree}"); commit.Tree.String() != tree {
			t.Fatalf("commit %s: tree %s, git says %s", c, commit.Tree, tree)
		}
		var want []File
		for _, l := range lines(r.git("ls-tree", "-r", c)) {
			meta, path, _ := strings.Cut(l, "\t")
			f := strings.Fields(meta)
			if h := plumbing.NewHash(f[2]); f[1] == "blob" && marked[h] {
				want = append(want, File{Path: path, Blob: h})
			}
		}
		got, err := w.Files(commit.Tree)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("commit %s: files %v, want %v", c, got, want)
		}
	}
}

func TestTipsAndReachable(t *testing.T) {
	r := newTestRepo(t)
	history(r, 3)
	r.git("checkout", "-q", "-b", "feature")
	history(r, 2)
	r.git("tag", "-a", "-m", "release", "v1")
	blob := r.git("rev-parse", "HEAD:big.txt")
	r.git("tag", "blobtag", blob) // a tag of a blob: not a tip
	r.git("checkout", "-q", "main")
	db := r.open()
	tips, err := db.Tips()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Tip{}
	for _, tp := range tips {
		got[tp.Name] = tp
	}
	feature := plumbing.NewHash(r.git("rev-parse", "feature"))
	main := plumbing.NewHash(r.git("rev-parse", "main"))
	want := map[string]Tip{
		"HEAD":         {Name: "HEAD", Commit: main},
		"main":         {Name: "main", Commit: main, Branch: true},
		"feature":      {Name: "feature", Commit: feature, Branch: true},
		"refs/tags/v1": {Name: "refs/tags/v1", Commit: feature},
	}
	if len(got) != len(want) {
		t.Errorf("tips %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("tip %s: %+v, want %+v", name, got[name], w)
		}
	}
	var starts []Hash
	for _, tp := range tips {
		starts = append(starts, tp.Commit)
	}
	all, err := db.Reachable(context.Background(), starts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, c.Hash.String())
	}
	slices.Sort(ids)
	wantIDs := lines(r.git("rev-list", "--all"))
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("Reachable: %d commits, git rev-list --all: %d", len(ids), len(wantIDs))
	}
	if c, err := db.ResolveCommit("v1"); err != nil || c != feature {
		t.Errorf("ResolveCommit(v1) = %s, %v; want %s", c, err, feature)
	}
	if _, err := db.ResolveCommit("blobtag"); err == nil {
		t.Error("ResolveCommit(blobtag): no error")
	}
	if _, err := db.Peel(plumbing.NewHash(blob)); !errors.Is(err, ErrNotCommit) {
		t.Errorf("Peel(blob): %v, want ErrNotCommit", err)
	}
}

func TestAlternates(t *testing.T) {
	src, _ := layered(t)
	dst := t.TempDir()
	runGit(t, "", 0, "clone", "-q", "--shared", src.dir, dst)
	clone := &testRepo{t: t, dir: dst}
	clone.write("new.txt", "only in the clone\n")
	clone.commit("clone commit")
	if _, err := os.Stat(filepath.Join(dst, ".git/objects/info/alternates")); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, typ := range allObjects(clone) {
		if typ == "blob" {
			want++
		}
	}
	db := clone.open()
	var mu sync.Mutex
	got := 0
	if err := db.EachBlob(context.Background(), 2, func(Hash, []byte) { mu.Lock(); got++; mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("EachBlob in a --shared clone: %d blobs, want %d", got, want)
	}
	if _, err := db.Commit(plumbing.NewHash(clone.git("rev-parse", "HEAD~3"))); err != nil {
		t.Errorf("commit in the alternate: %v", err)
	}
}

func TestCorruptPack(t *testing.T) {
	r := newTestRepo(t)
	history(r, 6)
	r.git("gc", "-q")
	packs, _ := filepath.Glob(filepath.Join(r.dir, ".git/objects/pack/*.pack"))
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 40; i < len(data)-40; i += 7 {
		data[i] ^= 0x5a
	}
	os.Chmod(packs[0], 0o644)
	if err := os.WriteFile(packs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	db := r.open()
	err = db.EachBlob(context.Background(), 2, func(Hash, []byte) {})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("EachBlob of a corrupt pack: %v, want ErrCorrupt", err)
	}
}

func TestApplyDeltaRejectsBadDeltas(t *testing.T) {
	get := func(n int64) []byte { return make([]byte, n) }
	base := []byte("hello, world")
	// base size 12, result size 5, copy 5 bytes from offset 7.
	good := []byte{12, 5, 0x80 | 0x01 | 0x10, 7, 5}
	out, err := applyDelta(base, good, get)
	if err != nil || string(out) != "world" {
		t.Fatalf("applyDelta = %q, %v", out, err)
	}
	for name, d := range map[string][]byte{
		"wrong base size":   {11, 5, 0x80 | 0x01 | 0x10, 7, 5},
		"copy past base":    {12, 5, 0x80 | 0x01 | 0x10, 9, 5},
		"short result":      {12, 6, 0x80 | 0x01 | 0x10, 7, 5},
		"insert past end":   {12, 5, 9, 'a'},
		"reserved opcode 0": {12, 5, 0},
		"truncated header":  {0x80},
	} {
		if _, err := applyDelta(base, d, get); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
