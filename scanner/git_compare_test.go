package scanner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestGitMatchesDirScanOfEachCommit builds random histories (edits,
// branches, merges, deletions, credentials in one file or split across
// two) and checks that ScanGit with AllLocations finds, for every commit,
// exactly what ScanDir finds in a checkout of that commit.
func TestGitMatchesDirScanOfEachCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { compareWithDirScans(t, seed) })
	}
}

func compareWithDirScans(t *testing.T, seed uint64) {
	r := newTestRepo(t)
	c := newCreds(t, 100+seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	files := []string{"a.py", "b/c.env", "b/d.yaml", "e/f/g.js", "h.txt"}
	content := map[string][]string{}
	line := func() string {
		return fmt.Sprintf("value_%d = compute(%d)", rng.IntN(1000), rng.IntN(1000))
	}
	mutate := func() {
		f := files[rng.IntN(len(files))]
		lines := content[f]
		switch k := rng.IntN(10); {
		case k < 2: // a whole credential
			sid, tok := c.pair()
			lines = append(lines, "TWILIO_ACCOUNT_SID="+sid, "TWILIO_AUTH_TOKEN="+tok)
		case k < 3: // an identifier alone
			sid, _ := c.pair()
			lines = append(lines, "account_sid: "+sid)
		case k < 4: // a secret alone, to pair across files
			_, tok := c.pair()
			lines = append(lines, "twilio_auth_token: "+tok)
		case k < 5 && len(lines) > 0:
			i := rng.IntN(len(lines))
			lines = append(lines[:i:i], lines[i+1:]...)
		case k < 6:
			lines = nil
		default:
			i := rng.IntN(len(lines) + 1)
			lines = slices.Insert(slices.Clone(lines), i, line())
		}
		content[f] = lines
		if len(lines) == 0 {
			if _, err := os.Stat(r.dir + "/" + f); err == nil {
				r.remove(f)
			}
			return
		}
		r.write(f, strings.Join(lines, "\n")+"\n")
	}
	snapshot := func() map[string][]string {
		m := map[string][]string{}
		for k, v := range content {
			m[k] = slices.Clone(v)
		}
		return m
	}
	restore := func(m map[string][]string) {
		for _, f := range files {
			if _, err := os.Stat(r.dir + "/" + f); err == nil {
				r.remove(f)
			}
		}
		content = m
		for f, lines := range m {
			if len(lines) > 0 {
				r.write(f, strings.Join(lines, "\n")+"\n")
			}
		}
	}
	mutate()
	r.commit("start")
	for i := range 24 {
		if i%8 == 5 {
			// A branch with two commits, merged with a change of its own.
			base := snapshot()
			r.git("checkout", "-q", "-b", fmt.Sprint("topic", i))
			mutate()
			r.commit("topic 1")
			mutate()
			r.commit("topic 2")
			topic := snapshot()
			r.git("checkout", "-q", "main")
			restore(base)
			mutate()
			r.commit("main moves")
			r.n++
			if _, err := gitCmd(r.dir, r.n, "merge", "-q", "--no-commit", "-s", "ours", fmt.Sprint("topic", i)); err != nil {
				t.Fatal(err)
			}
			merged := snapshot()
			for f, v := range topic {
				if rng.IntN(2) == 0 {
					merged[f] = v
				}
			}
			restore(merged)
			mutate() // content of the merge itself
			r.commit("merge")
			continue
		}
		mutate()
		r.commit(fmt.Sprint("change ", i))
	}

	res := scanGitT(t, r.dir, GitOptions{AllLocations: true})
	type loc struct {
		fp, path string
		line     int
	}
	got := map[string][]loc{}
	for _, f := range res.Findings {
		for _, l := range f.Locations {
			got[l.Commit.Hash] = append(got[l.Commit.Hash], loc{f.Fingerprint, l.Path, l.Line})
		}
	}
	commits := strings.Fields(r.git("rev-list", "--all"))
	if int64(len(commits)) != res.Stats.Commits {
		t.Errorf("ScanGit walked %d commits, rev-list has %d", res.Stats.Commits, len(commits))
	}
	d := gitTestDetector(t)
	total := 0
	for _, ch := range commits {
		dir := t.TempDir()
		cmd := exec.Command("sh", "-c", "git archive "+ch+" | tar -x -C "+dir)
		cmd.Dir = r.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("archive: %v %s", err, out)
		}
		dres, err := ScanDir(context.Background(), d, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var want []loc
		for _, f := range dres.Findings {
			for _, l := range f.Locations {
				want = append(want, loc{f.Fingerprint, l.Path, l.Line})
			}
		}
		cmp := func(a, b loc) int {
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		}
		slices.SortFunc(want, cmp)
		g := got[ch]
		slices.SortFunc(g, cmp)
		total += len(want)
		if !slices.Equal(g, want) {
			t.Errorf("commit %s: git scan %v, dir scan %v", ch[:10], g, want)
		}
	}
	if total == 0 {
		t.Error("no credentials in any commit: the test proves nothing")
	}

	// Without AllLocations each (credential, path) appears once, at the
	// earliest commit holding it there.
	res1 := scanGitT(t, r.dir, GitOptions{})
	n1 := 0
	for _, f := range res1.Findings {
		n1 += len(f.Locations)
	}
	if len(res1.Findings) != len(res.Findings) || n1 == 0 {
		t.Errorf("default scan: %d findings, all-locations scan %d", len(res1.Findings), len(res.Findings))
	}
}
