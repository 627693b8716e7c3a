package hook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newRepo makes a repository with one commit in a temporary directory.
func newRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "Dev")
	t.Setenv("GIT_AUTHOR_EMAIL", "dev@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "Dev")
	t.Setenv("GIT_COMMITTER_EMAIL", "dev@example.com")
	t.Setenv("GIT_INDEX_FILE", "")
	os.Unsetenv("GIT_INDEX_FILE")
	run(t, dir, "git", "init", "-q", "-b", "main")
	return dir
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func detector(t *testing.T) *scanner.Detector {
	t.Helper()
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := scanner.NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type cred struct{ sid, token string }

func newCred(t *testing.T) cred { return cred{"AC" + randHex(t, 16), randHex(t, 16)} }

func (c cred) env() string {
	return "TWILIO_ACCOUNT_SID=" + c.sid + "\nTWILIO_AUTH_TOKEN=" + c.token + "\n"
}

func paths(fs []scanner.Finding) []string {
	var out []string
	for _, f := range fs {
		for _, l := range f.Locations {
			out = append(out, l.Path)
		}
	}
	return out
}

func TestScanStaged(t *testing.T) {
	ctx := context.Background()
	d := detector(t)
	dir := newRepo(t)
	c1, c2, c3 := newCred(t), newCred(t), newCred(t)

	// Unborn branch: everything staged is new.
	write(t, dir, "a.env", c1.env())
	run(t, dir, "git", "add", "a.env")
	res, err := ScanStaged(ctx, d, dir, "", scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res.Findings); len(got) != 1 || got[0] != "a.env" {
		t.Fatalf("unborn: findings at %v", got)
	}
	run(t, dir, "git", "commit", "-q", "--no-verify", "-m", "one")

	// Committed content is not staged any more; unstaged and untracked
	// changes are not read; a symlink and an oversized file are skipped;
	// a binary is scanned (its printable runs); a deletion is nothing.
	write(t, dir, "a.env", c1.env()+"# edited, not staged\n"+c2.env())
	write(t, dir, "untracked.env", c2.env())
	write(t, dir, "bin.dat", "\x00\x01"+c3.env())
	write(t, dir, "big.env", c3.env()+strings.Repeat("x", 4096))
	if err := os.Symlink("a.env", filepath.Join(dir, "link.env")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "sub dir/ü name.env", c2.env())
	run(t, dir, "git", "add", "bin.dat", "big.env", "link.env", "sub dir/ü name.env")
	res, err = ScanStaged(ctx, d, dir, "", scanner.Options{MaxFileSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res.Findings); len(got) != 2 || got[0] != "bin.dat" || got[1] != "sub dir/ü name.env" {
		t.Fatalf("findings at %v", got)
	}
	if res.Stats.Binary != 1 || res.Stats.SkippedLarge != 1 || res.Stats.Files != 2 {
		t.Fatalf("stats = %+v", res.Stats)
	}
	if res.Findings[1].Secret.Reveal() != c2.token {
		t.Fatal("wrong secret")
	}

	// The index git hands a hook in GIT_INDEX_FILE is the one read.
	run(t, dir, "git", "reset", "-q")
	alt := filepath.Join(t.TempDir(), "index")
	cmd := exec.Command("git", "add", "a.env")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+alt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git add: %v %s", err, out)
	}
	res, err = ScanStaged(ctx, d, dir, "", scanner.Options{})
	if err != nil || len(res.Findings) != 0 {
		t.Fatalf("default index: %v %v", paths(res.Findings), err)
	}
	// (main reads GIT_INDEX_FILE and passes it through IndexFile.)
	idx, err := IndexFile(alt)
	if err != nil || idx != alt {
		t.Fatalf("IndexFile(%q) = %q, %v", alt, idx, err)
	}
	res, err = ScanStaged(ctx, d, dir, idx, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The whole staged blob is scanned: c1, committed before, is still in it.
	if got := paths(res.Findings); len(got) != 2 || got[0] != "a.env" || got[1] != "a.env" ||
		res.Findings[1].Secret.Reveal() != c2.token {
		t.Fatalf("GIT_INDEX_FILE: findings at %v", got)
	}
}

func TestScanStagedBrokenRepo(t *testing.T) {
	dir := newRepo(t)
	write(t, dir, "a.txt", "hello\n")
	run(t, dir, "git", "add", "a.txt")
	blob := strings.TrimSpace(run(t, dir, "git", "rev-parse", ":a.txt"))
	// Remove the staged blob: the index names an object that is gone.
	if err := os.Remove(filepath.Join(dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	_, err := ScanStaged(context.Background(), detector(t), dir, "", scanner.Options{})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want a missing object", err)
	}
	if _, err := ScanStaged(context.Background(), detector(t), t.TempDir(), "", scanner.Options{}); err == nil {
		t.Fatal("not a repository: no error")
	}
}

func TestInstallUninstall(t *testing.T) {
	ctx := context.Background()
	dir := newRepo(t)
	hooks := filepath.Join(dir, ".git", "hooks")
	path := filepath.Join(hooks, HookName)

	res, err := Install(ctx, Options{Dir: dir, Binary: "/opt/it's here/leakstop"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != path || res.Updated || res.Chained != "" {
		t.Fatalf("install = %+v", res)
	}
	b, _ := os.ReadFile(path)
	if !IsLeakstopHook(b) || !strings.Contains(string(b), `leakstop='/opt/it'\''s here/leakstop'`) {
		t.Fatalf("script:\n%s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm()&0o111 == 0 {
		t.Fatal("hook is not executable")
	}
	if res, err = Install(ctx, Options{Dir: dir, Binary: "/x/leakstop"}); err != nil || !res.Updated {
		t.Fatalf("reinstall = %+v %v", res, err)
	}

	// A foreign hook: refused, chained, restored.
	un, err := Uninstall(ctx, dir)
	if err != nil || !un.Removed {
		t.Fatalf("uninstall = %+v %v", un, err)
	}
	foreign := "#!/bin/sh\necho mine\n"
	if err := os.WriteFile(path, []byte(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	var fe *ForeignHookError
	if _, err := Install(ctx, Options{Dir: dir, Binary: "/x/leakstop"}); !errors.As(err, &fe) {
		t.Fatalf("foreign: err = %v", err)
	}
	if _, err := Uninstall(ctx, dir); !errors.As(err, &fe) {
		t.Fatalf("uninstall foreign: err = %v", err)
	}
	res, err = Install(ctx, Options{Dir: dir, Binary: "/x/leakstop", Chain: true})
	if err != nil || res.Chained != filepath.Join(hooks, ChainedName) {
		t.Fatalf("chain = %+v %v", res, err)
	}
	if b, _ := os.ReadFile(res.Chained); string(b) != foreign {
		t.Fatal("chained hook changed")
	}
	// A second foreign hook cannot be chained while the first one is.
	if err := os.WriteFile(path, []byte(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	var ce *ChainConflictError
	if _, err := Install(ctx, Options{Dir: dir, Binary: "/x/leakstop", Chain: true}); !errors.As(err, &ce) {
		t.Fatalf("chain conflict: err = %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	un, err = Uninstall(ctx, dir)
	if err != nil || un.Removed || !un.Restored {
		t.Fatalf("restore = %+v %v", un, err)
	}
	if b, _ := os.ReadFile(path); string(b) != foreign {
		t.Fatal("chained hook not restored")
	}

	// A dangling symbolic link is someone's hook, not "no hook".
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), path); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(ctx, Options{Dir: dir, Binary: "/x/leakstop"}); !errors.As(err, &fe) {
		t.Fatalf("dangling link: err = %v", err)
	}
	res, err = Install(ctx, Options{Dir: dir, Binary: "/x/leakstop", Force: true})
	if err != nil || res.Backup != filepath.Join(hooks, BackupName) {
		t.Fatalf("force = %+v %v", res, err)
	}
	if _, err := os.Lstat(res.Backup); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

func TestInstallNotARepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	_, err := Install(context.Background(), Options{Dir: t.TempDir(), Binary: "/x/leakstop"})
	if err == nil || !strings.Contains(err.Error(), "not in a git repository") {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteBlockedRedacts(t *testing.T) {
	dir := newRepo(t)
	c := newCred(t)
	write(t, dir, "x\x1b[31m.env", c.env())
	run(t, dir, "git", "add", ".")
	res, err := ScanStaged(context.Background(), detector(t), dir, "", scanner.Options{})
	if err != nil || len(res.Findings) != 1 {
		t.Fatalf("%v %v", res, err)
	}
	var b bytes.Buffer
	if err := WriteBlocked(&b, res.Findings); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, c.token) || strings.Contains(out, "\x1b") {
		t.Fatalf("unsafe output:\n%q", out)
	}
	for _, want := range []string{c.sid, res.Findings[0].Fingerprint, `"x\x1b[31m.env":2:`, "leakstop:allow", ".leakstopignore", "--no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
