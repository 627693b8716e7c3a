package policy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/internal/gitcmd"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

const acmeRules = `[[rules]]
id = "acme-token"
description = "ACME token"
kind = "secret"
regex = '''acme_token=(?P<secret>[0-9a-f]{32})'''
keywords = ["acme_token"]
report_unpaired = true
examples = ["acme_token={{token}}"]
`

func hasRule(p *Policy, id string) bool {
	for _, r := range p.Rules.Rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

// TestLoadRepositoryRules: the directory's RulesFile is added to the
// defaults; an explicit extension takes its place; a broken one is an
// error naming it; a missing one is nothing.
func TestLoadRepositoryRules(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := Load(ctx, Options{Dir: dir})
	if err != nil || hasRule(p, "acme-token") || len(p.RulesFiles) != 0 || len(p.Rules.Rules) == 0 {
		t.Fatalf("no repository file: %v %v", err, p.RulesFiles)
	}
	repoFile := filepath.Join(dir, RulesFile)
	if err := os.WriteFile(repoFile, []byte(acmeRules), 0o600); err != nil {
		t.Fatal(err)
	}
	var logged []string
	p, err = Load(ctx, Options{Dir: dir, Log: func(f string, a ...any) { logged = append(logged, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRule(p, "acme-token") || len(p.RulesFiles) != 1 || p.RulesFiles[0] != repoFile || len(logged) != 1 {
		t.Fatalf("repository file: %v %v %v", err, p.RulesFiles, logged)
	}
	if !hasRule(p, "twilio-auth-token") && len(p.Rules.Pairs) == 0 {
		t.Fatal("the defaults are gone")
	}
	other := filepath.Join(t.TempDir(), "other.toml")
	if err := os.WriteFile(other, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err = Load(ctx, Options{Dir: dir, RulesExtend: other}); err != nil || hasRule(p, "acme-token") {
		t.Fatalf("--rules-extend does not take the repository file's place: %v", err)
	}
	if err := os.WriteFile(repoFile, []byte("[[rules]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(ctx, Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), repoFile) {
		t.Fatalf("broken repository file: %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLoadProposal: for a proposal, the rules and the ignore file are the
// base commit's; what the proposal's own ignore file adds is pending,
// with a note; so is a change of its rules; a file the run acts on is a
// copy of the base commit's, and one the base lacks is refused.
func TestLoadProposal(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, k := range []string{"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	fx := newFixture(91)
	a, b := fx.authToken(loc("a.env", 2)), fx.authToken(loc("b.env", 2))
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "config", "user.email", "dev@example.com")
	git(t, dir, "config", "user.name", "Dev")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(report.IgnoreFileName, a.Fingerprint+"  # fixture\n")
	write(RulesFile, acmeRules)
	write("revoker.toml", "# base\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "base")
	base := git(t, dir, "rev-parse", "HEAD")
	write(report.IgnoreFileName, a.Fingerprint+"\n"+b.Fingerprint+"  # trust me\n")
	write(RulesFile, "# no rules\n")
	write("revoker.toml", "# head\n")
	write("new.toml", "# head only\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "head")
	head := git(t, dir, "rev-parse", "HEAD")

	pr := &Proposal{Base: base, Head: head, Noun: "pull request", Git: gitcmd.Repo{Dir: dir}, Worktree: dir}
	ctx := context.Background()
	p, err := Load(ctx, Options{Dir: dir, Proposal: pr})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRule(p, "acme-token") || p.Base != base || p.HonoursInlineAllows() || len(p.Notes) != 1 ||
		!strings.Contains(p.Notes[0], "This pull request changes "+RulesFile) {
		t.Fatalf("rules of the base: %v %v", p.RulesFiles, p.Notes)
	}
	f := p.Filter([]scanner.Finding{a, b}, nil)
	if len(f.Ignored) != 1 || f.Ignored[0].Fingerprint != a.Fingerprint || len(f.Findings) != 1 ||
		f.Pending[b.Fingerprint] != PendingNote("pull request") || len(f.PendingNotes) != 1 || f.PendingCount(PendingNote("pull request")) != 1 {
		t.Fatalf("filter: %+v", f)
	}

	path, cleanup, err := pr.TrustedFile(ctx, dir, filepath.Join(dir, "revoker.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "# base\n" {
		t.Errorf("trusted file holds %q", data)
	}
	cleanup()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the copy was not removed")
	}
	var nb *NotInBaseError
	if _, _, err := pr.TrustedFile(ctx, dir, filepath.Join(dir, "new.toml")); !errors.As(err, &nb) || nb.Path != "new.toml" {
		t.Errorf("a file only the proposal has: %v", err)
	}
	outside := filepath.Join(t.TempDir(), "x.toml")
	var none *Proposal
	for _, q := range []*Proposal{pr, none} {
		if got, _, err := q.TrustedFile(ctx, dir, outside); err != nil || got != outside {
			t.Errorf("outside the checkout: %q %v", got, err)
		}
	}
}
