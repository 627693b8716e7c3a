package main

import (
	"errors"
	"slices"
	"testing"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/hook"
	"github.com/leakstop/leakstop/pipeline"
)

// TestHookSource: what "hook run" scans for each way the pre-commit
// framework (or git) runs it. The framework tests run the real thing;
// this pins the precedence, including what they cannot reach (the old
// variable names, a half-set range, post-checkout).
func TestHookSource(t *testing.T) {
	const top = "/repo"
	env := func(kv ...string) hookEnv {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return hookEnvFrom(func(k string) string { return m[k] })
	}
	files := []string{"a.py", "dir/b.env"}
	cases := []struct {
		name    string
		env     hookEnv
		files   []string
		kind    pipeline.SourceKind
		scope   hook.ScopeKind
		revs    gitdb.Range
		branch  string
		staged  bool
		paths   []string
		nothing bool
		usage   bool
	}{
		{name: "native hook: staged index", env: env("GIT_INDEX_FILE", "/repo/.git/index"), kind: pipeline.SourceGit, scope: hook.ScopeStaged, staged: true},
		{name: "files of a commit", env: env("GIT_INDEX_FILE", "/repo/.git/index"), files: files, kind: pipeline.SourcePaths, scope: hook.ScopeStaged, paths: files},
		{name: "run --files", files: files, kind: pipeline.SourcePaths, scope: hook.ScopeFiles, paths: files},
		{name: "run --from-ref --to-ref", env: env("PRE_COMMIT_FROM_REF", "A", "PRE_COMMIT_TO_REF", "B"), files: files, kind: pipeline.SourceGit, scope: hook.ScopeRange, revs: gitdb.BaseHead("A", "B")},
		{name: "old variable names", env: env("PRE_COMMIT_ORIGIN", "A", "PRE_COMMIT_SOURCE", "B"), kind: pipeline.SourceGit, scope: hook.ScopeRange, revs: gitdb.BaseHead("A", "B")},
		{name: "pre-push with a range", env: env("PRE_COMMIT_FROM_REF", "A", "PRE_COMMIT_TO_REF", "B", "PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main", "PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main"), files: files, kind: pipeline.SourceGit, scope: hook.ScopePush, revs: gitdb.BaseHead("A", "B")},
		{name: "pre-push of a new history (--all-files)", env: env("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/topic", "PRE_COMMIT_REMOTE_BRANCH", "refs/heads/topic"), files: files, kind: pipeline.SourceGit, scope: hook.ScopePush, branch: "refs/heads/topic"},
		{name: "post-checkout", env: env("PRE_COMMIT_FROM_REF", "A", "PRE_COMMIT_TO_REF", "B", "PRE_COMMIT_CHECKOUT_TYPE", "1"), nothing: true},
		{name: "half a range", env: env("PRE_COMMIT_FROM_REF", "A"), usage: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, sc, nothing, err := hookSource(top, c.env, c.files)
			var ue *usageError
			if c.usage {
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.nothing {
				if nothing == "" {
					t.Fatal("want nothing to scan")
				}
				return
			}
			if nothing != "" || src.Kind != c.kind || sc.Kind != c.scope || src.Path != top {
				t.Fatalf("got kind %v scope %v path %q nothing %q, want kind %v scope %v", src.Kind, sc.Kind, src.Path, nothing, c.kind, c.scope)
			}
			if !slices.Equal(src.Git.Revs.Include, c.revs.Include) || !slices.Equal(src.Git.Revs.Exclude, c.revs.Exclude) ||
				src.Git.Branch != c.branch || src.Git.Staged != c.staged || !slices.Equal(src.Paths, c.paths) {
				t.Fatalf("got source %+v", src)
			}
		})
	}
}
