package ghaction

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// prWorld builds a repository whose main branch already holds a leak
// (old.env, line 2 of 30) and a pull request branch that adds a new leak
// (config.env) and edits old.env far from its leak, so that the old leak
// is in a blob the pull request adds but not on a line of its diff.
type prWorld struct {
	*world
	oldCred, newCred cred
	base, head       string
	number           int
}

func newPRWorld(t *testing.T) *prWorld { return newPRWorldWith(t, newCred(t), newCred(t)) }

// newPRWorldWith is newPRWorld with the credentials given (those of a
// fake Twilio's accounts).
func newPRWorldWith(t *testing.T, oldCred, newCred cred) *prWorld {
	w := &prWorld{world: newWorld(t), oldCred: oldCred, newCred: newCred, number: 7}
	var old strings.Builder
	old.WriteString(w.oldCred.env())
	for i := 3; i <= 30; i++ {
		fmt.Fprintf(&old, "line %d\n", i)
	}
	writeFile(t, w.dev, "README.md", "# app\n")
	writeFile(t, w.dev, "old.env", old.String())
	commitAll(t, w.dev, "base")
	for i := range 5 {
		writeFile(t, w.dev, "history.txt", fmt.Sprintf("main commit %d\n", i))
		w.base = commitAll(t, w.dev, fmt.Sprintf("main %d", i))
	}
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "app.py", "print('hi')\n")
	commitAll(t, w.dev, "feature 1")
	writeFile(t, w.dev, "config.env", "# settings\n"+w.newCred.env())
	writeFile(t, w.dev, "old.env", strings.Replace(old.String(), "line 30\n", "line thirty\n", 1))
	w.head = commitAll(t, w.dev, "feature 2")
	w.push("main", "feature", "feature:refs/pull/7/head")
	w.checkout("main")
	return w
}

func (w *prWorld) prEvent(commits int) map[string]string {
	return w.event("pull_request", map[string]any{
		"action": "synchronize",
		"number": w.number,
		"pull_request": map[string]any{
			"number": w.number, "commits": commits,
			"head": map[string]any{"sha": w.head, "ref": "feature"},
			"base": map[string]any{"sha": w.base, "ref": "main"},
		},
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"},
	})
}

// githubDiff is the diff GitHub shows for the pull request, written out
// by hand so that the test does not trust the action's own diff parser.
func githubDiff() map[string]githubtest.DiffLines {
	return map[string]githubtest.DiffLines{
		"app.py":     {Right: []int{1}},
		"config.env": {Right: []int{1, 2, 3}},
		"old.env":    {Right: []int{27, 28, 29, 30}, Left: []int{27, 28, 29, 30}},
	}
}

func TestPullRequest(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: githubDiff()})
	env := w.prEvent(2)

	res, err := w.run(env)
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, w.stdout.String(), w.stderr.String())
	}
	if res.Findings != 2 {
		t.Fatalf("findings = %d, want 2 (the new leak and the old one in a blob the PR adds)", res.Findings)
	}
	// The shallow checkout was deepened enough to find the merge base.
	if res.MergeBase != w.base {
		t.Errorf("merge base = %s, want %s", res.MergeBase, w.base)
	}

	// Outputs.
	out := w.outputs()
	if out["findings"] != "2" || out["sarif"] != res.SARIF || out["report"] != res.Report {
		t.Errorf("outputs = %v", out)
	}
	for _, p := range []string{res.SARIF, res.Report} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	var sarif struct {
		Runs []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if b, _ := os.ReadFile(res.SARIF); json.Unmarshal(b, &sarif) != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 2 {
		t.Errorf("SARIF does not hold 2 results")
	}

	// Annotations.
	stdout := w.stdout.String()
	for _, want := range []string{"::error file=config.env,line=3,", "::notice file=old.env,line=2,", "title=Leaked Twilio Auth Token::",
		"title=Pre-existing Twilio Auth Token (already on the base branch)::"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	// The job summary.
	sum := w.read("summary.md")
	for _, want := range []string{"## leakstop: 1 Twilio credential found", "**1 pre-existing credential already on the base branch**", "| Credential |", w.newCred.sid, "config" + "&#46;" + "env:3", "### How to fix", "### How to allow"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}

	// One review: a comment on the new leak's line; the old leak, already
	// on the base branch, is only counted in the body.
	reviews := w.gh.Reviews("octo", "app", w.number)
	comments := w.gh.ReviewComments("octo", "app", w.number)
	if len(reviews) != 1 || reviews[0].Event != "COMMENT" || reviews[0].CommitID != w.head {
		t.Fatalf("reviews = %+v", reviews)
	}
	if len(comments) != 1 || comments[0].Path != "config.env" || comments[0].Line != 3 || comments[0].Side != "RIGHT" {
		t.Fatalf("comments = %+v", comments)
	}
	c := comments[0].Body
	for _, want := range []string{"<!-- leakstop:finding fp=", "path=config.env line=3 -->", w.newCred.sid, "[REDACTED]",
		"secondary Auth Token", "leakstop:allow", ".leakstopignore"} {
		if !strings.Contains(c, want) {
			t.Errorf("comment lacks %q:\n%s", want, c)
		}
	}
	body := reviews[0].Body
	for _, want := range []string{"1 Twilio credential in this pull request", "1 pre-existing credential already on the base branch"} {
		if !strings.Contains(body, want) {
			t.Errorf("review body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, w.oldCred.sid) {
		t.Errorf("the review lists the pre-existing leak:\n%s", body)
	}
	w.noSecrets(w.oldCred.token, w.newCred.token)

	// A re-run (same head) posts nothing new.
	w.stdout.Reset()
	res, err = w.run(env)
	if !errors.Is(err, ErrFindings) || res.Review.Posted || res.Review.Skipped != 1 {
		t.Fatalf("rerun: %v %+v", err, res.Review)
	}
	if n := len(w.gh.Reviews("octo", "app", w.number)); n != 1 {
		t.Fatalf("rerun posted again: %d reviews", n)
	}

	// A new push with one more leak: only that one is posted.
	third := newCred(t)
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, "more/keys.env", third.env())
	w.head = commitAll(t, w.dev, "feature 3")
	w.push("feature", "feature:refs/pull/7/head")
	diff := githubDiff()
	diff["more/keys.env"] = githubtest.DiffLines{Right: []int{1, 2}}
	w.gh.UpdatePullRequest("octo", "app", w.number, w.head, diff)
	env = w.prEvent(3)
	w.checkout("main")
	res, err = w.run(env)
	if !errors.Is(err, ErrFindings) || res.Findings != 3 || !res.Review.Posted || res.Review.Comments != 1 || res.Review.Skipped != 1 {
		t.Fatalf("third push: %v findings=%d %+v\n%s", err, res.Findings, res.Review, w.stdout.String())
	}
	got := w.gh.ReviewComments("octo", "app", w.number)
	if last := got[len(got)-1]; last.Path != "more/keys.env" || last.Line != 2 {
		t.Fatalf("new comment at %s:%d", last.Path, last.Line)
	}
	w.noSecrets(w.oldCred.token, w.newCred.token, third.token)
}

func TestPullRequestCommentRefused(t *testing.T) {
	// GitHub's diff disagrees with the local one (config.env is not
	// commentable): the review falls back to listing everything in its
	// body, and still posts.
	w := newPRWorld(t)
	diff := githubDiff()
	delete(diff, "config.env")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: diff})
	res, err := w.run(w.prEvent(2))
	if !errors.Is(err, ErrFindings) || !res.Review.Posted || !res.Review.FellBack || res.Review.BodyEntries != 1 {
		t.Fatalf("%v %+v", err, res.Review)
	}
	if n := w.gh.CountRequests("POST", "/repos/octo/app/pulls/7/reviews"); n != 2 {
		t.Fatalf("%d review requests, want 2 (refused, then body only)", n)
	}
	rv := w.gh.Reviews("octo", "app", w.number)
	if len(rv) != 1 || !strings.Contains(rv[0].Body, "path=config.env line=3") || strings.Contains(rv[0].Body, "path=old.env") {
		t.Fatalf("reviews = %+v", rv)
	}
	w.noSecrets(w.oldCred.token, w.newCred.token)
}

func TestPullRequestRateLimits(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: githubDiff()})
	// A 429 with Retry-After on the review; a 429 with an exhausted
	// quota and no Retry-After on the listing.
	w.gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "GET", Path: "/repos/octo/app/pulls/7/comments",
		ResetIn: 2 * time.Second})
	w.gh.InjectFault(githubtest.Fault{Kind: githubtest.TooManyRequests, Method: "POST", Path: "/repos/octo/app/pulls/7/reviews",
		RetryAfter: 7 * time.Second})
	res, err := w.run(w.prEvent(2))
	if !errors.Is(err, ErrFindings) || !res.Review.Posted {
		t.Fatalf("%v %+v %v", err, res.Review, res.ReviewErr)
	}
	if w.gh.PendingFaults() != 0 {
		t.Fatal("faults did not fire")
	}
	if len(w.sleeps) != 2 || w.sleeps[0] <= time.Second || w.sleeps[0] > 3*time.Second || w.sleeps[1] != 7*time.Second {
		t.Fatalf("waits = %v, want [until the reset + 1s, 7s (Retry-After)]", w.sleeps)
	}
	if n := len(w.gh.Reviews("octo", "app", w.number)); n != 1 {
		t.Fatalf("%d reviews", n)
	}
}

func TestPullRequestReviewFailureIsAWarning(t *testing.T) {
	// A token that may not comment (a fork's pull request): the run still
	// reports and fails on the findings, with a warning.
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})
	w.gh.InjectFault(githubtest.Fault{Kind: githubtest.Status, Status: 403, Method: "POST", Times: 5})
	res, err := w.run(w.prEvent(2))
	if !errors.Is(err, ErrFindings) || res.ReviewErr == nil {
		t.Fatalf("%v %v", err, res.ReviewErr)
	}
	if !strings.Contains(w.stdout.String(), "::warning title=leakstop could not comment on the pull request::") {
		t.Fatalf("no warning:\n%s", w.stdout.String())
	}
	if n := w.gh.CountRequests("POST", ""); n != 1 {
		t.Fatalf("%d POSTs: a 403 that is not a rate limit is not retried", n)
	}
}

func TestPullRequestCleanAndOptions(t *testing.T) {
	w := newWorld(t)
	writeFile(t, w.dev, "README.md", "# app\n")
	base := commitAll(t, w.dev, "base")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature")
	writeFile(t, w.dev, "app.py", "print('hi')\n")
	head := commitAll(t, w.dev, "feature")
	w.push("main", "feature")
	w.checkout("main")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: 3, HeadSHA: head, BaseSHA: base})
	env := w.event("pull_request", map[string]any{"pull_request": map[string]any{
		"number": 3, "commits": 1, "head": map[string]any{"sha": head}, "base": map[string]any{"sha": base}}})
	res, err := w.run(env)
	if err != nil || res.Findings != 0 {
		t.Fatalf("clean: %v %+v", err, res)
	}
	if out := w.outputs(); out["findings"] != "0" || out["sarif"] == "" {
		t.Fatalf("outputs = %v", out)
	}
	if !strings.Contains(w.read("summary.md"), "no Twilio credentials found") {
		t.Fatal("summary")
	}
	if n := len(w.gh.Requests()); n != 0 {
		t.Fatalf("%d API calls for a clean pull request", n)
	}

	for name, want := range map[string]string{
		"INPUT_FAIL_ON_FINDINGS": "input fail-on-findings: want true or false",
		"INPUT_REVOKE":           "input revoke: want off, plan or apply",
	} {
		env2 := maps(env, name, "maybe")
		if _, err := w.run(env2); err == nil || err.Error() != want {
			t.Errorf("%s=maybe: err = %v", name, err)
		}
	}
	// verify and revoke are always available (the revoker is a library,
	// not a callback into main): a configuration that is not there fails
	// before the scan, and without one they are refused.
	for _, kv := range [][]string{{"INPUT_REVOKE", "apply"}, {"INPUT_VERIFY", "true"}} {
		if _, err := w.run(maps(env, kv[0], kv[1], "INPUT_CONFIG", "revoker.toml")); err == nil || !strings.Contains(err.Error(), "input config:") {
			t.Errorf("%s without its configuration: err = %v", kv[0], err)
		}
		if _, err := w.run(maps(env, kv[0], kv[1])); err == nil || !strings.Contains(err.Error(), "need the revoker configuration") {
			t.Errorf("%s without input config: err = %v", kv[0], err)
		}
	}
}

func maps(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestFailOnFindingsFalseAndNoComment(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})
	res, err := w.run(maps(w.prEvent(2), "INPUT_FAIL_ON_FINDINGS", "false", "INPUT_COMMENT", "false"))
	if err != nil || res.Findings != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	if n := len(w.gh.Requests()); n != 0 {
		t.Fatalf("comment: false made %d API calls", n)
	}
}

func TestIgnoreFileAndRules(t *testing.T) {
	w := newPRWorld(t)
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})
	// First learn the fingerprints, then ignore the old leak in the
	// pull request's own .leakstopignore.
	res, err := w.run(maps(w.prEvent(2), "INPUT_COMMENT", "false"))
	if !errors.Is(err, ErrFindings) {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(res.Report)
	fp := regexp.MustCompile(`"fingerprint":\s*"([0-9a-f]+)"[^}]*?"path":\s*"old.env"`).FindStringSubmatch(string(b))
	if fp == nil {
		// field order may differ; fall back to scanning findings
		var doc struct {
			Findings []struct {
				Fingerprint string `json:"fingerprint"`
				Locations   []struct {
					Path string `json:"path"`
				} `json:"locations"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, f := range doc.Findings {
			if len(f.Locations) > 0 && f.Locations[0].Path == "old.env" {
				fp = []string{"", f.Fingerprint}
			}
		}
	}
	if fp == nil {
		t.Fatalf("no fingerprint for old.env in %s", b)
	}
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, ".leakstopignore", fp[1]+"  # rotated long ago\n")
	// And a rules file that finds a custom token.
	custom := randHex(t, 16)
	writeFile(t, w.dev, "acme.txt", "acme_token = "+custom+"\n")
	writeFile(t, w.dev, ".leakstop.toml", "[[rules]]\nid = \"acme-token\"\ndescription = \"ACME token\"\nkind = \"secret\"\n"+
		"regex = '''acme_token\\s*=\\s*(?P<secret>[0-9a-f]{32})'''\nkeywords = [\"acme_token\"]\nreport_unpaired = true\nexamples = [\"acme_token = {{token}}\"]\n")
	w.head = commitAll(t, w.dev, "ignore the old one")
	w.push("feature")
	// actions/checkout of a pull request checks out its head (here) or
	// merge commit.
	gitIn(t, w.dev, "checkout", "-q", "main")
	w.checkout("feature")

	// By default both files come from the base commit, which has neither:
	// the pull request's ignore entry does not apply yet (the old leak is
	// reported with a note), nor do its rules.
	w.stdout.Reset()
	res, err = w.run(maps(w.prEvent(3), "INPUT_COMMENT", "false"))
	if res == nil {
		t.Fatalf("run: %v\n%s", err, w.stdout.String())
	}
	if !errors.Is(err, ErrFindings) || res.Findings != 2 || res.IgnoredNum != 0 || res.Pending != 1 || res.ConfigFrom != w.base {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "file=old.env,line=2") || strings.Contains(w.stdout.String(), "file=acme.txt") ||
		!strings.Contains(w.stdout.String(), "This pull request changes .leakstop.toml") {
		t.Fatalf("stdout:\n%s", w.stdout.String())
	}

	// The rules input is the workflow's choice: read as it is, from the
	// checkout.
	w.stdout.Reset()
	res, err = w.run(maps(w.prEvent(3), "INPUT_COMMENT", "false", "INPUT_RULES", ".leakstop.toml"))
	if !errors.Is(err, ErrFindings) || res.Findings != 3 || !strings.Contains(w.stdout.String(), "file=acme.txt,line=1") {
		t.Fatalf("rules input: %v %+v\n%s", err, res, w.stdout.String())
	}

	// trust-pr-config: true reads them from the checkout, as the pull
	// request leaves them.
	trusted := maps(w.prEvent(3), "INPUT_COMMENT", "false", "INPUT_TRUST_PR_CONFIG", "true")
	w.stdout.Reset()
	os.Remove(w.files + "/summary.md")
	res, err = w.run(trusted)
	if res == nil {
		t.Fatalf("run: %v\n%s", err, w.stdout.String())
	}
	if !errors.Is(err, ErrFindings) || res.Findings != 2 || res.IgnoredNum != 1 || res.Pending != 0 || res.ConfigFrom != "" {
		t.Fatalf("%v findings=%d ignored=%d\n%s", err, res.Findings, res.IgnoredNum, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "file=acme.txt,line=1") || strings.Contains(w.stdout.String(), "file=old.env") {
		t.Fatalf("stdout:\n%s", w.stdout.String())
	}
	if !strings.Contains(w.read("summary.md"), "1 credential ignored by `.leakstopignore`.") {
		t.Fatalf("summary:\n%s", w.read("summary.md"))
	}
	w.noSecrets(w.oldCred.token, w.newCred.token, custom)

	// A broken rules file in the checkout is an error, not a clean run,
	// where the checkout's is read; by default the pull request's files
	// are not read, and a broken .leakstopignore there is only a warning.
	if err := os.WriteFile(w.ws+"/.leakstop.toml", []byte("[[rules]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.run(trusted); err == nil || errors.Is(err, ErrFindings) {
		t.Fatalf("broken rules: err = %v", err)
	}
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, ".leakstopignore", "not a fingerprint\n")
	writeFile(t, w.dev, ".leakstop.toml", "[[rules]\n")
	w.head = commitAll(t, w.dev, "break both")
	w.push("feature")
	w.checkout("feature")
	w.stderr.Reset()
	res, err = w.run(maps(w.prEvent(4), "INPUT_COMMENT", "false"))
	if !errors.Is(err, ErrFindings) || res.Findings != 2 || res.Pending != 0 {
		t.Fatalf("broken files in the pull request: %v %+v", err, res)
	}
	if !strings.Contains(w.stderr.String(), "leakstop: warning: the pull request's .leakstopignore: "+short(w.head)+":.leakstopignore:1:") {
		t.Fatalf("stderr:\n%s", w.stderr.String())
	}
}

func TestPush(t *testing.T) {
	w := newWorld(t)
	leak, leak2 := newCred(t), newCred(t)
	writeFile(t, w.dev, "old.env", leak.env())
	commitAll(t, w.dev, "an old leak")
	var before string
	for i := range 30 {
		writeFile(t, w.dev, "n.txt", fmt.Sprint(i))
		before = commitAll(t, w.dev, fmt.Sprint("c", i))
	}
	writeFile(t, w.dev, "new.env", leak2.env())
	commitAll(t, w.dev, "a new leak")
	writeFile(t, w.dev, "n.txt", "after")
	after := commitAll(t, w.dev, "after")
	w.push("main")
	w.checkout("main")

	// push: before..after only.
	env := w.event("push", map[string]any{"ref": "refs/heads/main", "before": before, "after": after,
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"}})
	res, err := w.run(env)
	if !errors.Is(err, ErrFindings) || res.Findings != 1 {
		t.Fatalf("push: %v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "file=new.env") {
		t.Fatalf("stdout:\n%s", w.stdout.String())
	}

	// A new branch (before is all zeros): what is not on main.
	gitIn(t, w.dev, "checkout", "-q", "-b", "topic")
	leak3 := newCred(t)
	writeFile(t, w.dev, "topic.env", leak3.env())
	topic := commitAll(t, w.dev, "topic leak")
	w.push("topic")
	w.checkout("topic")
	w.stdout.Reset()
	env = w.event("push", map[string]any{"ref": "refs/heads/topic", "before": zeroSHA, "after": topic, "created": true,
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"}})
	res, err = w.run(env)
	if !errors.Is(err, ErrFindings) || res.Findings != 1 || !strings.Contains(w.stdout.String(), "file=topic.env") {
		t.Fatalf("new branch: %v %+v\n%s", err, res, w.stdout.String())
	}

	// A force push whose "before" the server no longer has: what is not
	// on the default branch.
	w.stdout.Reset()
	env = w.event("push", map[string]any{"ref": "refs/heads/topic", "before": randHex(t, 20), "after": topic, "forced": true,
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"}})
	res, err = w.run(env)
	if !errors.Is(err, ErrFindings) || res.Findings != 1 || !strings.Contains(w.stdout.String(), "cannot be fetched") {
		t.Fatalf("forced push: %v %+v\n%s", err, res, w.stdout.String())
	}

	// A deleted branch: nothing to scan.
	env = w.event("push", map[string]any{"ref": "refs/heads/topic", "before": topic, "after": zeroSHA, "deleted": true})
	if res, err := w.run(env); err != nil || res.Findings != 0 {
		t.Fatalf("deleted: %v", err)
	}

	// schedule: the whole history of every branch.
	w.checkout("main")
	w.stdout.Reset()
	res, err = w.run(w.event("schedule", map[string]any{"schedule": "0 3 * * *"}))
	if !errors.Is(err, ErrFindings) || res.Findings != 3 {
		t.Fatalf("schedule: %v %+v\n%s", err, res, w.stdout.String())
	}
	if sh := gitIn(t, w.ws, "rev-parse", "--is-shallow-repository"); sh != "false" {
		t.Fatal("history scan left the checkout shallow")
	}
	w.noSecrets(leak.token, leak2.token, leak3.token)
}

func TestHostilePathsAreEscaped(t *testing.T) {
	w := newPRWorld(t)
	gitIn(t, w.dev, "checkout", "-q", "feature")
	evil := "x,y:z%0A\n::warning::owned <img src=x>|.env"
	writeFile(t, w.dev, evil, newCred(t).env())
	w.head = commitAll(t, w.dev, "evil name")
	w.push("feature")
	w.checkout("main")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})
	_, err := w.run(w.prEvent(3))
	if !errors.Is(err, ErrFindings) {
		t.Fatal(err)
	}
	for _, line := range strings.Split(w.stdout.String(), "\n") {
		if strings.HasPrefix(line, "::warning::owned") {
			t.Fatalf("injected a workflow command:\n%s", w.stdout.String())
		}
	}
	if !strings.Contains(w.stdout.String(), "file=x%2Cy%3Az%250A%0A%3A%3Awarning%3A%3Aowned <img src=x>|.env,line=2") {
		t.Fatalf("file property not escaped:\n%s", w.stdout.String())
	}
	sum := w.read("summary.md")
	if strings.Contains(sum, "<img") || strings.Contains(sum, "owned <") {
		t.Fatalf("summary holds raw HTML:\n%s", sum)
	}
	var found bool
	for _, c := range w.gh.ReviewComments("octo", "app", w.number) {
		if c.Path == evil {
			found = true
			if !strings.Contains(c.Body, "path="+url.PathEscape(evil)+" line=2 -->") {
				t.Fatalf("marker:\n%s", c.Body)
			}
		}
	}
	if !found {
		t.Fatal("no comment on the file with a hostile name")
	}
}

func TestPullRequestBaseMoved(t *testing.T) {
	// main moved on after the branch was made: the PR's commits are those
	// since the merge base, found by deepening the shallow checkout.
	w := newPRWorld(t)
	forkPoint := w.base
	gitIn(t, w.dev, "checkout", "-q", "main")
	for i := range 60 {
		writeFile(t, w.dev, "history.txt", fmt.Sprintf("later main commit %d\n", i))
		w.base = commitAll(t, w.dev, fmt.Sprintf("later %d", i))
	}
	w.push("main")
	w.checkout("main")
	res, err := w.run(maps(w.prEvent(2), "INPUT_COMMENT", "false"))
	if !errors.Is(err, ErrFindings) || res.Findings != 2 || res.MergeBase != forkPoint {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "deepening by") {
		t.Fatalf("no deepening:\n%s", w.stdout.String())
	}
}
