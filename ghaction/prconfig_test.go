package ghaction

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

// On pull requests, .leakstopignore and .leakstop.toml come from the base
// commit: a pull request that leaks a credential cannot silence its own
// finding.

// fingerprint is the fingerprint leakstop gives c (an Auth Token with its
// Account SID).
func (c cred) fingerprint() string { return scanner.Fingerprint("twilio-auth-token", c.sid, c.token) }

const wantPendingNote = "allowed by a .leakstopignore entry that this pull request adds: it takes effect once a maintainer merges it"

// TestPRIgnoresItsOwnLeak: a pull request that adds the fingerprints of
// its leaks to .leakstopignore still fails, each finding marked as
// allowed once merged; with trust-pr-config: true it passes.
func TestPRIgnoresItsOwnLeak(t *testing.T) {
	w := newPRWorld(t)
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, ".leakstopignore", w.newCred.fingerprint()+"  # a fixture, trust me\n"+w.oldCred.fingerprint()+"\n")
	w.head = commitAll(t, w.dev, "ignore my leaks")
	w.push("feature", "feature:refs/pull/7/head")
	w.checkout("feature") // the pull request's head, files and all
	diff := githubDiff()
	diff[".leakstopignore"] = githubtest.DiffLines{Right: []int{1, 2}}
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base, Diff: diff})

	res, err := w.run(w.prEvent(3))
	if res == nil {
		t.Fatalf("run: %v\n%s", err, w.stdout.String())
	}
	if !errors.Is(err, ErrFindings) || res.Findings != 2 || res.IgnoredNum != 0 || res.Pending != 2 || res.ConfigFrom != w.base {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if out := w.outputs(); out["findings"] != "2" {
		t.Errorf("outputs = %v", out)
	}
	stdout := w.stdout.String()
	for _, want := range []string{
		"reading .leakstopignore and .leakstop.toml from the base commit " + short(w.base),
		"::error file=config.env,line=3,", "::notice file=old.env,line=2,", // the old one is on the base branch
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	var notes int
	for _, line := range strings.Split(stdout, "\n") {
		if (strings.HasPrefix(line, "::error ") || strings.HasPrefix(line, "::notice ")) && strings.Contains(line, "Allowed by a .leakstopignore entry that this pull request adds: it takes effect once a maintainer merges it.") {
			notes++
		}
	}
	if notes != 2 {
		t.Errorf("%d annotations carry the note, want 2:\n%s", notes, stdout)
	}

	mdNote := strings.ReplaceAll(wantPendingNote, ".leakstopignore", "`.leakstopignore`")
	sum := w.read("summary.md")
	for _, want := range []string{"## leakstop: 1 Twilio credential found", "**1 pre-existing credential already on the base branch**", "**1 credential is " + mdNote + ".**",
		"`" + w.newCred.fingerprint() + "` — " + mdNote, "are read from the base commit"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}

	comments := w.gh.ReviewComments("octo", "app", w.number)
	if len(comments) != 1 || comments[0].Path != "config.env" || !strings.Contains(comments[0].Body, "> A"+mdNote[1:]+".") {
		t.Fatalf("comments = %+v", comments)
	}
	if strings.Contains(comments[0].Body, "Not a live credential?") {
		t.Errorf("the comment asks for the ignore entry the pull request already adds:\n%s", comments[0].Body)
	}
	reviews := w.gh.Reviews("octo", "app", w.number)
	if len(reviews) != 1 || strings.Contains(reviews[0].Body, "path=old.env") || !strings.Contains(reviews[0].Body, "1 pre-existing credential already on the base branch") {
		t.Fatalf("reviews = %+v", reviews)
	}
	w.noSecrets(w.oldCred.token, w.newCred.token)

	// A repository that trusts its contributors.
	w.stdout.Reset()
	res, err = w.run(maps(w.prEvent(3), "INPUT_TRUST_PR_CONFIG", "true"))
	if err != nil || res.Findings != 0 || res.IgnoredNum != 2 || res.ConfigFrom != "" {
		t.Fatalf("trust-pr-config: %v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "trust-pr-config: reading .leakstopignore and .leakstop.toml from the checkout") {
		t.Errorf("stdout:\n%s", w.stdout.String())
	}
	if _, err := w.run(maps(w.prEvent(3), "INPUT_TRUST_PR_CONFIG", "yes")); err == nil || err.Error() != "input trust-pr-config: want true or false" {
		t.Errorf("trust-pr-config: yes: %v", err)
	}
}

// disableAll is a .leakstop.toml that disables every default rule and pair
// (and keeps one rule of its own: zero rules is an error).
func disableAll(t *testing.T) string {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range set.Rules {
		ids = append(ids, fmt.Sprintf("%q", r.ID))
	}
	for _, p := range set.Pairs {
		ids = append(ids, fmt.Sprintf("%q", p.ID))
	}
	return "[extend]\ndisabled = [" + strings.Join(ids, ", ") + "]\n" +
		"[[rules]]\nid = \"other\"\nkind = \"secret\"\nregex = '''other_value=(?P<secret>[0-9a-f]{32})'''\n" +
		"keywords = [\"other_value\"]\nreport_unpaired = true\nexamples = [\"other_value={{token}}\"]\n"
}

// TestPRDisablesTheRules: a pull request whose .leakstop.toml disables
// the default rules is scanned with the base commit's rules. A push keeps
// reading the checkout's.
func TestPRDisablesTheRules(t *testing.T) {
	w := newPRWorld(t)
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, ".leakstop.toml", disableAll(t))
	prev := w.head
	w.head = commitAll(t, w.dev, "quieter")
	w.push("feature", "feature:refs/pull/7/head")
	w.checkout("feature")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})

	res, err := w.run(maps(w.prEvent(3), "INPUT_COMMENT", "false"))
	if !errors.Is(err, ErrFindings) || res.Findings != 2 {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "This pull request changes .leakstop.toml: its rules take effect once a maintainer merges it") ||
		!strings.Contains(w.read("summary.md"), "changes &#46;leakstop&#46;toml") {
		t.Errorf("no note on the pull request's rules:\n%s\n%s", w.stdout.String(), w.read("summary.md"))
	}

	// The attack works where the pull request's files are trusted...
	res, err = w.run(maps(w.prEvent(3), "INPUT_COMMENT", "false", "INPUT_TRUST_PR_CONFIG", "true"))
	if err != nil || res.Findings != 0 {
		t.Fatalf("trust-pr-config: %v %+v", err, res)
	}
	// ... and on a push, which scans what is already on the branch with
	// the checkout's rules.
	gitIn(t, w.dev, "checkout", "-q", "feature")
	writeFile(t, w.dev, "more.env", newCred(t).env())
	w.head = commitAll(t, w.dev, "another")
	w.push("feature")
	w.checkout("feature")
	push := w.event("push", map[string]any{"ref": "refs/heads/feature", "before": prev, "after": w.head,
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"}})
	if res, err := w.run(push); err != nil || res.Findings != 0 || res.ConfigFrom != "" {
		t.Fatalf("push: %v %+v", err, res)
	}
}

// TestPRBaseIgnores: an entry already on the base branch applies, even
// when the pull request's branch predates it.
func TestPRBaseIgnores(t *testing.T) {
	w := newPRWorld(t)
	gitIn(t, w.dev, "checkout", "-q", "main")
	writeFile(t, w.dev, ".leakstopignore", "# fixtures\n"+w.newCred.fingerprint()+"\n"+w.oldCred.fingerprint()+"\n")
	w.base = commitAll(t, w.dev, "allow the fixtures")
	w.push("main")
	w.checkout("feature") // no .leakstopignore here
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base})

	res, err := w.run(w.prEvent(2))
	if err != nil || res.Findings != 0 || res.IgnoredNum != 2 || res.Pending != 0 || res.ConfigFrom != w.base {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "2 credential(s) ignored by "+short(w.base)+":.leakstopignore") {
		t.Errorf("stdout:\n%s", w.stdout.String())
	}
	if sum := w.read("summary.md"); !strings.Contains(sum, "2 credentials ignored by `.leakstopignore` of the base commit `"+short(w.base)+"`") {
		t.Errorf("summary:\n%s", sum)
	}
	if n := len(w.gh.Requests()); n != 0 {
		t.Errorf("%d API calls for a pull request with nothing to report", n)
	}

	// A merge group reads its base too.
	w.stdout.Reset()
	mg := w.event("merge_group", map[string]any{"merge_group": map[string]any{"base_sha": w.base, "head_sha": w.head}})
	if res, err := w.run(mg); err != nil || res.IgnoredNum != 2 || res.ConfigFrom != w.base {
		t.Fatalf("merge_group: %v %+v\n%s", err, res, w.stdout.String())
	}
}
