package ghaction

import (
	"errors"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	if got := EscapeData("50% done\r\nnext ::x"); got != "50%25 done%0D%0Anext ::x" {
		t.Errorf("EscapeData = %q", got)
	}
	if got := EscapeProperty("a,b:c%\n"); got != "a%2Cb%3Ac%25%0A" {
		t.Errorf("EscapeProperty = %q", got)
	}
	a := Annotation{Level: "error", File: "dir/a,b.env", Line: 3, Col: 5, Title: "T: x", Message: "m\nn"}
	if got := a.String(); got != "::error file=dir/a%2Cb.env,line=3,col=5,title=T%3A x::m%0An" {
		t.Errorf("annotation = %q", got)
	}
	if got := (Annotation{Level: "warning", Message: "w"}).String(); got != "::warning::w" {
		t.Errorf("bare annotation = %q", got)
	}
}

func TestMarkdownEscapes(t *testing.T) {
	got := mdText("a|b <img> [x](y) @team `c`\nd")
	for _, bad := range []string{"|", "<", ">", "[", "@", "`", "\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("mdText left %q in %q", bad, got)
		}
	}
	if code("ab12…[REDACTED]") != "`ab12…[REDACTED]`" || strings.Contains(code("a`b"), "`a") {
		t.Error("code")
	}
}

func TestParseDiffLines(t *testing.T) {
	diff := strings.Join([]string{
		"diff --git a/a.txt b/a.txt",
		"index 1..2 100644",
		"--- a/a.txt",
		"+++ b/a.txt",
		"@@ -1,3 +1,4 @@",
		" one",
		"+++ an added line that looks like a header",
		" two",
		"@@ -20 +21,2 @@ func x",
		"diff --git a/gone.txt b/gone.txt",
		"deleted file mode 100644",
		"--- a/gone.txt",
		"+++ /dev/null",
		"@@ -1 +0,0 @@",
		"diff --git \"a/sp ace\\tq\" \"b/sp ace\\tq\"",
		"new file mode 100644",
		"--- /dev/null",
		"+++ \"b/sp ace\\tq\"\t",
		"@@ -0,0 +1 @@",
		"diff --git a/empty b/empty",
		"@@ -1,2 +0,0 @@",
	}, "\n")
	got := parseDiffLines(diff)
	want := map[string][]int{"a.txt": {1, 2, 3, 4, 21, 22}, "sp ace\tq": {1}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for p, lines := range want {
		if len(got[p]) != len(lines) {
			t.Errorf("%q: %v, want %v", p, got[p], lines)
		}
		for _, l := range lines {
			if !got[p][l] {
				t.Errorf("%q: line %d missing", p, l)
			}
		}
	}
}

func TestScopeFor(t *testing.T) {
	sha := func(c byte) string { return strings.Repeat(string(c), 40) }
	pr := &Event{PullRequest: &PullRequest{Number: 4, Commits: 2}}
	pr.PullRequest.Base.SHA, pr.PullRequest.Head.SHA = sha('a'), sha('b')
	s, err := ScopeFor("pull_request", pr)
	if err != nil || s.Kind != ScopeRange || s.Base != sha('a') || s.Head != sha('b') || s.PR != 4 || s.Commits != 2 || !s.Proposal {
		t.Fatalf("pull_request: %+v %v", s, err)
	}
	if s, err := ScopeFor("pull_request_target", pr); err != nil || !s.Proposal || s.proposalNoun() != "pull request" {
		t.Fatalf("pull_request_target: %+v %v", s, err)
	}
	mg := &Event{MergeGroup: &struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
	}{sha('a'), sha('b')}}
	if s, err := ScopeFor("merge_group", mg); err != nil || !s.Proposal || s.proposalNoun() != "merge group" {
		t.Fatalf("merge_group: %+v %v", s, err)
	}
	bad := &Event{PullRequest: &PullRequest{Number: 4}}
	bad.PullRequest.Base.SHA, bad.PullRequest.Head.SHA = "--upload-pack=evil", sha('b')
	if _, err := ScopeFor("pull_request", bad); err == nil {
		t.Fatal("an option as a sha was accepted")
	}
	push := &Event{Before: sha('a'), After: sha('b')}
	push.Repository.DefaultBranch = "main"
	if s, _ := ScopeFor("push", push); s.Kind != ScopeRange || s.DefaultBranch != "main" || s.Proposal {
		t.Fatalf("push: %+v", s)
	}
	push.Before, push.Ref = zeroSHA, "refs/heads/topic"
	if s, _ := ScopeFor("push", push); s.Kind != ScopeNewBranch || s.DefaultBranch != "main" {
		t.Fatalf("new branch: %+v", s)
	}
	push.Ref = "refs/heads/main"
	if s, _ := ScopeFor("push", push); s.Kind != ScopeNewBranch || s.DefaultBranch != "" {
		t.Fatalf("new default branch: %+v", s)
	}
	push.Repository.DefaultBranch, push.Ref = "-x", "refs/heads/topic"
	if s, _ := ScopeFor("push", push); s.DefaultBranch != "" {
		t.Fatalf("bad default branch accepted: %+v", s)
	}
	if s, _ := ScopeFor("push", &Event{Before: sha('a'), After: zeroSHA, Deleted: true}); s.Kind != ScopeNothing {
		t.Fatalf("deleted: %+v", s)
	}
	for _, name := range []string{"schedule", "workflow_dispatch", ""} {
		if s, _ := ScopeFor(name, &Event{}); s.Kind != ScopeHistory {
			t.Fatalf("%s: %+v", name, s)
		}
	}
}

func TestReadInputs(t *testing.T) {
	in, err := ReadInputs(func(string) string { return "" })
	if err != nil || !in.FailOnFindings || in.Verify || in.Revoke != RevokeOff || !in.Comment || !in.SARIF || in.TrustPRConfig {
		t.Fatalf("defaults: %+v %v", in, err)
	}
	env := map[string]string{"INPUT_FAIL-ON-FINDINGS": "False", "INPUT_REVOKE": " Plan ", "INPUT_GITHUB_TOKEN": "t", "INPUT_TRUST_PR_CONFIG": "TRUE"}
	in, err = ReadInputs(func(k string) string { return env[k] })
	if err != nil || in.FailOnFindings || in.Revoke != RevokePlan || in.Token != "t" || !in.TrustPRConfig {
		t.Fatalf("%+v %v", in, err)
	}
	pasted := strings.Repeat("ab", 16)
	_, err = ReadInputs(func(k string) string {
		if k == "INPUT_VERIFY" {
			return pasted
		}
		return ""
	})
	var ie *InputError
	if !errors.As(err, &ie) || strings.Contains(err.Error(), pasted) {
		t.Fatalf("err = %v", err)
	}
}
