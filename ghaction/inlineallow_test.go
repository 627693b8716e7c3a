package ghaction

import (
	"errors"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/scanner"
)

// On pull requests, an inline leakstop:allow is honoured only when the
// line it is on is already in the base commit's version of the file.

const wantInlineNote = "allowed by an inline leakstop:allow that this pull request adds: it takes effect once a maintainer merges it"

// allowedEnv is c with leakstop:allow on its token's line.
func (c cred) allowedEnv() string {
	return "TWILIO_ACCOUNT_SID=" + c.sid + "\nTWILIO_AUTH_TOKEN=" + c.token + "  # " + scanner.AllowComment + " fixture\n"
}

// newAllowWorld: main holds keep.env, a credential allowed inline; the
// branch feature adds new.env, a credential it allows inline, and
// appends to keep.env; the branch touch only appends to keep.env.
func newAllowWorld(t *testing.T) (w *prWorld, keep cred, touch string) {
	w = &prWorld{world: newWorld(t), newCred: newCred(t), number: 7}
	keep = newCred(t)
	writeFile(t, w.dev, "README.md", "# app\n")
	writeFile(t, w.dev, "keep.env", keep.allowedEnv())
	w.base = commitAll(t, w.dev, "base")
	gitIn(t, w.dev, "checkout", "-q", "-b", "touch")
	writeFile(t, w.dev, "keep.env", strings.ReplaceAll(keep.allowedEnv()+"MORE=1\n", "\n", "\r\n")) // CRLF lines match LF ones
	touch = commitAll(t, w.dev, "touch keep.env")
	gitIn(t, w.dev, "checkout", "-q", "-b", "feature", "main")
	writeFile(t, w.dev, "new.env", w.newCred.allowedEnv())
	commitAll(t, w.dev, "add new.env")
	writeFile(t, w.dev, "keep.env", keep.allowedEnv()+"MORE=2\n")
	w.head = commitAll(t, w.dev, "touch keep.env")
	w.push("main", "touch", "feature", "feature:refs/pull/7/head")
	return w, keep, touch
}

// TestPRAllowsItsOwnLeakInline: a pull request that adds a credential
// with leakstop:allow on its line still fails, with a note; the allow
// already on the base branch holds. With trust-pr-config: true it passes.
func TestPRAllowsItsOwnLeakInline(t *testing.T) {
	w, keep, _ := newAllowWorld(t)
	w.checkout("feature")
	w.gh.AddPullRequest("octo", "app", githubtest.PullRequest{Number: w.number, HeadSHA: w.head, BaseSHA: w.base,
		Diff: map[string]githubtest.DiffLines{"new.env": {Right: []int{1, 2}}, "keep.env": {Right: []int{3}}}})

	res, err := w.run(w.prEvent(2))
	if res == nil {
		t.Fatalf("run: %v\n%s", err, w.stdout.String())
	}
	if !errors.Is(err, ErrFindings) || res.Findings != 1 || res.Pending != 1 || res.InlineAllowed != 1 || res.ConfigFrom != w.base {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	stdout := w.stdout.String()
	var notes int
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "::error ") && strings.Contains(line, "Allowed by an inline leakstop:allow that this pull request adds") {
			notes++
			if !strings.Contains(line, "file=new.env,line=2,") {
				t.Errorf("annotation: %s", line)
			}
		}
	}
	if notes != 1 || !strings.Contains(stdout, "1 credential(s) still reported, "+wantInlineNote) {
		t.Errorf("%d annotations carry the note, want 1:\n%s", notes, stdout)
	}
	if strings.Contains(stdout, "file=keep.env") {
		t.Errorf("the allow already on the base branch is not honoured:\n%s", stdout)
	}
	mdNote := strings.ReplaceAll(wantInlineNote, "leakstop:allow", "`leakstop:allow`")
	sum := w.read("summary.md")
	for _, want := range []string{"**1 credential is " + mdNote + ".**", "`" + w.newCred.fingerprint() + "` — " + mdNote} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	comments := w.gh.ReviewComments("octo", "app", w.number)
	if len(comments) != 1 || comments[0].Path != "new.env" || !strings.Contains(comments[0].Body, "> A"+mdNote[1:]+".") {
		t.Fatalf("comments = %+v", comments)
	}
	w.noSecrets(w.newCred.token, keep.token)

	// A repository that trusts its contributors.
	w.stdout.Reset()
	res, err = w.run(maps(w.prEvent(2), "INPUT_TRUST_PR_CONFIG", "true"))
	if err != nil || res.Findings != 0 || res.Pending != 0 || res.ConfigFrom != "" {
		t.Fatalf("trust-pr-config: %v %+v\n%s", err, res, w.stdout.String())
	}
}

// TestPRKeepsTheBaseInlineAllow: a pull request that edits a file whose
// allowed line is already on the base branch passes; one that changes
// the allowed line does not.
func TestPRKeepsTheBaseInlineAllow(t *testing.T) {
	w, keep, touch := newAllowWorld(t)
	w.head = touch
	w.push("touch:refs/pull/7/head")
	w.checkout("touch")
	res, err := w.run(w.prEvent(1))
	if err != nil || res.Findings != 0 || res.Pending != 0 || res.InlineAllowed != 1 {
		t.Fatalf("%v %+v\n%s", err, res, w.stdout.String())
	}
	if n := len(w.gh.Requests()); n != 0 {
		t.Errorf("%d API calls for a pull request with nothing to report", n)
	}

	// The same allowed line, with another credential on it.
	gitIn(t, w.dev, "checkout", "-q", "touch")
	other := newCred(t)
	writeFile(t, w.dev, "keep.env", strings.Replace(keep.allowedEnv(), keep.token, other.token, 1)+"MORE=1\n")
	w.head = commitAll(t, w.dev, "swap the token")
	w.push("touch", "touch:refs/pull/7/head")
	w.checkout("touch")
	res, err = w.run(maps(w.prEvent(2), "INPUT_COMMENT", "false"))
	if !errors.Is(err, ErrFindings) || res.Findings != 1 || res.Pending != 1 || res.InlineAllowed != 1 {
		t.Fatalf("swapped: %v %+v\n%s", err, res, w.stdout.String())
	}
	if !strings.Contains(w.stdout.String(), "file=keep.env,line=2,") {
		t.Errorf("stdout:\n%s", w.stdout.String())
	}
	w.noSecrets(keep.token, other.token)
}
