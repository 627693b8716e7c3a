package scanner

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakstop/leakstop/gitdb"
)

// knownRepo builds a history where a secret pairs with an identifier
// committed earlier in another file, with clean files around.
func knownRepo(t *testing.T) (r *testRepo, sid, tok, sid2, tok2, first string) {
	r = newTestRepo(t)
	c := newCreds(t, 77)
	sid, tok = c.pair()
	sid2, tok2 = c.pair()
	for i := range 5 {
		r.write("src/mod"+string(rune('a'+i))+".py", strings.Repeat("print('hello')\n", i+1))
	}
	r.write("config/app.yaml", "account_sid: "+sid+"\n")
	first = r.commit("identifier")
	r.write("src/moda.py", "print('changed')\n")
	r.write("deploy/secrets.yaml", "twilio_auth_token: "+tok+"\n")
	r.commit("secret in another file")
	r.write("b.env", envFile(sid2, tok2, 3))
	r.write("src/modb.py", "print('changed too')\n")
	r.commit("a whole credential")
	return r, sid, tok, sid2, tok2, first
}

// cleanSet collects what Clean reports and answers KnownClean from it.
type cleanSet struct {
	mu sync.Mutex
	m  map[gitdb.Hash]bool
	// asked counts the blobs KnownClean was asked about.
	asked int
}

func (c *cleanSet) add(_ context.Context, hs []gitdb.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(hs) > KnownCleanBatch {
		return errTest("batch too large")
	}
	for _, h := range hs {
		c.m[h] = true
	}
	return nil
}

func (c *cleanSet) known(_ context.Context, hs []gitdb.Hash) (map[gitdb.Hash]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked += len(hs)
	out := map[gitdb.Hash]bool{}
	for _, h := range hs {
		if c.m[h] {
			out[h] = true
		}
	}
	return out, nil
}

type errTest string

func (e errTest) Error() string { return string(e) }

func findingKeys(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		for _, l := range f.Locations {
			c := ""
			if l.Commit != nil {
				c = l.Commit.Hash + strings.Join(l.Commit.AtTips, ",")
			}
			out = append(out, f.Fingerprint+" "+f.Identifier+" "+f.Confidence.String()+" "+l.Path+" "+c+" "+l.Blob+" "+strconv.Itoa(l.Line))
		}
	}
	slices.Sort(out)
	return out
}

// TestRangeSkipsKnownCleanBlobs: a range scan that is told every blob
// but those with hits is known clean reads only those and finds exactly
// what a scan reading everything finds, pairs across files included.
func TestRangeSkipsKnownCleanBlobs(t *testing.T) {
	r, sid, tok, _, _, first := knownRepo(t)
	for _, whole := range []bool{false, true} {
		t.Run(map[bool]string{false: "added", true: "whole-trees"}[whole], func(t *testing.T) {
			for _, rng := range []gitdb.Range{{Include: []string{"main"}}, {Include: []string{"main"}, Exclude: []string{first}}} {
				cs := &cleanSet{m: map[gitdb.Hash]bool{}}
				base := collectT(t, RangeSource{Repo: r.dir, Range: rng, WholeTrees: whole, Clean: cs.add})
				if len(cs.m) == 0 || base.Stats.Blobs <= int64(len(cs.m)) {
					t.Fatalf("clean blobs %d of %d read: want some, not all", len(cs.m), base.Stats.Blobs)
				}
				skip := collectT(t, RangeSource{Repo: r.dir, Range: rng, WholeTrees: whole, KnownClean: cs.known})
				if got, want := findingKeys(skip), findingKeys(base); !slices.Equal(got, want) {
					t.Errorf("%s: findings with known clean blobs skipped:\n%s\nwant:\n%s", rng, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if want := base.Stats.Blobs - int64(len(cs.m)); skip.Stats.Blobs != want {
					t.Errorf("%s: read %d blobs, want %d (only those with hits)", rng, skip.Stats.Blobs, want)
				}
				if cs.asked == 0 {
					t.Error("KnownClean never asked")
				}
			}
		})
	}
	// A history scan's clean blobs serve a range scan just as well.
	hcs := &cleanSet{m: map[gitdb.Hash]bool{}}
	hres := collectT(t, HistorySource{Repo: r.dir, Clean: hcs.add})
	if int64(len(hcs.m)) >= hres.Stats.Blobs || len(hcs.m) == 0 {
		t.Fatalf("history scan: %d clean of %d blobs", len(hcs.m), hres.Stats.Blobs)
	}
	full := gitdb.Range{Include: []string{"main"}}
	want := collectT(t, RangeSource{Repo: r.dir, Range: full, WholeTrees: true})
	got := collectT(t, RangeSource{Repo: r.dir, Range: full, WholeTrees: true, KnownClean: hcs.known})
	if !slices.Equal(findingKeys(got), findingKeys(want)) || got.Stats.Blobs != hres.Stats.Blobs-int64(len(hcs.m)) {
		t.Errorf("range scan with the history scan's clean blobs: %d blobs read, findings\n%v\nwant\n%v", got.Stats.Blobs, findingKeys(got), findingKeys(want))
	}
	if !slices.Equal(findingKeys(hres), findingKeys(want)) {
		t.Errorf("whole-trees range of every tip differs from the history scan:\n%v\nwant\n%v", findingKeys(want), findingKeys(hres))
	}

	// The whole-trees range after the identifier's commit pairs the
	// secret with it, as a full history scan does.
	cs := &cleanSet{m: map[gitdb.Hash]bool{}}
	inc := collectT(t, RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"main"}, Exclude: []string{first}}, WholeTrees: true, KnownClean: cs.known})
	f, ok := byToken(inc)[tok]
	if !ok || f.Identifier != sid {
		t.Fatalf("whole-trees range: token found %v with identifier %q, want paired with %s", ok, f.Identifier, sid)
	}
	hist := scanGitT(t, r.dir, GitOptions{})
	if hf := byToken(hist)[tok]; hf.Fingerprint != f.Fingerprint {
		t.Errorf("whole-trees range fingerprint %s, history scan %s", f.Fingerprint, hf.Fingerprint)
	}
}

// TestRangeKnownCleanMissingBlobIsAnError: a blob known clean that the
// repository does not hold is not silently skipped.
func TestRangeKnownCleanMissingBlobIsAnError(t *testing.T) {
	r, _, _, _, _, _ := knownRepo(t)
	victim := r.git("rev-parse", "HEAD:src/modc.py")
	// The test repository's objects are loose: remove the blob's file.
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", victim[:2], victim[2:])); err != nil {
		t.Fatal(err)
	}
	cs := &cleanSet{m: map[gitdb.Hash]bool{plumbing.NewHash(victim): true}}
	_, err := Collect(context.Background(), gitTestDetector(t), RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"main"}}, WholeTrees: true, KnownClean: cs.known})
	if err == nil || !strings.Contains(err.Error(), victim) {
		t.Fatalf("scan with a missing known-clean blob: err = %v, want it named", err)
	}
}

// TestWholeTreesIncrementalLosesNothing builds random histories and
// checks the org scan's flow: a history scan at an older commit X, then
// a whole-trees range scan of X..main skipping the blobs the first scan
// read clean, find together exactly the credentials (fingerprints,
// pairing included) a history scan at main finds.
func TestWholeTreesIncrementalLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(t, 300+seed)
			rng := rand.New(rand.NewPCG(seed, 7))
			files := []string{"a.py", "b/c.env", "b/d.yaml", "e.txt"}
			content := map[string][]string{}
			var commits []string
			for i := range 24 {
				f := files[rng.IntN(len(files))]
				lines := content[f]
				switch k := rng.IntN(8); {
				case k < 1:
					sid, tok := c.pair()
					lines = append(lines, "TWILIO_ACCOUNT_SID="+sid, "TWILIO_AUTH_TOKEN="+tok)
				case k < 3:
					sid, _ := c.pair()
					lines = append(lines, "account_sid: "+sid)
				case k < 5:
					_, tok := c.pair()
					lines = append(lines, "twilio_auth_token: "+tok)
				case k < 6 && len(lines) > 0:
					lines = lines[1:]
				default:
					lines = append(lines, "x = "+strconv.Itoa(i))
				}
				content[f] = lines
				r.write(f, strings.Join(lines, "\n")+"\n")
				commits = append(commits, r.commit("c"+strconv.Itoa(i)))
				if i == 15 {
					r.git("checkout", "-q", "-b", "side", commits[10])
				}
				if i == 19 {
					r.git("checkout", "-q", "main")
				}
			}
			r.git("merge", "-q", "-s", "ours", "--no-edit", "side")
			fps := func(res *Result) []string {
				var out []string
				for _, f := range res.Findings {
					out = append(out, f.Fingerprint)
				}
				slices.Sort(out)
				return slices.Compact(out)
			}
			want := fps(collectT(t, HistorySource{Repo: r.dir, Branch: "main"}))
			for _, x := range []int{0, 5, 12, 17} {
				cs := &cleanSet{m: map[gitdb.Hash]bool{}}
				old := collectT(t, HistorySource{Repo: r.dir, Branch: commits[x], Clean: cs.add})
				inc := collectT(t, RangeSource{Repo: r.dir, Range: gitdb.Range{Include: []string{"main"}, Exclude: []string{commits[x]}}, WholeTrees: true, KnownClean: cs.known})
				got := slices.Compact(slices.Sorted(slices.Values(append(fps(old), fps(inc)...))))
				if !slices.Equal(got, want) {
					t.Errorf("split at commit %d: %d credentials, want %d", x, len(got), len(want))
				}
			}
		})
	}
}
