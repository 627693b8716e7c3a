package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// envFile is a .env file holding a credential.
func envFile(sid, tok string) string {
	return "TWILIO_ACCOUNT_SID=" + sid + "\nTWILIO_AUTH_TOKEN=" + tok + "\n"
}

// orgLeaks are the credentials planted in an orgWorld, by what they test.
type orgLeaks struct {
	shared, forkOnly, branch, deleted [2]string // SID, token
}

// plantOrg fills w with 60 clean repositories (some holding placeholders)
// and the planted leaks: one in two repositories, one only in a fork, one
// on a branch that is not the default, one deleted by a later commit; and
// an archived, an empty and a broken repository.
func plantOrg(t *testing.T, w *orgWorld) orgLeaks {
	t.Helper()
	cred := func() [2]string { return [2]string{"AC" + randHex(16), randHex(16)} }
	l := orgLeaks{shared: cred(), forkOnly: cred(), branch: cred(), deleted: cred()}
	for i := range 60 {
		files := map[string]string{"README.md": fmt.Sprintf("# service %d\n", i), "main.go": fmt.Sprintf("package main\n\nfunc main() { println(%d) }\n", i)}
		if i%10 == 3 {
			// Placeholders, as documentation shows them: never findings.
			files[".env.example"] = envFile("AC"+strings.Repeat("x", 32), "your_auth_token")
			files["docs/setup.md"] = "export TWILIO_ACCOUNT_SID=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nexport TWILIO_AUTH_TOKEN=" + strings.Repeat("0", 32) + "\n"
		}
		w.addRepo(fmt.Sprintf("svc-%02d", i), githubtest.OrgRepo{Private: i%2 == 0}, files, map[string]string{"CHANGELOG.md": "v1\n"})
	}
	w.addRepo("pay-api", githubtest.OrgRepo{}, map[string]string{"README.md": "pay\n"}, map[string]string{"config/prod.env": envFile(l.shared[0], l.shared[1])})
	w.addRepo("pay-worker", githubtest.OrgRepo{}, map[string]string{"deploy/worker.env": envFile(l.shared[0], l.shared[1])})
	w.addRepo("sdk", githubtest.OrgRepo{}, map[string]string{"sdk.go": "package sdk\n"})
	w.fork("sdk", "sdk-fork", map[string]string{"examples/run.env": envFile(l.forkOnly[0], l.forkOnly[1])})
	w.addRepo("infra", githubtest.OrgRepo{}, map[string]string{"main.tf": "# infra\n"})
	w.gitIn(w.work["infra"], "checkout", "-q", "-b", "feature/sms")
	w.commit("infra", map[string]string{"sms.env": envFile(l.branch[0], l.branch[1])})
	w.gitIn(w.work["infra"], "checkout", "-q", "main")
	w.push("infra")
	w.addRepo("legacy", githubtest.OrgRepo{}, map[string]string{"app.env": envFile(l.deleted[0], l.deleted[1])}, map[string]string{"app.env": ""})
	w.addRepo("old-site", githubtest.OrgRepo{Archived: true}, map[string]string{"index.html": "<h1>old</h1>\n"})
	w.git.InitBare(w.org, "empty")
	w.gh.AddOrgRepo(w.org, githubtest.OrgRepo{Name: "empty", SizeKB: 0, PushedAt: w.tick()})
	// broken: its refs are advertised, its objects are gone.
	w.addRepo("broken", githubtest.OrgRepo{}, map[string]string{"a.txt": "a\n"})
	packs, _ := filepath.Glob(filepath.Join(w.git.Path(w.org, "broken"), "objects", "pack", "*"))
	loose, _ := filepath.Glob(filepath.Join(w.git.Path(w.org, "broken"), "objects", "??"))
	for _, p := range append(packs, loose...) {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// The organisation is listed over several pages with a rate limit in the
// middle; every planted leak is found, placeholders are not, the broken
// repository is named and fails the run (exit 2) while the others are
// reported; a second run transfers no pack data and reports the same
// credentials, none new; after a push only that repository is fetched.
func TestOrgScan(t *testing.T) {
	bin := leakstopBinary(t)
	w := newOrgWorld(t, bin, "acme")
	l := plantOrg(t, w)
	w.gh.ForcePageSize(25)
	// Rate limits in the middle of the listing: the primary one on page
	// 2 (wait for X-RateLimit-Reset), a secondary one on page 3 (wait for
	// Retry-After).
	var injected sync.Map
	w.gh.OnRequest(func(r githubtest.Request) {
		if !strings.HasSuffix(r.Path, "/repos") {
			return
		}
		q, _ := url.ParseQuery(r.RawQuery)
		switch p := q.Get("page"); {
		case p == "2" && !loaded(&injected, p):
			w.gh.InjectFault(githubtest.Fault{Kind: githubtest.PrimaryRateLimit, Path: r.Path, ResetIn: 1500 * time.Millisecond})
		case p == "3" && !loaded(&injected, p):
			w.gh.InjectFault(githubtest.Fault{Kind: githubtest.SecondaryRateLimit, Path: r.Path, RetryAfter: time.Second})
		}
	})

	code, out, stderr := w.run("--format", "json")
	if code != exitError {
		t.Fatalf("first run: exit %d, want %d (the broken repository)\n%s", code, exitError, stderr)
	}
	if !strings.Contains(stderr, "acme/broken") {
		t.Errorf("the broken repository is not named on stderr:\n%s", stderr)
	}
	for _, s := range []string{w.gh.Token(), l.shared[1], l.forkOnly[1]} {
		if strings.Contains(out+stderr, s) {
			t.Fatalf("a secret or the GitHub token is in leakstop's output")
		}
	}
	r := readOrgReport(t, out)
	want := map[string][]string{
		l.shared[0]:   {"acme/pay-api", "acme/pay-worker"},
		l.forkOnly[0]: {"acme/sdk-fork"},
		l.branch[0]:   {"acme/infra"},
		l.deleted[0]:  {"acme/legacy"},
	}
	got := r.reposOf()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("credentials by repository:\n got %v\nwant %v", got, want)
	}
	for _, c := range r.Credentials {
		if !c.New {
			t.Errorf("credential %s not new on the first run", c.Identifier)
		}
	}
	if len(r.Failed) != 1 || r.Failed[0].Repo != "acme/broken" {
		t.Errorf("failed repositories: %+v, want acme/broken", r.Failed)
	}
	if _, ok := injected.Load("3"); !ok || w.gh.PendingFaults() != 0 {
		t.Errorf("the listing did not go through the rate limits on pages 2 and 3")
	}
	fetched := w.git.FetchedRepos()
	if len(fetched) < 60 {
		t.Errorf("only %d repositories fetched on the first run", len(fetched))
	}

	// Second run: nothing pushed; no pack negotiation but for the broken
	// repository, retried; same credentials, none new.
	w.git.ClearRequests()
	code, out, stderr = w.run("--format", "json")
	if code != exitError {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	if f := w.git.FetchedRepos(); !slices.Equal(f, []string{"acme/broken"}) {
		t.Errorf("second run fetched %v, want only the broken repository (retried)", f)
	}
	for _, rq := range w.git.Requests() {
		if rq.IsFetch() && rq.Repo != "acme/broken" {
			t.Errorf("second run: pack negotiation for %s", rq.Repo)
		}
	}
	r2 := readOrgReport(t, out)
	if fmt.Sprint(r2.reposOf()) != fmt.Sprint(want) {
		t.Errorf("second run: credentials by repository:\n got %v\nwant %v", r2.reposOf(), want)
	}
	for _, c := range r2.Credentials {
		if c.New {
			t.Errorf("credential %s new again on the second run", c.Identifier)
		}
	}

	// A push to one repository: only it is fetched, and what it adds is
	// found. The broken repository is mended and scanned.
	w.git.ClearRequests()
	added := [2]string{"AC" + randHex(16), randHex(16)}
	w.commit("svc-07", map[string]string{"ops/new.env": envFile(added[0], added[1])})
	w.push("svc-07")
	if err := os.RemoveAll(w.git.Path(w.org, "broken")); err != nil {
		t.Fatal(err)
	}
	w.git.AddBare(w.org, "broken", w.work["broken"])
	w.gh.SetPushedAt(w.org, "broken", w.tick())
	code, out, stderr = w.run("--format", "json")
	if code != exitFindings {
		t.Fatalf("third run: exit %d, want %d\n%s", code, exitFindings, stderr)
	}
	if f := w.git.FetchedRepos(); !slices.Equal(f, []string{"acme/broken", "acme/svc-07"}) {
		t.Errorf("third run fetched %v, want acme/broken and acme/svc-07", f)
	}
	r3 := readOrgReport(t, out)
	want[added[0]] = []string{"acme/svc-07"}
	if fmt.Sprint(r3.reposOf()) != fmt.Sprint(want) {
		t.Errorf("third run: credentials by repository:\n got %v\nwant %v", r3.reposOf(), want)
	}
	for _, c := range r3.Credentials {
		if c.New != (c.Identifier == added[0]) {
			t.Errorf("third run: credential %s new=%v", c.Identifier, c.New)
		}
	}
	// The text summary and SARIF (one file per repository) of the same
	// state: nothing fetched again.
	w.git.ClearRequests()
	code, out, stderr = w.run("--format", "text")
	if code != exitFindings || !strings.Contains(out, "acme/pay-worker") || !strings.Contains(out, "acme/sdk-fork") {
		t.Errorf("text report: exit %d\n%s\n%s", code, out, stderr)
	}
	sarifDir := filepath.Join(w.dir, "sarif")
	if code, _, stderr = w.run("--format", "sarif", "--output", sarifDir); code != exitFindings {
		t.Errorf("sarif report: exit %d\n%s", code, stderr)
	}
	for name, want := range map[string]int{"pay-api": 1, "sdk-fork": 1, "sdk": 0, "svc-03": 0} {
		b, err := os.ReadFile(filepath.Join(sarifDir, "acme", name+".sarif"))
		if err != nil {
			t.Errorf("sarif for %s: %v", name, err)
			continue
		}
		var doc struct {
			Runs []struct {
				Results []json.RawMessage `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != want {
			t.Errorf("sarif for %s: %d run(s), want 1 with %d result(s) (%v)", name, len(doc.Runs), want, err)
		}
	}
	if f := w.git.FetchedRepos(); len(f) != 0 {
		t.Errorf("report-only runs fetched %v", f)
	}
	for _, s := range []string{l.shared[1], l.forkOnly[1], l.branch[1], l.deleted[1], added[1]} {
		if strings.Contains(out, s) {
			t.Error("a secret is in the text report")
		}
	}
	// The token is nowhere at rest.
	assertNoTokenAtRest(t, w)
}

// loaded reports whether key was in m, storing it.
func loaded(m *sync.Map, key string) bool {
	_, ok := m.LoadOrStore(key, true)
	return ok
}

// assertNoTokenAtRest looks for the GitHub token in every file leakstop
// wrote: the cache (mirrors' config and refs), the state, the home
// directory.
func assertNoTokenAtRest(t *testing.T, w *orgWorld) {
	t.Helper()
	tok := []byte(w.gh.Token())
	for _, root := range []string{w.cache, filepath.Dir(w.state), w.home} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(b), string(tok)) {
				t.Errorf("the GitHub token is stored in %s", p)
			}
			return nil
		})
	}
}
