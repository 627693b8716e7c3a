package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
)

// TestFrontEndsAgree: "leakstop scan", the pre-commit hook ("leakstop hook
// run") and the GitHub Action ("leakstop action") report the same
// findings for the same content under the same .leakstop.toml,
// .leakstopignore and leakstop:allow comments: each front end runs
// through its real entry point on one git repository.
func TestFrontEndsAgree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_HOME": home, "GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
		"NO_COLOR": "1"} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", "-b", "main")
	write("README.md", "# app\n")
	git("add", "-A")
	git("commit", "-q", "-m", "start")
	base := git("rev-parse", "HEAD")

	// The content: a leak; a leak the ignore file lists; a leak allowed
	// inline; a secret only the repository's own rule knows; an API key.
	cred := func() (string, string) { return "AC" + randHex(16), randHex(16) }
	sid1, tok1 := cred()
	sid2, tok2 := cred()
	sid3, tok3 := cred()
	keySID, keySecret := "SK"+randHex(16), randAlnum(32)
	write("config/prod.env", "TWILIO_ACCOUNT_SID="+sid1+"\nTWILIO_AUTH_TOKEN="+tok1+"\n")
	write("fixtures/old.env", "TWILIO_ACCOUNT_SID="+sid2+"\nTWILIO_AUTH_TOKEN="+tok2+"\n")
	write("fixtures/allowed.env", "TWILIO_ACCOUNT_SID="+sid3+"\nTWILIO_AUTH_TOKEN="+tok3+"  # "+scanner.AllowComment+" fixture\n")
	acme := randHex(16)
	write("app/acme.txt", "acme_token="+acme+"\n")
	write("app/keys.js", "const client = twilio('"+keySID+"', '"+keySecret+"', { accountSid: '"+sid1+"' });\n")
	write(".leakstop.toml", `[[rules]]
id = "acme-token"
description = "ACME token"
kind = "secret"
regex = '''acme_token=(?P<secret>[0-9a-f]{32})'''
keywords = ["acme_token"]
report_unpaired = true
examples = ["acme_token={{token}}"]
`)
	write(".leakstopignore", scanner.Fingerprint("twilio-auth-token", sid2, tok2)+"  # a fixture\n")
	git("add", "-A")
	ctx := context.Background()

	// The hook, on what is staged, from inside the work tree.
	t.Chdir(filepath.Join(repo, "app"))
	var hookErr bytes.Buffer
	if code := run(ctx, []string{"hook", "run"}, &stdio{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &hookErr}); code != exitFindings {
		t.Fatalf("hook run: exit %d\n%s", code, hookErr.String())
	}
	hook := hookFindings(t, hookErr.String())
	git("commit", "-q", "--no-verify", "-m", "add")
	head := git("rev-parse", "HEAD")

	// scan, of the repository's history.
	t.Chdir(t.TempDir())
	var scanOut, scanErr bytes.Buffer
	if code := run(ctx, []string{"scan", "--format", "json", repo}, &stdio{in: strings.NewReader(""), out: &scanOut, err: &scanErr}); code != exitFindings {
		t.Fatalf("scan: exit %d\n%s", code, scanErr.String())
	}
	scan := jsonFindings(t, scanOut.Bytes())

	// The Action, on the push that added the commit.
	runner := t.TempDir()
	event := filepath.Join(runner, "event.json")
	payload, _ := json.Marshal(map[string]any{"before": base, "after": head, "ref": "refs/heads/main",
		"repository": map[string]any{"full_name": "octo/app", "default_branch": "main"}})
	if err := os.WriteFile(event, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": event, "GITHUB_WORKSPACE": repo,
		"GITHUB_REPOSITORY": "octo/app", "RUNNER_TEMP": runner, "GITHUB_OUTPUT": filepath.Join(runner, "output"),
		"GITHUB_STEP_SUMMARY": "", "INPUT_COMMENT": "false"} {
		t.Setenv(k, v)
	}
	var actOut, actErr bytes.Buffer
	if code := run(ctx, []string{"action"}, &stdio{in: strings.NewReader(""), out: &actOut, err: &actErr}); code != exitFindings {
		t.Fatalf("action: exit %d\n%s\n%s", code, actOut.String(), actErr.String())
	}
	rep, err := os.ReadFile(filepath.Join(runner, "leakstop", "leakstop.json"))
	if err != nil {
		t.Fatal(err)
	}
	action := jsonFindings(t, rep)

	// Three credentials and one secret: not the ignored one, not the
	// allowed one.
	want := []string{
		scanner.Fingerprint("twilio-auth-token", sid1, tok1) + " config/prod.env:2",
		scanner.Fingerprint("twilio-api-key", keySID, keySecret) + " app/keys.js:1",
		scanner.Fingerprint("acme-token", "", acme) + " app/acme.txt:1",
	}
	slices.Sort(want)
	if !slices.Equal(scan, want) {
		t.Errorf("scan found\n%v\nwant\n%v", scan, want)
	}
	if !slices.Equal(hook, scan) || !slices.Equal(action, scan) {
		t.Errorf("the front ends disagree:\nscan   %v\nhook   %v\naction %v", scan, hook, action)
	}
	for _, s := range []string{tok1, tok2, tok3, keySecret} {
		for name, out := range map[string]string{"hook": hookErr.String(), "scan": scanOut.String(), "action": actOut.String() + actErr.String() + string(rep)} {
			if strings.Contains(out, s) {
				t.Errorf("%s printed a secret", name)
			}
		}
	}
}

// jsonFindings lists "FINGERPRINT PATH:LINE" for every location of a JSON
// report, sorted.
func jsonFindings(t *testing.T, data []byte) []string {
	t.Helper()
	var doc struct {
		Findings []struct {
			Fingerprint string `json:"fingerprint"`
			Locations   []struct {
				Path string `json:"path"`
				Line int    `json:"line"`
			} `json:"locations"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("report: %v", err)
	}
	var out []string
	for _, f := range doc.Findings {
		for _, l := range f.Locations {
			out = append(out, f.Fingerprint+" "+l.Path+":"+strconv.Itoa(l.Line))
		}
	}
	slices.Sort(out)
	return out
}

var (
	hookPlace = regexp.MustCompile(`^    (\S.*):(\d+):\d+$`)
	hookFP    = regexp.MustCompile(`^    fingerprint ([0-9a-f]+)$`)
)

// hookFindings lists "FINGERPRINT PATH:LINE" for every location the
// hook's message names, sorted.
func hookFindings(t *testing.T, msg string) []string {
	t.Helper()
	var out, places []string
	for _, line := range strings.Split(msg, "\n") {
		if m := hookPlace.FindStringSubmatch(line); m != nil {
			places = append(places, m[1]+":"+m[2])
		}
		if m := hookFP.FindStringSubmatch(line); m != nil {
			for _, p := range places {
				out = append(out, m[1]+" "+p)
			}
			places = nil
		}
	}
	if len(out) == 0 {
		t.Fatalf("no findings in the hook's message:\n%s", msg)
	}
	slices.Sort(out)
	return out
}
