package scanner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/gitdb"
)

// where is what a finding says of one place, without git provenance.
func where(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		for _, l := range f.Locations {
			out = append(out, fmt.Sprintf("%s %s %s:%d:%d-%d id@%s:%d %s %s", f.Fingerprint, f.RuleID, l.Path, l.Line, l.Column, l.EndColumn, l.IdentifierPath, l.IdentifierLine, l.Encoding, f.Confidence))
		}
	}
	slices.Sort(out)
	return out
}

func collectT(t *testing.T, src Source) *Result {
	t.Helper()
	res, err := Collect(context.Background(), gitTestDetector(t), src)
	if err != nil {
		t.Fatalf("%T: %v", src, err)
	}
	return res
}

// sameContent writes the same files into a work tree: credentials
// paired within a file, across files, and encoded.
func sameContent(t *testing.T, r *testRepo) {
	c := newCreds(t, 41)
	s1, t1 := c.pair()
	r.write("app/.env", envFile(s1, t1, 3))
	s2, t2 := c.pair()
	r.write("config.py", "ACCOUNT_SID = \""+s2+"\"\nDEBUG = True\n")
	r.write("secrets.py", "TWILIO_AUTH_TOKEN = \""+t2+"\"\n")
	s3, t3 := c.pair()
	r.write("deploy/values.yaml", "twilio:\n  account_sid: "+s3+"\n  auth_token: "+t3+"\n")
	r.write("README.md", "nothing here\n")
}

// TestSourcesAgree: every Source kind finds the same credentials at the
// same places in the same content, and the old functions (now wrappers)
// agree with them.
func TestSourcesAgree(t *testing.T) {
	d := gitTestDetector(t)
	ctx := context.Background()

	// Staged on an unborn branch: all of the content is new.
	staged := newTestRepo(t)
	sameContent(t, staged)
	staged.git("add", "-A")
	// Committed: history, and a range with no exclusion (all of it).
	repo := newTestRepo(t)
	sameContent(t, repo)
	repo.commit("everything")

	dir := collectT(t, DirSource{Root: repo.dir})
	if len(dir.Findings) < 3 {
		t.Fatalf("directory: %d findings, want at least 3: %q", len(dir.Findings), where(dir))
	}
	want := where(dir)
	for name, src := range map[string]Source{
		"history": HistorySource{Repo: repo.dir},
		"branch":  HistorySource{Repo: repo.dir, Branch: "main"},
		"range":   RangeSource{Repo: repo.dir, Range: gitdb.Range{Include: []string{"main"}}},
		"staged":  StagedSource{Repo: staged.dir},
	} {
		if got := where(collectT(t, src)); !slices.Equal(got, want) {
			t.Errorf("%s: %q\nwant (directory) %q", name, got, want)
		}
	}
	wrapped, err := ScanDir(ctx, d, repo.dir, Options{})
	if err != nil || !slices.Equal(where(wrapped), want) {
		t.Errorf("ScanDir: %v, %v", where(wrapped), err)
	}
	for _, opts := range []GitOptions{{}, {Staged: true, Options: Options{}}} {
		dirOf := repo.dir
		if opts.Staged {
			dirOf = staged.dir
		}
		res, err := ScanGit(ctx, d, dirOf, opts)
		if err != nil || !slices.Equal(where(res), want) {
			t.Errorf("ScanGit(%+v): %v, %v", opts, where(res), err)
		}
	}

	// One file as a stream and as a directory scan of that file.
	data, err := os.ReadFile(filepath.Join(repo.dir, "deploy/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stream := collectT(t, ReaderSource{Name: "deploy/values.yaml", R: strings.NewReader(string(data))})
	one := filepath.Join(t.TempDir(), "deploy")
	os.MkdirAll(one, 0o755)
	os.WriteFile(filepath.Join(one, "values.yaml"), data, 0o644)
	file := collectT(t, DirSource{Root: filepath.Dir(one)})
	if len(stream.Findings) != 1 || !slices.Equal(where(stream), where(file)) {
		t.Errorf("stream %q, file %q", where(stream), where(file))
	}
	wrappedStream, err := ScanReader(ctx, d, "deploy/values.yaml", strings.NewReader(string(data)), Options{})
	if err != nil || !slices.Equal(where(wrappedStream), where(stream)) {
		t.Errorf("ScanReader: %v, %v", where(wrappedStream), err)
	}
}

// TestHistorySourceStreams: findings come per commit, oldest first, as
// the history is attributed; the merge equals ScanGit's result.
func TestHistorySourceStreams(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 42)
	var commits []string
	for i := range 4 {
		sid, tok := c.pair()
		r.write(fmt.Sprintf("f%d.env", i), envFile(sid, tok, i))
		r.write("churn.txt", strings.Repeat("x\n", i))
		commits = append(commits, r.commit(fmt.Sprintf("c%d", i)))
	}
	r.git("gc", "-q")
	var batches [][]Finding
	sum, err := HistorySource{Repo: r.dir}.Scan(context.Background(), gitTestDetector(t), func(fs []Finding) error {
		batches = append(batches, fs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 4 {
		t.Fatalf("%d batches, want one per commit (4)", len(batches))
	}
	for i, b := range batches {
		if len(b) != 1 || b[0].Locations[0].Commit.Hash != commits[i] {
			t.Errorf("batch %d: %d findings, first from %s; want 1 from %s", i, len(b), b[0].Locations[0].Commit.Hash, commits[i])
		}
	}
	if sum.Stats.Commits != 4 || sum.Stats.Blobs == 0 {
		t.Errorf("summary %+v", sum.Stats)
	}
	res := scanGitT(t, r.dir, GitOptions{})
	merged := NewCollector()
	for _, b := range batches {
		merged.Add(b...)
	}
	if got := merged.Findings(); len(got) != len(res.Findings) || where(&Result{Findings: got})[0] != where(res)[0] {
		t.Errorf("streamed merge differs from ScanGit")
	}
}

// TestSourceEmitErrorStops: an error from emit ends every kind of scan
// and comes back unchanged.
func TestSourceEmitErrorStops(t *testing.T) {
	r := newTestRepo(t)
	sameContent(t, r)
	r.commit("one")
	c := newCreds(t, 43)
	sid, tok := c.pair()
	r.write("staged.env", envFile(sid, tok, 0))
	r.git("add", "staged.env")
	stop := errors.New("stop")
	for name, src := range map[string]Source{
		"dir":     DirSource{Root: r.dir},
		"reader":  ReaderSource{Name: "x.env", R: strings.NewReader(envFile(sid, tok, 0))},
		"history": HistorySource{Repo: r.dir},
		"range":   RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"HEAD"}}},
		"staged":  StagedSource{Repo: r.dir},
	} {
		calls := 0
		_, err := src.Scan(context.Background(), gitTestDetector(t), func([]Finding) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("%s: %v after %d calls, want the emit error after 1", name, err, calls)
		}
	}
}

// TestTypedRange: a range given as typed revisions scans what the
// "BASE..HEAD" string did; several tips and exclusions work as in git
// rev-list.
func TestTypedRange(t *testing.T) {
	r := newTestRepo(t)
	c := newCreds(t, 44)
	sBase, tBase := c.pair()
	r.write("base.env", envFile(sBase, tBase, 0))
	r.commit("base")
	r.git("checkout", "-q", "-b", "one")
	s1, t1 := c.pair()
	r.write("one.env", envFile(s1, t1, 0))
	r.commit("one")
	r.git("checkout", "-q", "main")
	r.git("checkout", "-q", "-b", "two")
	s2, t2 := c.pair()
	r.write("two.env", envFile(s2, t2, 0))
	r.commit("two")
	r.git("checkout", "-q", "main")
	d := gitTestDetector(t)
	ctx := context.Background()

	old := scanGitT(t, r.dir, GitOptions{Range: "main..one"})
	typed := scanGitT(t, r.dir, GitOptions{Revs: gitdb.BaseHead("main", "one")})
	src := collectT(t, RangeSource{Repo: r.dir, Range: gitdb.BaseHead("main", "one")})
	if got := byToken(old); len(got) != 1 || got[t1].Identifier != s1 {
		t.Fatalf("main..one: %d findings", len(got))
	}
	for name, res := range map[string]*Result{"Revs": typed, "RangeSource": src} {
		if !slices.Equal(where(res), where(old)) || res.Findings[0].Locations[0].Commit.Hash != old.Findings[0].Locations[0].Commit.Hash {
			t.Errorf("%s: %q, Range string: %q", name, where(res), where(old))
		}
	}
	if at := typed.Findings[0].Locations[0].Commit.AtTips; !slices.Equal(at, []string{"one"}) {
		t.Errorf("AtTips %v, want [one]", at)
	}

	both := collectT(t, RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"one", "two"}, Exclude: []string{"main"}}})
	got := byToken(both)
	if len(got) != 2 || got[t1].Identifier != s1 || got[t2].Identifier != s2 {
		t.Errorf("one two ^main: %d findings, want the two branches' credentials", len(got))
	}
	if both.Stats.Commits != 2 {
		t.Errorf("one two ^main: %d commits, want 2", both.Stats.Commits)
	}
	excluded := collectT(t, RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"two"}, Exclude: []string{"main", "one"}}})
	if got := byToken(excluded); len(got) != 1 || got[t2].Identifier != s2 {
		t.Errorf("two ^main ^one: %d findings", len(got))
	}

	for name, opts := range map[string]GitOptions{
		"Range and Revs":  {Range: "main..one", Revs: gitdb.BaseHead("main", "one")},
		"Staged and Revs": {Staged: true, Revs: gitdb.BaseHead("main", "one")},
		"bad Range":       {Range: "main"},
		"unknown rev":     {Revs: gitdb.BaseHead("main", "nosuch")},
	} {
		if _, err := ScanGit(ctx, d, r.dir, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := (RangeSource{Repo: r.dir, Range: gitdb.Range{Exclude: []string{"main"}}}).Scan(ctx, d, func([]Finding) error { return nil }); err == nil {
		t.Error("a range with nothing to include: no error")
	}
}
