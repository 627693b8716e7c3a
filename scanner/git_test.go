package scanner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGitRefKinds(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 1)
	sMain, tMain := c.pair()
	r.write("app/.env", envFile(sMain, tMain, 5))
	r.write("README.md", "hello\n")
	mainCommit := r.commit("add env")

	// A branch not merged.
	r.git("checkout", "-q", "-b", "feature")
	sFeat, tFeat := c.pair()
	r.write("feature.env", envFile(sFeat, tFeat, 1))
	featCommit := r.commit("feature creds")
	r.git("checkout", "-q", "main")

	// A lightweight tag on a commit no branch holds.
	sLight, tLight := c.pair()
	r.write("light.env", envFile(sLight, tLight, 0))
	lightCommit := r.commit("light")
	r.git("tag", "light-tag")
	r.git("reset", "-q", "--hard", mainCommit)

	// An annotated tag, likewise.
	sAnn, tAnn := c.pair()
	r.write("ann.env", envFile(sAnn, tAnn, 0))
	annCommit := r.commit("annotated")
	r.git("tag", "-a", "-m", "release", "v1.0")
	r.git("reset", "-q", "--hard", mainCommit)

	// A remote-tracking ref.
	sRemote, tRemote := c.pair()
	r.write("remote.env", envFile(sRemote, tRemote, 0))
	remoteCommit := r.commit("remote")
	r.git("update-ref", "refs/remotes/origin/old", remoteCommit)
	r.git("reset", "-q", "--hard", mainCommit)

	// A stash.
	sStash, tStash := c.pair()
	r.write("README.md", "hello\n"+envFile(sStash, tStash, 0))
	r.git("stash", "-q")

	res := scanGitT(t, r.dir, GitOptions{})
	got := byToken(res)
	want := map[string]struct{ sid, commit, path string }{
		tMain:   {sMain, mainCommit, "app/.env"},
		tFeat:   {sFeat, featCommit, "feature.env"},
		tLight:  {sLight, lightCommit, "light.env"},
		tAnn:    {sAnn, annCommit, "ann.env"},
		tRemote: {sRemote, remoteCommit, "remote.env"},
		tStash:  {sStash, "", "README.md"},
	}
	for tok, w := range want {
		f, ok := got[tok]
		if !ok {
			t.Errorf("credential in %s not found", w.path)
			continue
		}
		if f.Identifier != w.sid || f.Confidence != High {
			t.Errorf("%s: identifier/confidence = %s/%v", w.path, Redact(f.Identifier), f.Confidence)
		}
		l := f.Locations[0]
		if l.Path != w.path || l.Commit == nil || (w.commit != "" && l.Commit.Hash != w.commit) {
			t.Errorf("%s: location %+v", w.path, l)
			continue
		}
		if l.Commit.Author != "Ada Dev" || l.Commit.Email != "ada@example.com" || l.Commit.Date == "" || l.Commit.Summary == "" {
			t.Errorf("%s: provenance %+v", w.path, l.Commit)
		}
	}
	if len(res.Findings) != len(want) {
		t.Errorf("got %d findings, want %d", len(res.Findings), len(want))
	}
	// Tips: main holds its credential, feature its own and main's.
	tips := got[tMain].Locations[0].Commit.AtTips
	if !slices.Contains(tips, "main") || !slices.Contains(tips, "feature") {
		t.Errorf("main credential AtTips = %v", tips)
	}
	if tips := got[tFeat].Locations[0].Commit.AtTips; !slices.Equal(tips, []string{"feature"}) {
		t.Errorf("feature credential AtTips = %v", tips)
	}
	if tips := got[tLight].Locations[0].Commit.AtTips; len(tips) != 0 {
		t.Errorf("tag-only credential AtTips = %v", tips)
	}
	if tips := got[tRemote].Locations[0].Commit.AtTips; !slices.Equal(tips, []string{"origin/old"}) {
		t.Errorf("remote credential AtTips = %v", tips)
	}
	if res.Stats.Commits < 6 || res.Stats.Blobs == 0 {
		t.Errorf("stats %+v", res.Stats)
	}

	// --branch limits the history.
	res = scanGitT(t, r.dir, GitOptions{Branch: "main"})
	if got := byToken(res); len(got) != 1 || got[tMain].Fingerprint == "" {
		t.Errorf("--branch main: %d findings", len(got))
	}
}

func Redact(s string) string {
	if len(s) < 8 {
		return s
	}
	return s[:4] + "…"
}

func TestGitMergeResolution(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 2)
	r.write("conf.ini", "[app]\nname = demo\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "a")
	r.write("conf.ini", "[app]\nname = alpha\n")
	r.commit("a")
	r.git("checkout", "-q", "main")
	r.write("conf.ini", "[app]\nname = beta\n")
	r.commit("b")
	cmd := []string{"merge", "-q", "a"}
	r.n++
	out, err := gitCmd(r.dir, r.n, cmd...)
	if err == nil {
		t.Fatalf("merge did not conflict: %s", out)
	}
	sid, tok := c.pair()
	r.write("conf.ini", "[app]\nname = merged\n"+envFile(sid, tok, 0))
	merge := r.commit("merge a")
	if n := strings.Count(r.git("cat-file", "-p", merge), "parent "); n != 2 {
		t.Fatalf("not a merge: %d parents", n)
	}
	res := scanGitT(t, r.dir, GitOptions{})
	f, ok := byToken(res)[tok]
	if !ok {
		t.Fatal("merge-resolution credential not found")
	}
	if got := f.Locations[0].Commit.Hash; got != merge {
		t.Errorf("introduced in %s, want the merge %s", got, merge)
	}
}

func TestGitDeletedReaddedAndRenamed(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 3)
	sid, tok := c.pair()
	r.write("a.env", envFile(sid, tok, 2))
	first := r.commit("add")
	r.remove("a.env")
	r.commit("delete")
	r.write("a.env", envFile(sid, tok, 2))
	readd := r.commit("re-add")
	r.git("mv", "a.env", "b.env")
	renamed := r.commit("rename")
	r.write("other.txt", "unrelated\n")
	last := r.commit("unrelated")

	res := scanGitT(t, r.dir, GitOptions{})
	if len(res.Findings) != 1 {
		t.Fatalf("got %d findings, want 1", len(res.Findings))
	}
	f := res.Findings[0]
	type pc struct{ path, commit string }
	var got []pc
	for _, l := range f.Locations {
		got = append(got, pc{l.Path, l.Commit.Hash})
	}
	want := []pc{{"a.env", first}, {"b.env", renamed}}
	if !slices.Equal(got, want) {
		t.Errorf("locations %v, want %v", got, want)
	}
	for _, l := range f.Locations {
		if l.Line != 4 || !slices.Equal(l.Commit.AtTips, []string{"main"}) {
			t.Errorf("location %s: line %d tips %v", l.Path, l.Line, l.Commit.AtTips)
		}
	}

	res = scanGitT(t, r.dir, GitOptions{AllLocations: true})
	got = nil
	for _, l := range res.Findings[0].Locations {
		got = append(got, pc{l.Path, l.Commit.Hash})
	}
	for _, w := range []pc{{"a.env", first}, {"a.env", readd}, {"b.env", renamed}, {"b.env", last}} {
		if !slices.Contains(got, w) {
			t.Errorf("--all-locations lacks %v (got %v)", w, got)
		}
	}
	if len(got) != 5 { // a.env: add, re-add; b.env: rename, unrelated… and first is one commit
		t.Logf("all locations: %v", got)
	}
}

func TestGitCrossFilePair(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 4)
	sid, tok := c.pair()
	r.write("config.py", "ACCOUNT_SID = \""+sid+"\"\nDEBUG = True\n")
	r.commit("config")
	r.write("secrets.py", "# keep private\nTWILIO_AUTH_TOKEN = \""+tok+"\"\n")
	second := r.commit("secrets")
	res := scanGitT(t, r.dir, GitOptions{})
	f, ok := byToken(res)[tok]
	if !ok {
		t.Fatal("not found")
	}
	if f.Identifier != sid {
		t.Errorf("not paired across files: identifier %q", Redact(f.Identifier))
	}
	l := f.Locations[0]
	if l.Path != "secrets.py" || l.IdentifierPath != "config.py" || l.Commit.Hash != second || l.Line != 2 {
		t.Errorf("location %+v", l)
	}
}

func TestGitRangeAndStaged(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 5)
	sOld, tOld := c.pair()
	r.write("old.env", envFile(sOld, tOld, 0))
	for i := range 5 {
		r.write("src/main.go", strings.Repeat("// line\n", i+1))
		r.commit("work")
	}
	r.git("checkout", "-q", "-b", "pr")
	sNew, tNew := c.pair()
	r.write("config/new.yaml", "twilio:\n  account_sid: "+sNew+"\n")
	r.commit("pr 1")
	r.write("config/new.yaml", "twilio:\n  account_sid: "+sNew+"\n  auth_token: "+tNew+"\n")
	prTip := r.commit("pr 2")

	res := scanGitT(t, r.dir, GitOptions{Range: "main..pr"})
	got := byToken(res)
	if _, ok := got[tOld]; ok {
		t.Error("range reported a credential from the base")
	}
	f, ok := got[tNew]
	if !ok {
		t.Fatalf("range missed the new credential (%d findings)", len(got))
	}
	if f.Locations[0].Commit.Hash != prTip || f.Identifier != sNew {
		t.Errorf("range finding %+v", f.Locations[0])
	}
	if res.Stats.Commits != 2 {
		t.Errorf("range walked %d commits, want 2", res.Stats.Commits)
	}

	// Staged: only what the index adds.
	sSt, tSt := c.pair()
	r.write("staged.env", envFile(sSt, tSt, 1))
	r.write("src/main.go", "package main\n")
	r.git("add", "staged.env", "src/main.go")
	sUn, tUn := c.pair()
	r.write("unstaged.env", envFile(sUn, tUn, 0))
	res = scanGitT(t, r.dir, GitOptions{Staged: true})
	got = byToken(res)
	if len(got) != 1 {
		t.Fatalf("staged: %d findings, want 1", len(got))
	}
	if f, ok := got[tSt]; !ok || f.Locations[0].Path != "staged.env" {
		t.Errorf("staged finding missing or misplaced")
	}
	if res.Stats.Blobs != 2 {
		t.Errorf("staged read %d blobs, want 2", res.Stats.Blobs)
	}
}

func TestGitStagedUnborn(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 6)
	sid, tok := c.pair()
	r.write("x.env", envFile(sid, tok, 0))
	r.git("add", "x.env")
	res := scanGitT(t, r.dir, GitOptions{Staged: true})
	if _, ok := byToken(res)[tok]; !ok {
		t.Error("staged credential in an unborn branch not found")
	}
}

func TestGitShallowCloneNote(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 7)
	sid, tok := c.pair()
	r.write("a.env", envFile(sid, tok, 0))
	r.commit("one")
	r.write("b.txt", "b\n")
	r.commit("two")
	r.write("c.txt", "c\n")
	tip := r.commit("three")
	dst := filepath.Join(t.TempDir(), "shallow")
	runGit(t, "", 0, "clone", "-q", "--depth", "1", "file://"+r.dir, dst)
	res := scanGitT(t, dst, GitOptions{})
	if !hasNote(res, "shallow") {
		t.Errorf("no shallow note: %q", res.Notes)
	}
	f, ok := byToken(res)[tok]
	if !ok {
		t.Fatal("credential at the shallow tip not found")
	}
	if f.Locations[0].Commit.Hash != tip {
		t.Errorf("attributed to %s, want the boundary commit %s", f.Locations[0].Commit.Hash, tip)
	}
}

func hasNote(res *Result, sub string) bool {
	for _, n := range res.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func TestGitCorruptAndMissing(t *testing.T) {
	build := func(t *testing.T) *testRepo {
		r := newTestRepo(t)
		c := newCreds(t, 8)
		for i := range 4 {
			sid, tok := c.pair()
			r.write("f.env", envFile(sid, tok, 50*i))
			r.commit("c")
		}
		return r
	}
	t.Run("corrupt pack", func(t *testing.T) {
		r := build(t)
		r.git("gc", "-q")
		packs, _ := filepath.Glob(filepath.Join(r.dir, ".git/objects/pack/*.pack"))
		if len(packs) != 1 {
			t.Fatalf("%d packs", len(packs))
		}
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
		if _, err := ScanGit(context.Background(), gitTestDetector(t), r.dir, GitOptions{}); err == nil {
			t.Error("corrupt pack: no error")
		}
	})
	t.Run("missing blob", func(t *testing.T) {
		r := build(t)
		blob := r.git("rev-parse", "HEAD~2:f.env")
		if err := os.Remove(filepath.Join(r.dir, ".git/objects", blob[:2], blob[2:])); err != nil {
			t.Fatal(err)
		}
		if _, err := ScanGit(context.Background(), gitTestDetector(t), r.dir, GitOptions{}); err == nil {
			t.Error("missing blob: no error")
		}
	})
	t.Run("missing tree", func(t *testing.T) {
		r := build(t)
		tree := r.git("rev-parse", "HEAD~1^{tree}")
		if err := os.Remove(filepath.Join(r.dir, ".git/objects", tree[:2], tree[2:])); err != nil {
			t.Fatal(err)
		}
		if _, err := ScanGit(context.Background(), gitTestDetector(t), r.dir, GitOptions{}); err == nil {
			t.Error("missing tree: no error")
		}
	})
	t.Run("bad ref", func(t *testing.T) {
		r := build(t)
		if err := os.WriteFile(filepath.Join(r.dir, ".git/refs/heads/bad"), []byte("0123456789abcdef0123456789abcdef01234567\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ScanGit(context.Background(), gitTestDetector(t), r.dir, GitOptions{}); err == nil {
			t.Error("ref to a missing object: no error")
		}
		if err := os.WriteFile(filepath.Join(r.dir, ".git/refs/heads/bad"), []byte("garbage\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ScanGit(context.Background(), gitTestDetector(t), r.dir, GitOptions{}); err == nil {
			t.Error("garbage ref: no error")
		}
	})
	t.Run("not a repo", func(t *testing.T) {
		if _, err := ScanGit(context.Background(), gitTestDetector(t), t.TempDir(), GitOptions{}); err == nil {
			t.Error("no error")
		}
	})
}

func TestGitBinaryLFSSubmodule(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 9)
	sid, tok := c.pair()
	r.write("blob.bin", "\x00\x01binary\n"+envFile(sid, tok, 0))
	sid2, tok2 := c.pair()
	r.write("model.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:"+strings.Repeat("ab", 32)+"\nsize 12345\n"+envFile(sid2, tok2, 0))
	r.commit("binary and lfs")
	r.git("update-index", "--add", "--cacheinfo", "160000,"+r.git("rev-parse", "HEAD")+",vendor/lib")
	r.git("commit", "-q", "-m", "submodule")
	res := scanGitT(t, r.dir, GitOptions{})
	// Binary content is scanned (its printable runs); an LFS pointer is
	// not content.
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid || !res.Findings[0].Locations[0].Binary {
		t.Errorf("want the binary blob's credential only: %v", where(res))
	}
	if res.Stats.Binary != 1 || res.Stats.SkippedBinary != 0 {
		t.Errorf("binary not counted: %+v", res.Stats)
	}
	_ = tok
	if !hasNote(res, "LFS") {
		t.Errorf("no LFS note: %q", res.Notes)
	}
	if !hasNote(res, "vendor/lib") {
		t.Errorf("no submodule note: %q", res.Notes)
	}
}

func TestGitBareAndWorktree(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 10)
	sid, tok := c.pair()
	r.write("a.env", envFile(sid, tok, 0))
	r.commit("one")
	r.git("branch", "side")
	sid2, tok2 := c.pair()
	r.write("b.env", envFile(sid2, tok2, 0))
	r.commit("two")
	r.git("gc", "-q")
	sid3, tok3 := c.pair()
	r.write("c.env", envFile(sid3, tok3, 0))
	r.commit("three (loose objects)")

	bare := filepath.Join(t.TempDir(), "bare.git")
	runGit(t, "", 0, "clone", "-q", "--bare", r.dir, bare)
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt, "side")

	for name, dir := range map[string]string{"repo": r.dir, "bare": bare, "worktree": wt} {
		if !IsGitRepo(dir) {
			t.Errorf("%s: IsGitRepo false", name)
		}
		got := byToken(scanGitT(t, dir, GitOptions{}))
		for _, tok := range []string{tok, tok2, tok3} {
			if _, ok := got[tok]; !ok {
				t.Errorf("%s: credential missing", name)
			}
		}
	}
	if IsGitRepo(t.TempDir()) {
		t.Error("IsGitRepo true for an empty directory")
	}
}

func TestGitSince(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 11)
	sid, tok := c.pair()
	r.write("old.env", envFile(sid, tok, 0))
	r.commit("old")
	cut := gitEpoch.Add(time.Duration(r.n) * time.Minute)
	sid2, tok2 := c.pair()
	r.write("new.env", envFile(sid2, tok2, 0))
	r.commit("new")
	got := byToken(scanGitT(t, r.dir, GitOptions{Since: cut}))
	if _, ok := got[tok]; ok || len(got) != 1 {
		t.Errorf("--since: %d findings, old one present: %v", len(got), ok)
	}
}

func TestGitEmptyRepo(t *testing.T) {
	r := newTestRepo(t)
	res := scanGitT(t, r.dir, GitOptions{})
	if len(res.Findings) != 0 {
		t.Error("findings in an empty repo")
	}
}

func TestGitAllObjects(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 12)
	r.write("a.txt", "nothing here\n")
	r.commit("one")
	sid, tok := c.pair()
	r.write("dangling.env", envFile(sid, tok, 0))
	blob := r.git("hash-object", "-w", "dangling.env")
	r.remove("dangling.env")
	if got := byToken(scanGitT(t, r.dir, GitOptions{})); len(got) != 0 {
		t.Errorf("unreachable blob reported without --all-objects")
	}
	res := scanGitT(t, r.dir, GitOptions{AllObjects: true})
	f, ok := byToken(res)[tok]
	if !ok {
		t.Fatal("unreachable blob not reported with --all-objects")
	}
	if l := f.Locations[0]; l.Blob != blob || l.Commit != nil {
		t.Errorf("location %+v", l)
	}
	if !hasNote(res, "not reachable") {
		t.Errorf("no note: %q", res.Notes)
	}
}
