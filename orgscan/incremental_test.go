package orgscan

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// TestIncrementalScans walks one repository through the rounds of an
// org scan on each backend: a full first scan, an unchanged round, new
// commits (only what they add is read), a force push and a deleted
// branch (full rescans that drop what is no longer reachable), new rules,
// and checks that no secret reaches the state.
func TestIncrementalScans(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { testIncrementalScans(t, b) })
	}
}

func testIncrementalScans(t *testing.T, b storetest.Backend) {
	ctx := context.Background()
	st, dsn := openScanStore(t, b)
	s := newRepoScanner(t, st)
	c := newFixtureCreds(t, 11)
	sidA, tokA := c.pair()
	sidB, tokB := c.pair()
	sidC, tokC := c.pair()
	sidD, tokD := c.pair()
	secrets := []string{tokA, tokB, tokC, tokD}

	f := newScanFixture(t)
	for i := range 6 {
		f.write("src/file"+string(rune('0'+i))+".go", strings.Repeat("package src // filler\n", i+1))
	}
	f.write("config/.env", envText(sidA, tokA))
	f.commit("first")
	repo := testRepo(101, "acme/app", 1)

	// Round 1: first scan, full.
	r1 := round(1)
	need, why, err := s.NeedsScan(ctx, repo)
	if err != nil || !need {
		t.Fatalf("NeedsScan before any scan = %v, %q, %v; want true", need, why, err)
	}
	res := mustScan(t, s, repo, f.sync(), r1)
	if res.Mode != ModeFull || !res.Full || len(res.Findings) != 1 || res.Findings[0].Secret.Reveal() != tokA {
		t.Fatalf("first scan: mode %s, %d findings; want full with credential A", res.Mode, len(res.Findings))
	}
	if res.Stats.Blobs != 7 || res.Stats.NewClean != 6 || res.Stats.KnownClean != 0 {
		t.Errorf("first scan stats %+v: want 7 blobs read, 6 newly clean", res.Stats)
	}
	rep := mustReport(t, st, []Repo{repo}, r1)
	if a, ok := credByIdentifier(rep, sidA); !ok || !a.New || len(rep.Creds) != 1 || rep.ExitCode() != 1 {
		t.Fatalf("round 1 report: %+v", rep.Summary)
	}

	// Round 2: nothing pushed: no scan needed.
	if need, why, err := s.NeedsScan(ctx, repo); err != nil || need {
		t.Fatalf("NeedsScan unchanged = %v, %q, %v; want false", need, why, err)
	}
	// Same tips scanned again (pushed_at moved, refs did not): nothing read.
	repo.PushedAt = repo.PushedAt.Add(time.Minute)
	if need, _, _ := s.NeedsScan(ctx, repo); !need {
		t.Fatal("NeedsScan after pushed_at moved = false")
	}
	res = mustScan(t, s, repo, f.sync(), round(2))
	if res.Mode != ModeUnchanged || res.Stats.Blobs != 0 || res.Stats.Commits != 0 || len(res.Findings) != 0 {
		t.Fatalf("unchanged tips: mode %s, stats %+v", res.Mode, res.Stats)
	}

	// Round 3: new commits: a credential and a clean file; a feature
	// branch with another credential.
	f.write("deploy/prod.env", envText(sidB, tokB))
	f.write("src/new.go", "package src // new\n")
	f.commit("second")
	f.git("checkout", "-q", "-b", "feature")
	f.write("feature/.env", envText(sidC, tokC))
	f.commit("feature")
	f.git("checkout", "-q", "main")
	repo.PushedAt = repo.PushedAt.Add(time.Hour)
	r3 := round(3)
	res = mustScan(t, s, repo, f.sync(), r3)
	if res.Mode != ModeIncremental {
		t.Fatalf("after new commits: mode %s (%s), want incremental", res.Mode, res.Reason)
	}
	// Read: the three new blobs and the one old blob with hits (pairing
	// needs it); the six clean old blobs are known.
	if res.Stats.Blobs != 4 || res.Stats.KnownClean != 6 || res.Stats.Commits != 2 {
		t.Errorf("incremental stats %+v: want 4 blobs read, 6 known clean, 2 commits", res.Stats)
	}
	if got := findingTokens(res); !slices.Equal(got, sorted(tokB, tokC)) {
		t.Errorf("incremental findings: %d, want B and C only", len(got))
	}
	rep = mustReport(t, st, []Repo{repo}, r3)
	for sid, wantNew := range map[string]bool{sidA: false, sidB: true, sidC: true} {
		cr, ok := credByIdentifier(rep, sid)
		if !ok || cr.New != wantNew || !cr.LastSeen.Equal(r3.At) {
			t.Errorf("round 3: credential %s present %v new %v last seen %v; want new %v, last seen this round", sid, ok, cr.New, cr.LastSeen, wantNew)
		}
	}
	if a, _ := credByIdentifier(rep, sidA); !a.FirstSeen.Equal(r1.At) || a.FirstRound != r1.ID {
		t.Errorf("credential A first seen %v in %s; want round 1", a.FirstSeen, a.FirstRound)
	}
	if cB, _ := credByIdentifier(rep, sidB); len(cB.Repositories) != 1 || !slices.Contains(cB.Repositories[0].Locations[0].AtTips, "main") {
		t.Errorf("credential B locations %+v; want at tip of main", cB.Repositories)
	}

	// Round 4: the feature branch is deleted: C is no longer reachable.
	f.git("branch", "-q", "-D", "feature")
	repo.PushedAt = repo.PushedAt.Add(time.Hour)
	res = mustScan(t, s, repo, f.sync(), round(4))
	if res.Mode != ModeFull || res.Stats.DroppedLocations != 1 {
		t.Errorf("after a deleted branch: mode %s (%s), dropped %d; want a full rescan dropping 1", res.Mode, res.Reason, res.Stats.DroppedLocations)
	}
	if res.Stats.Blobs != 2 {
		t.Errorf("full rescan read %d blobs; want only the 2 with hits (the rest known clean)", res.Stats.Blobs)
	}
	rep = mustReport(t, st, []Repo{repo}, round(4))
	if _, ok := credByIdentifier(rep, sidC); ok {
		t.Error("credential C of a deleted branch is still reported")
	}
	if _, ok := credByIdentifier(rep, sidB); !ok {
		t.Error("credential B lost by a full rescan")
	}

	// Round 5: force push: main rewound to before B, with a new commit.
	first := f.git("rev-list", "--max-parents=0", "HEAD")
	f.git("reset", "-q", "--hard", first)
	f.write("config/.env", "DEBUG=true\n")
	f.write("other/.env", envText(sidD, tokD))
	f.commit("rewritten")
	repo.PushedAt = repo.PushedAt.Add(time.Hour)
	res = mustScan(t, s, repo, f.sync(), round(5))
	if res.Mode != ModeFull {
		t.Errorf("after a force push: mode %s (%s), want full", res.Mode, res.Reason)
	}
	rep = mustReport(t, st, []Repo{repo}, round(5))
	if _, ok := credByIdentifier(rep, sidB); ok {
		t.Error("credential B only reachable from the old tip is still reported")
	}
	if a, ok := credByIdentifier(rep, sidA); !ok || len(a.Repositories[0].Locations[0].AtTips) != 0 {
		t.Errorf("credential A (in history, removed at the tip): present %v, %+v", ok, a.Repositories)
	}
	if _, ok := credByIdentifier(rep, sidD); !ok {
		t.Error("credential D of the new commit is missing")
	}

	// Round 6: new rules: a full rescan that knows no clean blob.
	s.RulesHash = "rules-v2"
	if need, why, _ := s.NeedsScan(ctx, repo); !need || why != "rules changed" {
		t.Errorf("NeedsScan with new rules = %v, %q", need, why)
	}
	res = mustScan(t, s, repo, f.sync(), round(6))
	if res.Mode != ModeFull || res.Reason != "rules changed" || res.Stats.KnownClean != 0 || res.Stats.Blobs < 8 {
		t.Errorf("new rules: mode %s (%s), stats %+v; want a full rescan reading everything", res.Mode, res.Reason, res.Stats)
	}

	// The blobs known clean under the old rules go.
	pruned, err := s.PruneCleanBlobs(ctx)
	if err != nil || pruned < 7 {
		t.Errorf("PruneCleanBlobs = %d, %v; want the old rules' clean blobs", pruned, err)
	}
	if pruned, err := s.PruneCleanBlobs(ctx); err != nil || pruned != 0 {
		t.Errorf("second PruneCleanBlobs = %d, %v", pruned, err)
	}
	// A new branch at a commit already scanned reads no commit, only the
	// blobs with hits, to learn which credentials the new tip holds.
	f.git("branch", "release")
	repo.PushedAt = repo.PushedAt.Add(time.Hour)
	res = mustScan(t, s, repo, f.sync(), round(7))
	if res.Mode != ModeIncremental || res.Stats.Commits != 0 || res.Stats.KnownClean == 0 {
		t.Errorf("new branch at a scanned commit: mode %s (%s), stats %+v", res.Mode, res.Reason, res.Stats)
	}
	rep = mustReport(t, st, []Repo{repo}, round(7))
	if d, _ := credByIdentifier(rep, sidD); !slices.Equal(d.Repositories[0].Locations[0].AtTips, []string{"main", "release"}) {
		t.Errorf("credential D at tips %v; want main and release", d.Repositories[0].Locations[0].AtTips)
	}

	// No secret anywhere in the state.
	dump := storetest.Dump(t, dsn)
	for _, sec := range secrets {
		if bytes.Contains(dump, []byte(sec)) {
			t.Fatalf("the state holds a secret")
		}
	}
	if !bytes.Contains(dump, []byte(sidA)) {
		t.Error("the dump does not hold identifier A: is it dumping the org scan's tables?")
	}
}

func findingTokens(res RepoResult) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Secret.Reveal())
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestForkSharesScannedBlobs: a fork costs only its own new blobs and the
// blobs with hits, yet its report names the credential it inherited.
func TestForkSharesScannedBlobs(t *testing.T) {
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	s := newRepoScanner(t, st)
	c := newFixtureCreds(t, 12)
	sid, tok := c.pair()
	parent := newScanFixture(t)
	for i := range 20 {
		parent.write("lib/f"+string(rune('a'+i))+".txt", strings.Repeat("line\n", i+1))
	}
	parent.write(".env", envText(sid, tok))
	parent.commit("with a credential")
	parent.remove(".env")
	parent.commit("removed the credential")
	// A tag, and a branch of the same name elsewhere.
	parent.git("tag", "-a", "-m", "release", "v1", "HEAD~1")
	parent.git("branch", "v1", "HEAD")
	fork := cloneFixture(t, parent)
	fork.write("fork.txt", "fork only\n")
	fork.commit("fork change")
	fork.git("branch", "v1", "HEAD~2") // beside the tag v1: named refs/heads/v1

	rd := round(1)
	up := testRepo(1, "acme/upstream", 1)
	fk := testRepo(2, "acme/fork", 1)
	fk.Fork = true
	res := mustScan(t, s, up, parent.sync(), rd)
	if res.Stats.Blobs != 21 {
		t.Fatalf("parent read %d blobs, want 21", res.Stats.Blobs)
	}
	res = mustScan(t, s, fk, fork.sync(), rd)
	if res.Stats.Blobs != 2 || res.Stats.KnownClean != 20 {
		t.Errorf("fork stats %+v: want 2 blobs read (its own and the one with hits), 20 known clean", res.Stats)
	}
	rep := mustReport(t, st, []Repo{up, fk}, rd)
	cr, ok := credByIdentifier(rep, sid)
	for _, r := range cr.Repositories {
		want := []string{}
		if r.FullName == "acme/fork" {
			want = []string{"v1"}
		}
		if got := r.Locations[0].AtTips; !slices.Equal(got, want) {
			t.Errorf("%s: credential at tips %v; want %v (a tag is no branch tip)", r.FullName, got, want)
		}
	}
	if !ok || !slices.Equal(repoNames(cr), []string{"acme/fork", "acme/upstream"}) {
		t.Fatalf("inherited credential in %v; want both repositories", repoNames(cr))
	}
	if len(rep.Creds) != 1 {
		t.Errorf("%d credentials; want one entry for one credential", len(rep.Creds))
	}
	dir := t.TempDir()
	files, err := rep.WriteSARIF(dir, reportOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files["acme/fork"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(cr.Fingerprint)) || !bytes.Contains(b, []byte(sid)) {
		t.Error("the fork's SARIF does not name the inherited credential")
	}
}

// TestRenamedRepoKeepsFindings: a rename or transfer keeps the id, so the
// findings stay and the report uses the new name; nothing is rescanned.
func TestRenamedRepoKeepsFindings(t *testing.T) {
	ctx := context.Background()
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	s := newRepoScanner(t, st)
	c := newFixtureCreds(t, 13)
	sid, tok := c.pair()
	f := newScanFixture(t)
	f.write("a.env", envText(sid, tok))
	f.commit("one")
	old := testRepo(7, "acme/old-name", 1)
	mustScan(t, s, old, f.sync(), round(1))
	renamed := testRepo(7, "other-org/new-name", 1)
	if need, why, _ := s.NeedsScan(ctx, renamed); need {
		t.Errorf("NeedsScan after a rename = true (%s)", why)
	}
	rep := mustReport(t, st, []Repo{renamed}, round(2))
	cr, ok := credByIdentifier(rep, sid)
	if !ok || !slices.Equal(repoNames(cr), []string{"other-org/new-name"}) || cr.New {
		t.Fatalf("renamed repository's credential: %v in %v", ok, repoNames(cr))
	}
	var name string
	if err := st.Tx(ctx, func(tx state.Tx) error {
		return tx.QueryRow(ctx, `SELECT full_name FROM orgscan_repos WHERE id = ?`, 7).Scan(&name)
	}); err != nil || name != "other-org/new-name" {
		t.Errorf("stored name %q, %v", name, err)
	}
	// A repository no longer listed drops out of the report.
	if rep := mustReport(t, st, nil, round(3)); len(rep.Creds) != 0 {
		t.Errorf("unlisted repository's credentials reported: %d", len(rep.Creds))
	}
}

// TestFailuresAndEmptyRepos: a repository that cannot be read is
// recorded, reported with its reason, exit 2, and scanned again next
// round; an empty repository is no error.
func TestFailuresAndEmptyRepos(t *testing.T) {
	ctx := context.Background()
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	s := newRepoScanner(t, st)
	empty := filepath.Join(t.TempDir(), "empty.git")
	fixtureGit(t, t.TempDir(), 0, "init", "-q", "--bare", empty)
	er := testRepo(1, "acme/empty", 1)
	res := mustScan(t, s, er, empty, round(1))
	if res.Mode != ModeEmpty || len(res.Findings) != 0 {
		t.Errorf("empty repository: mode %s, %d findings", res.Mode, len(res.Findings))
	}
	broken := testRepo(2, "acme/broken", 1)
	_, err := s.ScanRepo(ctx, broken, filepath.Join(t.TempDir(), "missing.git"), round(1))
	var re *RepoError
	if !errors.As(err, &re) || re.Repo != "acme/broken" {
		t.Fatalf("scan of a missing mirror: %v; want a *RepoError", err)
	}
	fetchFailed := testRepo(3, "acme/unfetched", 1)
	if err := s.RecordFailure(ctx, fetchFailed, round(1), "fetch: remote hung up"); err != nil {
		t.Fatal(err)
	}
	never := testRepo(4, "acme/never", 1)
	rep := mustReport(t, st, []Repo{er, broken, fetchFailed, never}, round(1))
	if rep.ExitCode() != 2 || len(rep.Failed) != 3 {
		t.Fatalf("report: exit %d, failed %+v; want exit 2 and 3 failures", rep.ExitCode(), rep.Failed)
	}
	reasons := map[string]string{}
	for _, f := range rep.Failed {
		reasons[f.FullName] = f.Reason
	}
	if !strings.Contains(reasons["acme/broken"], "open mirror") || reasons["acme/unfetched"] != "fetch: remote hung up" || reasons["acme/never"] != "not scanned" {
		t.Errorf("failure reasons %v", reasons)
	}
	for _, r := range []Repo{broken, fetchFailed} {
		if need, why, _ := s.NeedsScan(ctx, r); !need || !strings.Contains(why, "error") {
			t.Errorf("NeedsScan of failed %s = %v, %q", r.FullName, need, why)
		}
	}
	// A mirror whose objects are missing is a failure, not a clean scan.
	f := newScanFixture(t)
	f.write("a.txt", "hello\n")
	f.commit("one")
	mirror := f.sync()
	fixtureGit(t, mirror, 0, "repack", "-q", "-a", "-d")
	packs, _ := filepath.Glob(filepath.Join(mirror, "objects", "pack", "*"))
	for _, p := range packs {
		os.Remove(p)
	}
	if _, err := s.ScanRepo(ctx, testRepo(5, "acme/corrupt", 1), mirror, round(1)); err == nil {
		t.Error("a mirror without its objects scanned clean")
	}
}

// TestForkBeforeParentReadsInOnePass: a fork scanned before its parent
// knows few blobs clean; past MaxPointReads it reads its object database
// in one pass instead of blob by blob, and finds the same.
func TestForkBeforeParentReadsInOnePass(t *testing.T) {
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	s := newRepoScanner(t, st)
	s.MaxPointReads = 3
	c := newFixtureCreds(t, 15)
	sid, tok := c.pair()
	f := newScanFixture(t)
	for i := range 10 {
		f.write("f"+string(rune('a'+i)), strings.Repeat("x\n", i+1))
	}
	f.write(".env", envText(sid, tok))
	f.commit("one")
	fk := testRepo(9, "acme/fork", 1)
	fk.Fork = true
	res := mustScan(t, s, fk, f.sync(), round(1))
	if res.Mode != ModeFull || !strings.Contains(res.Reason, "one pass") || res.Stats.Blobs != 11 || len(res.Findings) != 1 {
		t.Errorf("fork before parent: mode %s (%s), stats %+v, %d findings", res.Mode, res.Reason, res.Stats, len(res.Findings))
	}
	// Below the bound, point reads: everything is known clean now.
	f.write("fz", "new\n")
	f.commit("two")
	fk.PushedAt = fk.PushedAt.Add(time.Hour)
	res = mustScan(t, s, fk, f.sync(), round(2))
	if res.Mode != ModeIncremental || res.Stats.Blobs != 2 {
		t.Errorf("after a push: mode %s (%s), stats %+v; want incremental reading 2 blobs", res.Mode, res.Reason, res.Stats)
	}
}

// TestConcurrentScansShareState: workers scanning forks of one
// repository at once, sharing credentials and clean blobs, neither
// deadlock nor lose a location.
func TestConcurrentScansShareState(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := openScanStore(t, b)
			s := newRepoScanner(t, st)
			c := newFixtureCreds(t, 16)
			sid1, tok1 := c.pair()
			sid2, tok2 := c.pair()
			parent := newScanFixture(t)
			for i := range 8 {
				parent.write("p"+string(rune('a'+i)), strings.Repeat("y\n", i+1))
			}
			parent.write("one.env", envText(sid1, tok1))
			parent.write("two.env", envText(sid2, tok2))
			parent.commit("parent")
			repos := []Repo{testRepo(100, "acme/parent", 1)}
			mirrors := []string{parent.sync()}
			for i := range 5 {
				fk := cloneFixture(t, parent)
				fk.write("own.txt", "fork "+string(rune('a'+i))+"\n")
				fk.commit("fork")
				r := testRepo(int64(101+i), "acme/fork-"+string(rune('a'+i)), 1)
				r.Fork = true
				repos, mirrors = append(repos, r), append(mirrors, fk.sync())
			}
			p := pool.New().WithErrors().WithMaxGoroutines(3)
			for i := range repos {
				p.Go(func() error {
					_, err := s.ScanRepo(t.Context(), repos[i], mirrors[i], round(1))
					return err
				})
			}
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			rep := mustReport(t, st, repos, round(1))
			if len(rep.Creds) != 2 || rep.Summary.Failed != 0 {
				t.Fatalf("report: %+v", rep.Summary)
			}
			for _, cr := range rep.Creds {
				if len(cr.Repositories) != 6 {
					t.Errorf("credential %s in %d repositories, want 6", cr.Identifier, len(cr.Repositories))
				}
			}
		})
	}
}

// TestPublishedExamplesAndFilter: Twilio's published example credentials
// and what Filter drops are neither recorded nor reported.
func TestPublishedExamplesAndFilter(t *testing.T) {
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	c := newFixtureCreds(t, 17)
	sid1, tok1 := c.pair()
	sid2, tok2 := c.pair()
	sid3, tok3 := c.pair()
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	if set.Published == nil {
		set.Published = map[string]bool{}
	}
	set.Published[rules.ExampleFingerprint(tok1)] = true
	det, err := scanner.NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	s := &RepoScanner{Store: st, Detector: det, RulesHash: "r", Filter: func(fs []scanner.Finding) []scanner.Finding {
		return slices.DeleteFunc(fs, func(f scanner.Finding) bool { return f.Identifier == sid2 })
	}}
	f := newScanFixture(t)
	f.write("a.env", envText(sid1, tok1))
	f.write("b.env", envText(sid2, tok2))
	f.write("c.env", envText(sid3, tok3))
	f.commit("three")
	r := testRepo(1, "acme/x", 1)
	res := mustScan(t, s, r, f.sync(), round(1))
	if res.PublishedExamples != 1 || len(res.Findings) != 1 || res.Findings[0].Identifier != sid3 {
		t.Fatalf("published %d, findings %d; want 1 published left out, 1 filtered, 1 kept", res.PublishedExamples, len(res.Findings))
	}
	rep := mustReport(t, st, []Repo{r}, round(1))
	if len(rep.Creds) != 1 || rep.Creds[0].Identifier != sid3 {
		t.Errorf("report holds %d credentials", len(rep.Creds))
	}
}
