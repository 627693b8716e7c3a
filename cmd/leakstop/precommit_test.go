package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestPreCommitFramework runs the scripts in testdata/script/precommit
// with the real pre-commit framework (Debian's package; .ci/precommit.sh
// installs it) and both hook ids of .pre-commit-hooks.yaml: leakstop-system
// runs the leakstop of the test binary, leakstop (language golang) is built
// by pre-commit with "go install" from a copy of this module's files in a
// git repository. Without pre-commit the test skips, except under CI=true,
// where it fails: CI must not pass by skipping it.
func TestPreCommitFramework(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the pre-commit framework tests build leakstop inside pre-commit")
	}
	pc, err := exec.LookPath("pre-commit")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pre-commit is not installed but CI=true: the framework tests must run in CI (bash .ci/precommit.sh)")
		}
		t.Skip("pre-commit is not installed (apt-get install -y pre-commit, or bash .ci/precommit.sh): skipping the framework tests")
	}
	goEnv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOSUMDB"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script/precommit",
		Setup: func(e *testscript.Env) error {
			e.Setenv("SID", "AC"+randHex(16))
			e.Setenv("TOKEN", randHex(16))
			e.Setenv("SID2", "AC"+randHex(16))
			e.Setenv("TOKEN2", randHex(16))
			e.Setenv("NO_COLOR", "1")
			e.Setenv("PRE_COMMIT_BIN", pc)
			// pre-commit's golang language runs "go install ./..." with
			// the environment it is given: share this machine's caches so
			// that it builds from the module cache, not the network.
			for k, v := range goEnv {
				e.Setenv(k, v)
			}
			e.Setenv("GOTOOLCHAIN", "local")
			e.Setenv("PATH", e.Getenv("PATH")+string(os.PathListSeparator)+filepath.Dir(goBin))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"expand": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, f := range args {
					out := os.Expand(ts.ReadFile(f), ts.Getenv)
					if err := os.WriteFile(ts.MkAbs(f), []byte(out), 0o644); err != nil {
						ts.Fatalf("expand %s: %v", f, err)
					}
				}
			},
			// leakstoprepo DIR: a git repository in DIR holding this
			// module's files as they are now (committed or not), one
			// commit; $LEAKSTOP_REV is its id.
			"leakstoprepo": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: leakstoprepo DIR")
				}
				ts.Setenv("LEAKSTOP_REV", copyModuleRepo(ts, root, ts.MkAbs(args[0])))
			},
		},
	})
}

// copyModuleRepo copies the files of the module at root that git tracks
// or would track (not ignored) into dir, commits them and returns the
// commit's id.
func copyModuleRepo(ts *testscript.TestScript, root, dir string) string {
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+ts.Getenv("HOME"),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	list := git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, name := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		src := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		data, err := os.ReadFile(src)
		ts.Check(err)
		dst := filepath.Join(dir, filepath.FromSlash(name))
		ts.Check(os.MkdirAll(filepath.Dir(dst), 0o755))
		ts.Check(os.WriteFile(dst, data, info.Mode().Perm()))
	}
	git(dir, "init", "-q", "-b", "main")
	git(dir, "add", "-A")
	git(dir, "commit", "-q", "-m", "leakstop as tested")
	return strings.TrimSpace(git(dir, "rev-parse", "HEAD"))
}
