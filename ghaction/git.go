package ghaction

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/leakstop/leakstop/internal/gitcmd"
)

// gitRepo runs git in the checkout.
type gitRepo struct {
	gitcmd.Repo
	remote string
	// token and server authenticate a fetch that failed without them
	// (a checkout with persist-credentials: false).
	token, server string
	log           func(format string, a ...any)
}

func (g *gitRepo) run(ctx context.Context, env []string, args ...string) (string, error) {
	out, err := g.Output(ctx, env, args...)
	return strings.TrimSpace(string(out)), err
}

func (g *gitRepo) git(ctx context.Context, args ...string) (string, error) {
	return g.Text(ctx, args...)
}

func (g *gitRepo) hasCommit(ctx context.Context, sha string) bool { return g.HasCommit(ctx, sha) }

func (g *gitRepo) shallow(ctx context.Context) (bool, error) {
	out, err := g.git(ctx, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return false, err
	}
	return out == "true", nil
}

func (g *gitRepo) hasRemote(ctx context.Context) bool {
	_, err := g.git(ctx, "remote", "get-url", g.remote)
	return err == nil
}

// mergeBase returns the best common ancestor, "" when there is none in
// the local history.
func (g *gitRepo) mergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := g.git(ctx, "merge-base", a, b)
	var ge *gitcmd.Error
	if errors.As(err, &ge) && ge.ExitCode() == 1 {
		return "", nil // no common ancestor
	}
	return out, err
}

// fetch runs git fetch from the remote; when it fails and a token is at
// hand for an https remote on the GitHub server, it tries once more with
// the token in an Authorization header passed through the environment
// (never on the command line).
func (g *gitRepo) fetch(ctx context.Context, args ...string) error {
	full := append([]string{"-c", "protocol.version=2", "fetch", "--no-tags", "--no-recurse-submodules", "--quiet"}, args...)
	_, err := g.run(ctx, nil, full...)
	if err == nil || g.token == "" {
		return err
	}
	u, uerr := g.git(ctx, "remote", "get-url", g.remote)
	srv, serr := url.Parse(g.server)
	ru, rerr := url.Parse(u)
	if uerr != nil || serr != nil || rerr != nil || ru.Scheme != "https" || ru.Host != srv.Host {
		return err
	}
	auth := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + g.token))
	env := []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http." + srv.Scheme + "://" + srv.Host + "/.extraheader",
		"GIT_CONFIG_VALUE_0=AUTHORIZATION: basic " + auth,
	}
	if _, err2 := g.run(ctx, env, full...); err2 != nil {
		return err // the first error: the retry's may mention the header
	}
	return nil
}

// ensureCommits fetches the commits that are missing, depth deep when the
// repository is shallow. A commit that cannot be fetched by id is looked
// for under the fallback refspecs (a pull request's refs/pull/N/head).
func (g *gitRepo) ensureCommits(ctx context.Context, depth int, fallback []string, shas ...string) error {
	var missing []string
	for _, s := range shas {
		if s != "" && !g.hasCommit(ctx, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !g.hasRemote(ctx) {
		return fmt.Errorf("commit %s is not in the checkout and there is no %q remote to fetch it from", short(missing[0]), g.remote)
	}
	shallow, err := g.shallow(ctx)
	if err != nil {
		return err
	}
	var opts []string
	if shallow {
		opts = append(opts, "--depth="+strconv.Itoa(max(depth, 1)))
	}
	g.log("fetching %s from %s%s", strings.Join(shortAll(missing), ", "), g.remote, depthNote(opts))
	err = g.fetch(ctx, append(append(opts, g.remote), missing...)...)
	if err != nil && len(fallback) > 0 {
		g.log("fetch by commit id failed (%v); fetching %s", err, strings.Join(fallback, ", "))
		err = g.fetch(ctx, append(append(opts, g.remote), fallback...)...)
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", strings.Join(shortAll(missing), ", "), err)
	}
	for _, s := range missing {
		if !g.hasCommit(ctx, s) {
			return fmt.Errorf("commit %s is not in the checkout, and fetching did not bring it", short(s))
		}
	}
	return nil
}

func depthNote(opts []string) string {
	if len(opts) == 0 {
		return ""
	}
	return " (" + strings.TrimPrefix(opts[0], "--") + ")"
}

func shortAll(shas []string) []string {
	out := make([]string, len(shas))
	for i, s := range shas {
		out[i] = short(s)
	}
	return out
}

// deepenSteps is how far a shallow checkout is deepened, in commits,
// before the history is fetched in full.
var deepenSteps = []int{50, 200, 1000}

// ensureMergeBase makes the history between base and head complete enough
// for "base..head": both commits and their merge base. A shallow checkout
// is deepened step by step, then unshallowed. It returns the merge base,
// or "" when the histories are unrelated (then all of head is new).
func (g *gitRepo) ensureMergeBase(ctx context.Context, base, head string, hint int, fallback []string) (string, error) {
	// The head side needs its own commits plus one: the merge base.
	if err := g.ensureCommits(ctx, hint+1, fallback, head, base); err != nil {
		return "", err
	}
	for i := 0; ; i++ {
		mb, err := g.mergeBase(ctx, base, head)
		if err != nil {
			return "", fmt.Errorf("find the merge base of %s and %s: %w", short(base), short(head), err)
		}
		if mb != "" {
			return mb, nil
		}
		shallow, err := g.shallow(ctx)
		if err != nil {
			return "", err
		}
		if !shallow {
			g.log("%s and %s have no common history: every commit of %s is new", short(base), short(head), short(head))
			return "", nil
		}
		if !g.hasRemote(ctx) {
			return "", fmt.Errorf("the checkout is shallow and there is no %q remote to deepen it from", g.remote)
		}
		if i < len(deepenSteps) {
			step := max(deepenSteps[i], hint+1)
			g.log("no merge base yet in the shallow checkout: deepening by %d commits", step)
			if err := g.fetch(ctx, "--deepen="+strconv.Itoa(step), g.remote, base, head); err != nil {
				return "", fmt.Errorf("deepen the checkout: %w", err)
			}
			continue
		}
		g.log("no merge base yet: fetching the whole history")
		if err := g.fetch(ctx, "--unshallow", g.remote, base, head); err != nil {
			return "", fmt.Errorf("unshallow the checkout: %w", err)
		}
	}
}

// fetchBranch fetches a branch of the remote into refs/remotes, returning
// the commit it points at; depth applies to shallow checkouts.
func (g *gitRepo) fetchBranch(ctx context.Context, branch string, depth int) (string, error) {
	if !validBranch(branch) {
		return "", fmt.Errorf("bad branch name")
	}
	ref := "refs/remotes/" + g.remote + "/" + branch
	if g.hasRemote(ctx) {
		shallow, err := g.shallow(ctx)
		if err != nil {
			return "", err
		}
		args := []string{}
		if shallow {
			args = append(args, "--depth="+strconv.Itoa(max(depth, 1)))
		}
		args = append(args, g.remote, "+refs/heads/"+branch+":"+ref)
		if err := g.fetch(ctx, args...); err != nil {
			return "", fmt.Errorf("fetch branch %s: %w", branch, err)
		}
	}
	for _, r := range []string{ref, "refs/heads/" + branch} {
		if out, err := g.git(ctx, "rev-parse", "--verify", "--quiet", r+"^{commit}"); err == nil {
			return out, nil
		}
	}
	return "", fmt.Errorf("branch %s not found", branch)
}

// fetchAll makes the checkout hold every branch and tag with full history.
func (g *gitRepo) fetchAll(ctx context.Context) error {
	if !g.hasRemote(ctx) {
		shallow, err := g.shallow(ctx)
		if err != nil {
			return err
		}
		if shallow {
			return fmt.Errorf("the checkout is shallow and there is no %q remote to fetch the history from", g.remote)
		}
		return nil
	}
	shallow, err := g.shallow(ctx)
	if err != nil {
		return err
	}
	args := []string{"--prune"}
	if shallow {
		args = append(args, "--unshallow")
	}
	args = append(args, g.remote, "+refs/heads/*:refs/remotes/"+g.remote+"/*", "+refs/tags/*:refs/tags/*")
	g.log("fetching every branch and tag with their whole history")
	if err := g.fetch(ctx, args...); err != nil {
		return fmt.Errorf("fetch the history: %w", err)
	}
	return nil
}
