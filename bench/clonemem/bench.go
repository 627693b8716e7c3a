package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/leakstop/leakstop/orgscan"
	"github.com/sourcegraph/conc"
)

// methods are the ways of cloning that bench compares.
var methods = map[string]func(self, url, dir string) []string{
	// git clone --mirror with git's defaults.
	"git": func(_, url, dir string) []string {
		return []string{"git", "clone", "--mirror", "--quiet", url, dir}
	},
	// The same with the settings orgscan.Mirror uses: one index-pack
	// thread and a smaller delta base cache.
	"git-lowmem": func(_, url, dir string) []string {
		return []string{"git", "-c", "pack.threads=1", "-c", "core.deltaBaseCacheLimit=32m",
			"clone", "--mirror", "--quiet", url, dir}
	},
	// orgscan.Mirror.Sync, as the org scan runs it, in a child process.
	"mirror": func(self, url, dir string) []string {
		return []string{self, "mirror-sync", url, dir}
	},
	// go-git's PlainClone of a bare repository, in a child process.
	"gogit": func(self, url, dir string) []string {
		return []string{self, "gogit-clone", url, dir}
	},
}

func benchMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	repo := fs.String("repo", "", "bare repository to serve")
	which := fs.String("methods", "git,git-lowmem,mirror,gogit", "clone methods, comma-separated")
	work := fs.String("work", "", "directory for the clones (default: a temporary one)")
	killMiB := fs.Int64("kill-above", 3072, "kill a clone whose process tree goes over this many MiB (0: never)")
	_ = fs.Parse(args)
	if *repo == "" {
		usage()
	}
	abs, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	desc, err := describe(abs)
	if err != nil {
		return err
	}
	fmt.Printf("served repository: %s\n", desc)
	url, stop, err := serve(abs)
	if err != nil {
		return err
	}
	defer stop()
	if *work == "" {
		if *work, err = os.MkdirTemp("", "clonemem-"); err != nil {
			return err
		}
		defer os.RemoveAll(*work)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, m := range strings.Split(*which, ",") {
		argv, ok := methods[m]
		if !ok {
			return fmt.Errorf("unknown method %q", m)
		}
		dir := filepath.Join(*work, m+".git")
		_ = os.RemoveAll(dir)
		cmd := argv(self, url, dir)
		// No user or system configuration: the figures are git's defaults.
		r, err := run(ctx, cmd, []string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + *work, "GIT_TERMINAL_PROMPT=0"}, *killMiB<<20)
		if err != nil {
			return err
		}
		got := "clone failed"
		if r.Exit == 0 {
			if m == "mirror" {
				// Mirror.Sync writes ROOT/HOST/ID.git.
				if found, _ := filepath.Glob(filepath.Join(dir, "*", "1.git")); len(found) == 1 {
					got, _ = describe(found[0])
				}
			} else {
				got, _ = describe(dir)
			}
		}
		fmt.Printf("%-10s %s\n           cloned: %s\n           command: %s\n", m, r, got, strings.Join(cmd, " "))
		_ = os.RemoveAll(dir)
	}
	return nil
}

// serve serves the parent directory of repo with `git http-backend`
// behind net/http/cgi on a loopback port, and returns repo's URL.
func serve(repo string) (string, func(), error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", nil, fmt.Errorf("find git's exec path: %w", err)
	}
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(repo), "GIT_HTTP_EXPORT_ALL=1"},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	var wg conc.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "clonemem: serve:", err)
		}
	})
	stop := func() { _ = srv.Close(); wg.Wait() }
	return "http://" + l.Addr().String() + "/" + filepath.Base(repo), stop, nil
}

// gogitClone clones args[0] into the bare repository args[1] with go-git.
func gogitClone(ctx context.Context, args []string) error {
	if len(args) != 2 {
		usage()
	}
	_, err := git.PlainCloneContext(ctx, args[1], true, &git.CloneOptions{URL: args[0], Mirror: true})
	if err != nil {
		return fmt.Errorf("go-git clone %s: %w", args[0], err)
	}
	return nil
}

// mirrorSync mirrors args[0] into the cache directory args[1] with
// orgscan.Mirror (as repository id 1).
func mirrorSync(ctx context.Context, args []string) error {
	if len(args) != 2 {
		usage()
	}
	m := &orgscan.Mirror{Root: args[1]}
	_, err := m.Sync(ctx, orgscan.Repo{ID: 1, FullName: "bench/repo", CloneURL: args[0]})
	return err
}
