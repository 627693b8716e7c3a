package ghaction

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// The findings of a pull request are placed in its head version, and what
// its base commit already holds is a notice. These tests run the action
// as the runner does on a pull_request event: the origin is served over
// smart HTTP by git's own http-backend, and the workspace is what
// actions/checkout makes of refs/pull/N/merge (one merge commit, depth 1).

// serveOrigin serves the world's origin over HTTP with git http-backend
// and returns its URL.
func (w *world) serveOrigin() string {
	w.t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		w.t.Skip("git is not installed")
	}
	execPath := gitIn(w.t, w.dev, "--exec-path")
	if _, err := os.Stat(filepath.Join(execPath, "git-http-backend")); err != nil {
		w.t.Skip("git http-backend is not installed")
	}
	h := &cgi.Handler{
		Path: git, Args: []string{"http-backend"}, Root: "/",
		Env:        []string{"GIT_PROJECT_ROOT=" + filepath.Dir(w.origin), "GIT_HTTP_EXPORT_ALL=1"},
		InheritEnv: []string{"PATH", "HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_NOSYSTEM"},
	}
	srv := httptest.NewServer(h)
	w.t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(w.origin)
}

// mergePR is a pull request of the world's feature branch into main, with
// GitHub's merge commit.
type mergePR struct {
	*world
	number          int
	base, head, sha string // base.sha, head.sha, GITHUB_SHA (the merge commit)
	commits         int
	url             string
}

// openPR pushes main and feature (checked out in dev) as pull request
// number, makes GitHub's merge commit refs/pull/N/merge, and checks it
// out in the workspace as actions/checkout does.
func (w *world) openPR(number, commits int, diff map[string]githubtest.DiffLines) *mergePR {
	w.t.Helper()
	p := &mergePR{world: w, number: number, commits: commits}
	p.head = gitIn(w.t, w.dev, "rev-parse", "feature")
	p.base = gitIn(w.t, w.dev, "rev-parse", "main")
	gitIn(w.t, w.dev, "checkout", "-q", "--detach", "main")
	gitIn(w.t, w.dev, "merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge %s into %s", p.head, p.base), "feature")
	p.sha = gitIn(w.t, w.dev, "rev-parse", "HEAD")
	gitIn(w.t, w.dev, "checkout", "-q", "feature")
	n := fmt.Sprint(number)
	w.push("main", "feature", "feature:refs/pull/"+n+"/head", p.sha+":refs/pull/"+n+"/merge")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: number, HeadSHA: p.head, BaseSHA: p.base, Diff: diff})
	p.url = w.serveOrigin()

	// actions/checkout@v4 on pull_request: the merge commit alone.
	os.RemoveAll(w.ws)
	if err := os.MkdirAll(w.ws, 0o755); err != nil {
		w.t.Fatal(err)
	}
	gitIn(w.t, w.ws, "init", "-q")
	gitIn(w.t, w.ws, "remote", "add", "origin", p.url)
	gitIn(w.t, w.ws, "-c", "protocol.version=2", "fetch", "--no-tags", "--prune", "--no-recurse-submodules", "--depth=1", "origin",
		"+"+p.sha+":refs/remotes/pull/"+n+"/merge")
	gitIn(w.t, w.ws, "checkout", "-q", "--force", "refs/remotes/pull/"+n+"/merge")
	if sh := gitIn(w.t, w.ws, "rev-parse", "--is-shallow-repository"); sh != "true" {
		w.t.Fatal("the checkout is not shallow")
	}
	return p
}

func (p *mergePR) env() map[string]string {
	env := p.event("pull_request", map[string]any{
		"action": "synchronize", "number": p.number,
		"pull_request": map[string]any{
			"number": p.number, "commits": p.commits,
			"head": map[string]any{"sha": p.head, "ref": "feature"},
			"base": map[string]any{"sha": p.base, "ref": "main"},
		},
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"},
	})
	env["GITHUB_SHA"] = p.sha
	env["GITHUB_REF"] = "refs/pull/" + fmt.Sprint(p.number) + "/merge"
	return env
}

// jsonReport is the part of the JSON report these tests read.
type jsonReport struct {
	Findings []struct {
		Fingerprint string `json:"fingerprint"`
		Level       string `json:"level"`
		Remark      string `json:"remark"`
		Locations   []struct {
			Path   string `json:"path"`
			Line   int    `json:"line"`
			Commit *struct {
				Hash string `json:"hash"`
			} `json:"commit"`
		} `json:"locations"`
	} `json:"findings"`
}

func readJSONReport(t *testing.T, path string) jsonReport {
	t.Helper()
	var doc jsonReport
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	return doc
}

// sarifResult is the part of a SARIF result these tests read.
type sarifResult struct {
	Level     string `json:"level"`
	Locations []struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	Properties map[string]any `json:"properties"`
}

func readSARIF(t *testing.T, path string) []sarifResult {
	t.Helper()
	var doc struct {
		Runs []struct {
			Results []sarifResult `json:"results"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil || len(doc.Runs) != 1 {
		t.Fatalf("SARIF: %v", err)
	}
	return doc.Runs[0].Results
}

func lines(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func span(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestPRMovedLine: C2 puts the token on line 7 of config.env, C3 inserts
// three lines above it. Every output places it on line 10, where the head
// version holds it, and names C2, the commit of the pull request that
// introduced it; the review comment is on line 10 of the head commit.
func TestPRMovedLine(t *testing.T) {
	w := newWorld(t)
	leak := newCred(t)
	writeFile(t, w.dev, "README.md", "# app\n")
	commitAll(t, w.dev, "base")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "app.py", "print('hi')\n")
	commitAll(t, w.dev, "C1")
	// Lines 1-5, the SID on 6, the token on 7, then 8-10.
	body := lines("setting", 5) + leak.env() + lines("more", 3)
	writeFile(t, w.dev, "config.env", body)
	c2 := commitAll(t, w.dev, "C2: the leak on line 7")
	writeFile(t, w.dev, "config.env", "# header\n# header\n# header\n"+body)
	commitAll(t, w.dev, "C3: three lines above it")
	p := w.openPR(11, 3, map[string]githubtest.DiffLines{"app.py": {Right: []int{1}}, "config.env": {Right: span(1, 13)}})

	_, err := w.run(p.env())
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\n%s\n%s", err, w.stdout.String(), w.stderr.String())
	}
	stdout := w.stdout.String()
	if !strings.Contains(stdout, "::error file=config.env,line=10,col=19,title=Leaked Twilio Auth Token::") ||
		!strings.Contains(stdout, "added in commit "+short(c2)) || strings.Contains(stdout, "line=7") {
		t.Errorf("annotation not on line 10 with commit %s:\n%s", short(c2), stdout)
	}
	doc := readJSONReport(t, filepath.Join(w.files, "temp", "leakstop", "leakstop.json"))
	if len(doc.Findings) != 1 || len(doc.Findings[0].Locations) != 1 {
		t.Fatalf("JSON report: %+v", doc)
	}
	loc := doc.Findings[0].Locations[0]
	if loc.Path != "config.env" || loc.Line != 10 || loc.Commit == nil || loc.Commit.Hash != c2 || doc.Findings[0].Level != "error" {
		t.Errorf("JSON location %s:%d commit %+v, want config.env:10 in %s", loc.Path, loc.Line, loc.Commit, c2)
	}
	results := readSARIF(t, filepath.Join(w.files, "temp", "leakstop", "leakstop.sarif"))
	if len(results) != 1 || results[0].Locations[0].PhysicalLocation.Region.StartLine != 10 || results[0].Properties["commit"] != c2 ||
		results[0].Level != "error" {
		t.Errorf("SARIF results: %+v", results)
	}
	reviews, comments := w.gh.Reviews("octo", "app", p.number), w.gh.ReviewComments("octo", "app", p.number)
	if len(reviews) != 1 || reviews[0].CommitID != p.head {
		t.Fatalf("reviews = %+v", reviews)
	}
	if len(comments) != 1 || comments[0].Path != "config.env" || comments[0].Line != 10 || comments[0].CommitID != p.head ||
		!strings.Contains(comments[0].Body, "path=config.env line=10 -->") || !strings.Contains(comments[0].Body, "Added in commit `"+c2+"`") {
		t.Fatalf("comments = %+v", comments)
	}
	w.noSecrets(leak.token)
}

// TestPRLeakRemovedLater: C2 adds a leak, C3 removes it again. The head
// does not hold it; its history does: it fails the run, reported at C2's
// path and line and marked so, and the review lists it in its body, not on
// a line of the head version.
func TestPRLeakRemovedLater(t *testing.T) {
	w := newWorld(t)
	leak := newCred(t)
	writeFile(t, w.dev, "README.md", "# app\n")
	commitAll(t, w.dev, "base")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "notes.env", "# notes\n"+leak.env()+lines("note", 4))
	c2 := commitAll(t, w.dev, "C2: a leak on line 3")
	writeFile(t, w.dev, "notes.env", "# notes\n"+lines("note", 6))
	commitAll(t, w.dev, "C3: removed")
	p := w.openPR(12, 2, map[string]githubtest.DiffLines{"notes.env": {Right: span(1, 7)}})

	_, err := w.run(p.env())
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\n%s\n%s", err, w.stdout.String(), w.stderr.String())
	}
	stdout := w.stdout.String()
	want := "::error file=notes.env,title=Leaked Twilio Auth Token (removed later in this pull request; still in history)::"
	if !strings.Contains(stdout, want) || !strings.Contains(stdout, "added in commit "+short(c2)+" at notes.env line 3; removed later in this pull request; still in history") {
		t.Errorf("stdout lacks the marked annotation %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout, "file=notes.env,line=") {
		t.Errorf("annotated on a line of the head version, which does not hold it:\n%s", stdout)
	}
	doc := readJSONReport(t, filepath.Join(w.files, "temp", "leakstop", "leakstop.json"))
	if len(doc.Findings) != 1 || doc.Findings[0].Remark != "removed later in this pull request; still in history" || doc.Findings[0].Level != "error" {
		t.Fatalf("JSON report: %+v", doc)
	}
	if loc := doc.Findings[0].Locations[0]; loc.Path != "notes.env" || loc.Line != 3 || loc.Commit == nil || loc.Commit.Hash != c2 {
		t.Errorf("JSON location %+v, want notes.env:3 at %s", loc, c2)
	}
	results := readSARIF(t, filepath.Join(w.files, "temp", "leakstop", "leakstop.sarif"))
	if len(results) != 1 || results[0].Properties["remark"] != "removed later in this pull request; still in history" || results[0].Properties["commit"] != c2 {
		t.Errorf("SARIF results: %+v", results)
	}
	if !strings.Contains(w.read("summary.md"), "**1 credential removed later in this pull request** is still in its history") {
		t.Errorf("summary:\n%s", w.read("summary.md"))
	}
	reviews, comments := w.gh.Reviews("octo", "app", p.number), w.gh.ReviewComments("octo", "app", p.number)
	if len(comments) != 0 {
		t.Errorf("a review comment on a line that does not hold the leak: %+v", comments)
	}
	if len(reviews) != 1 || !strings.Contains(reviews[0].Body, "path=notes.env line=3 -->") ||
		!strings.Contains(reviews[0].Body, "removed later in this pull request; still in history") || !strings.Contains(reviews[0].Body, short(c2)) {
		t.Fatalf("reviews = %+v", reviews)
	}
	w.noSecrets(leak.token)
}

// preExistingWorld: main holds a leak on line 2 of old.env (30 lines); the
// pull request edits its last line, and adds a leak of its own in
// new.env when withNew.
func preExistingWorld(t *testing.T, withNew bool) (*mergePR, cred, cred, string) {
	w := newWorld(t)
	old, fresh := newCred(t), newCred(t)
	content := old.env() + lines("line", 28)
	writeFile(t, w.dev, "old.env", content)
	writeFile(t, w.dev, "README.md", "# app\n")
	commitAll(t, w.dev, "base with an old leak")
	writeFile(t, w.dev, "history.txt", "more\n")
	commitAll(t, w.dev, "main moves on")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "old.env", strings.Replace(content, "line 28\n", "line twenty-eight\n", 1))
	diff := map[string]githubtest.DiffLines{"old.env": {Right: span(27, 30), Left: span(27, 30)}}
	commits := 1
	if withNew {
		writeFile(t, w.dev, "new.env", "# new\n"+fresh.env())
		diff["new.env"] = githubtest.DiffLines{Right: span(1, 3)}
	}
	edit := commitAll(t, w.dev, "edit another line of old.env")
	return w.openPR(13, commits, diff), old, fresh, edit
}

// TestPRPreExistingLeakPasses: a pull request that only edits another
// line of a file whose leak is already on the base branch passes; the leak
// is a notice, the summary counts it as pre-existing and does not say the
// pull request's commit added it, and no review is posted.
func TestPRPreExistingLeakPasses(t *testing.T) {
	p, old, _, edit := preExistingWorld(t, false)
	res, err := p.run(p.env())
	if err != nil {
		t.Fatalf("run: %v (want a pass)\n%s\n%s", err, p.stdout.String(), p.stderr.String())
	}
	stdout := p.stdout.String()
	if !strings.Contains(stdout, "::notice file=old.env,line=2,col=19,title=Pre-existing Twilio Auth Token (already on the base branch)::") ||
		strings.Contains(stdout, "::error file=") {
		t.Errorf("stdout:\n%s", stdout)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "::") && (strings.Contains(line, short(edit)) || strings.Contains(line, "added in")) {
			t.Errorf("the annotation says the pull request's commit added the leak:\n%s", line)
		}
	}
	sum := p.read("summary.md")
	for _, want := range []string{"## leakstop: no Twilio credentials added by this pull request",
		"**1 pre-existing credential already on the base branch** (base commit `" + short(p.base) + "`)", old.sid, "pre-existing: on the base branch"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	for _, line := range strings.Split(sum, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "old&#46;env") && strings.Contains(line, short(edit)) {
			t.Errorf("the summary says the pull request's commit added the leak:\n%s", line)
		}
	}
	if strings.Contains(sum, "credential found") || strings.Contains(sum, "added in") {
		t.Errorf("summary:\n%s", sum)
	}
	if out := p.outputs(); out["findings"] != "1" || out["pre-existing"] != "1" {
		t.Errorf("outputs = %v", out)
	}
	doc := readJSONReport(t, res.Report)
	if len(doc.Findings) != 1 || doc.Findings[0].Level != "note" || !strings.HasPrefix(doc.Findings[0].Remark, "already on the base branch") ||
		doc.Findings[0].Locations[0].Commit != nil {
		t.Errorf("JSON report: %+v", doc)
	}
	if results := readSARIF(t, res.SARIF); len(results) != 1 || results[0].Level != "note" {
		t.Errorf("SARIF: %+v", results)
	}
	if n := p.gh.CountRequests("POST", ""); n != 0 {
		t.Errorf("%d POSTs: a review for a leak the pull request does not add", n)
	}
	p.noSecrets(old.token)
}

// TestPRPreExistingAndNewLeak: with a leak of its own as well, the pull
// request fails for that one only.
func TestPRPreExistingAndNewLeak(t *testing.T) {
	p, old, fresh, edit := preExistingWorld(t, true)
	_, err := p.run(p.env())
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\n%s\n%s", err, p.stdout.String(), p.stderr.String())
	}
	stdout := p.stdout.String()
	for _, want := range []string{"::error file=new.env,line=3,col=19,title=Leaked Twilio Auth Token::", "added in commit " + short(edit),
		"::notice file=old.env,line=2,col=19,title=Pre-existing Twilio Auth Token (already on the base branch)::"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "::error file=old.env") {
		t.Errorf("the pre-existing leak is an error:\n%s", stdout)
	}
	sum := p.read("summary.md")
	for _, want := range []string{"## leakstop: 1 Twilio credential found", "**1 pre-existing credential already on the base branch**"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	comments := p.gh.ReviewComments("octo", "app", p.number)
	if len(comments) != 1 || comments[0].Path != "new.env" || comments[0].Line != 3 {
		t.Fatalf("comments = %+v", comments)
	}
	if rv := p.gh.Reviews("octo", "app", p.number); len(rv) != 1 || strings.Contains(rv[0].Body, old.sid) {
		t.Fatalf("reviews = %+v", rv)
	}
	p.noSecrets(old.token, fresh.token)
}

// TestPRPreExistingEditReverted: a commit of the pull request edits the
// file with the old leak and a later one changes it back: the file is in
// no diff of the pull request, and the leak is still pre-existing, not
// "removed later".
func TestPRPreExistingEditReverted(t *testing.T) {
	w := newWorld(t)
	old := newCred(t)
	content := old.env() + lines("line", 8)
	writeFile(t, w.dev, "old.env", content)
	commitAll(t, w.dev, "base with an old leak")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "old.env", content+"one more\n")
	commitAll(t, w.dev, "edit old.env")
	writeFile(t, w.dev, "old.env", content)
	writeFile(t, w.dev, "app.py", "print(1)\n")
	commitAll(t, w.dev, "change it back")
	p := w.openPR(14, 2, map[string]githubtest.DiffLines{"app.py": {Right: []int{1}}})
	if _, err := p.run(p.env()); err != nil {
		t.Fatalf("run: %v (want a pass)\n%s", err, p.stdout.String())
	}
	if !strings.Contains(p.stdout.String(), "::notice file=old.env,line=2,col=19,title=Pre-existing") || strings.Contains(p.stdout.String(), "removed later") {
		t.Errorf("stdout:\n%s", p.stdout.String())
	}
}
