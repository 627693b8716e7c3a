package orgscan

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// Mirror keeps a bare mirror of each repository under Root, fetched with
// the git binary: fetching a git/git-sized history peaks at 80-145 MiB
// with it, at 3 to 8 times that with go-git's clone (365-496 MiB), too
// near the 512 MiB worker bound (bench/clonemem.sh has the figures).
// Mirrors are keyed by host and the repository's GitHub id, so a renamed
// or transferred repository keeps its mirror.
//
// The token goes to git only through its environment (an
// http.extraHeader set with GIT_CONFIG_COUNT): never on a command line,
// in a URL, in the mirror's config or on disk. git runs with no system,
// global or user configuration, no credential helper, no prompt, no
// hooks, and only the http and https transports.
type Mirror struct {
	// Root is the cache directory; nothing is written outside it.
	Root string
	// Git is the git binary; "" means "git" on PATH.
	Git string
	// Tokens gives the token for fetches; nil fetches anonymously.
	Tokens TokenSource
	// MaxConcurrent bounds the fetches running at once through this
	// Mirror (one Mirror per token); 0 means 4.
	MaxConcurrent int
	// Log receives one debug line per fetch; nil discards.
	Log *slog.Logger

	once sync.Once
	sem  chan struct{}
}

// Synced is the outcome of one Sync.
type Synced struct {
	// Path is the bare mirror's directory.
	Path string
	// Received is the size in bytes of the packs the fetch wrote: the
	// pack data received (a thin pack is stored with the bases it lacked
	// appended, so it can be a little more than the bytes on the wire).
	Received int64
	// Empty is true when the repository has no branch and no tag.
	Empty bool
	// Fetched is true when the fetch changed the mirror: a ref was
	// created, moved or deleted. A mirror already up to date is false.
	Fetched bool
}

// ErrInvalidRepo is wrapped by the FetchError of a repository refused
// before any git traffic (bad id, host or clone URL): retrying cannot
// help until the listing changes.
var ErrInvalidRepo = errors.New("invalid repository")

// FetchError is a repository that could not be mirrored. Reason is
// fit for a report: it names what failed and git's own message, with
// the token scrubbed out.
type FetchError struct {
	Repo   Repo
	Reason string
	Err    error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("mirror %s (id %d): %s", e.Repo.FullName, e.Repo.ID, e.Reason)
}

func (e *FetchError) Unwrap() error { return e.Err }

// fetchRefspecs mirror branches and tags, not refs/pull/* or other
// hidden refs; forced so force pushes are mirrored.
var fetchRefspecs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// maxPacks is the number of packs past which Sync consolidates them
// (every fetch adds one). A variable for tests.
var maxPacks = 32

func (m *Mirror) git() string {
	if m.Git == "" {
		return "git"
	}
	return m.Git
}

func (m *Mirror) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return m.Log
}

func (m *Mirror) acquire(ctx context.Context) (func(), error) {
	m.once.Do(func() {
		n := m.MaxConcurrent
		if n <= 0 {
			n = 4
		}
		m.sem = make(chan struct{}, n)
	})
	select {
	case m.sem <- struct{}{}:
		return func() { <-m.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a fetch slot: %w", ctx.Err())
	}
}

func invalid(r Repo, format string, args ...any) *FetchError {
	reason := fmt.Sprintf(format, args...)
	return &FetchError{Repo: r, Reason: reason, Err: fmt.Errorf("%w: %s", ErrInvalidRepo, reason)}
}

// cloneURL checks r's clone URL: http or https, a plain host name (and
// port), no user name or password, no query or fragment, no control
// characters. It returns the URL and the host's directory name.
func cloneURL(r Repo) (*url.URL, string, error) {
	raw := r.CloneURL
	if raw == "" {
		return nil, "", invalid(r, "no clone URL")
	}
	for _, c := range raw {
		if c <= ' ' || c == 0x7f || c == '\\' {
			return nil, "", invalid(r, "clone URL holds a control character, space or backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", invalid(r, "clone URL does not parse")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, "", invalid(r, "clone URL scheme %q is not http or https", u.Scheme)
	case u.User != nil:
		return nil, "", invalid(r, "clone URL holds a user name or password")
	case u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, "", invalid(r, "clone URL holds a query, fragment or opaque part")
	case u.Path == "" || u.Path == "/":
		return nil, "", invalid(r, "clone URL has no path")
	}
	host, err := hostDir(u)
	if err != nil {
		return nil, "", invalid(r, "clone URL host: %v", err)
	}
	return u, host, nil
}

// hostDir is the directory name of u's host: lower-case letters, digits,
// '-' and '.' in labels that do not start or end with '.', then "_PORT"
// when the URL names a port.
func hostDir(u *url.URL) (string, error) {
	h := strings.ToLower(u.Hostname())
	if h == "" || len(h) > 253 {
		return "", errors.New("missing or too long")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || strings.HasPrefix(label, "-") {
			return "", fmt.Errorf("%q is not a host name", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%q is not a host name", h)
			}
		}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("bad port %q", p)
		}
		h += "_" + strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("empty port")
	}
	return h, nil
}

// Path is the directory of r's mirror: Root/HOST/ID.git. It fails for a
// repository without a positive id or with a clone URL Sync would refuse.
func (m *Mirror) Path(r Repo) (string, error) {
	if m.Root == "" {
		return "", errors.New("mirror: no cache directory")
	}
	if r.ID <= 0 {
		return "", invalid(r, "id %d is not a GitHub repository id", r.ID)
	}
	_, host, err := cloneURL(r)
	if err != nil {
		return "", err
	}
	root, err := filepath.Abs(m.Root)
	if err != nil {
		return "", fmt.Errorf("resolve cache directory: %w", err)
	}
	p := filepath.Join(root, host, strconv.FormatInt(r.ID, 10)+".git")
	if rel, err := filepath.Rel(root, p); err != nil || !filepath.IsLocal(rel) {
		return "", invalid(r, "mirror path leaves the cache directory")
	}
	return p, nil
}

// Sync creates r's mirror on first use and fetches its branches and
// tags, pruning the ones deleted upstream. An empty repository is not an
// error. Any failure, including advertised refs whose objects the server
// does not send (git's connectivity check), is a *FetchError.
func (m *Mirror) Sync(ctx context.Context, r Repo) (Synced, error) {
	dir, err := m.Path(r)
	if err != nil {
		return Synced{}, err
	}
	u, _, _ := cloneURL(r) // checked by Path
	release, err := m.acquire(ctx)
	if err != nil {
		return Synced{}, &FetchError{Repo: r, Reason: err.Error(), Err: err}
	}
	defer release()

	var token string
	if m.Tokens != nil {
		if token, err = m.Tokens.Token(ctx); err != nil {
			return Synced{}, &FetchError{Repo: r, Reason: "get token: " + err.Error(), Err: err}
		}
	}
	run := m.runner(r, token)
	if err := m.prepare(ctx, r, dir, run); err != nil {
		return Synced{}, err
	}
	before, err := run(ctx, dir, false, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return Synced{}, err
	}
	packsBefore := packSizes(dir)
	start := time.Now()
	args := append([]string{"fetch", "--prune", "--no-tags", "--no-write-fetch-head",
		"--quiet", "--end-of-options", u.String()}, fetchRefspecs...)
	if _, err := run(ctx, dir, true, args...); err != nil {
		return Synced{}, err
	}
	after, err := run(ctx, dir, false, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return Synced{}, err
	}
	s := Synced{Path: dir, Empty: len(after) == 0, Fetched: !bytes.Equal(before, after)}
	if b := r.DefaultBranch; b != "" && bytes.Contains(after, []byte(" refs/heads/"+b+"\n")) {
		// HEAD names the default branch, as in a clone (git created the
		// ref, so the name is valid).
		if _, err := run(ctx, dir, false, "symbolic-ref", "HEAD", "refs/heads/"+b); err != nil {
			return Synced{}, err
		}
	}
	packs := packSizes(dir)
	for p, n := range packs {
		if _, ok := packsBefore[p]; !ok {
			s.Received += n
		}
	}
	m.log().DebugContext(ctx, "mirror fetched", "repo", r.FullName, "id", r.ID,
		"received", s.Received, "changed", s.Fetched, "empty", s.Empty, "duration", time.Since(start))
	if len(packs) > maxPacks {
		// Consolidate, reusing the deltas the packs hold; the delta
		// search for the rest runs on one thread in a bounded window
		// (pack.threads, pack.windowMemory).
		if _, err := run(ctx, dir, false, "repack", "-a", "-d", "-q"); err != nil {
			return Synced{}, err
		}
	}
	return s, nil
}

// prepare creates the bare repository dir (and the empty home directory
// git runs with) unless it exists.
func (m *Mirror) prepare(ctx context.Context, r Repo, dir string, run runFunc) error {
	if fi, err := os.Lstat(filepath.Join(dir, "HEAD")); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	hostDir := filepath.Dir(dir)
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return &FetchError{Repo: r, Reason: "create cache directory: " + err.Error(), Err: err}
	}
	// A symbolic link planted in the cache could lead outside it.
	for _, d := range []string{hostDir, dir} {
		if fi, err := os.Lstat(d); err == nil && !fi.IsDir() {
			err := fmt.Errorf("%s is not a directory", d)
			return &FetchError{Repo: r, Reason: err.Error(), Err: err}
		}
	}
	// --template= : no hooks or other files from a system template.
	if _, err := run(ctx, "", false, "init", "--bare", "--quiet", "--template=", dir); err != nil {
		return err
	}
	return nil
}

// runFunc runs git in dir; network says whether the command talks to the
// server (and so gets the token).
type runFunc func(ctx context.Context, dir string, network bool, args ...string) ([]byte, error)

// runner returns the function running git for r with the environment
// built from scratch: nothing of the process's GIT_* variables, home or
// configuration reaches git.
func (m *Mirror) runner(r Repo, token string) runFunc {
	// Absolute: git runs in the mirror's directory. Host names never
	// start with '.', so no mirror lands there.
	home := filepath.Join(m.Root, ".home")
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	var secrets []secret.Value
	header := ""
	if token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		header = "Authorization: Basic " + basic
		secrets = []secret.Value{secret.New(token), secret.New(basic)}
	}
	return func(ctx context.Context, dir string, network bool, args ...string) ([]byte, error) {
		if err := os.MkdirAll(home, 0o700); err != nil {
			return nil, &FetchError{Repo: r, Reason: "create git home: " + err.Error(), Err: err}
		}
		cfg := [][2]string{
			{"credential.helper", ""}, // resets the helper list
			{"core.askPass", ""},
			{"core.hooksPath", os.DevNull},
			{"protocol.allow", "never"},
			{"protocol.https.allow", "always"},
			{"protocol.http.allow", "always"},
			// A redirect could take the header to another host.
			{"http.followRedirects", "false"},
			{"gc.auto", "0"},
			{"maintenance.auto", "false"},
			// Keep every fetched pack as a pack (Received measures it).
			{"fetch.unpackLimit", "1"},
			// Memory: one index-pack thread, a small delta base cache.
			{"pack.threads", "1"},
			{"core.deltaBaseCacheLimit", "32m"},
			// The connectivity check after a fetch reads every commit
			// and tree: map the packs in small windows, not whole.
			{"core.packedGitWindowSize", "16m"},
			{"core.packedGitLimit", "64m"},
			{"pack.windowMemory", "64m"},
		}
		if network && header != "" {
			cfg = append(cfg, [2]string{"http.extraHeader", header})
		}
		env := baseEnv(home)
		env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
		for i, kv := range cfg {
			env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
		}
		cmd := exec.CommandContext(ctx, m.git(), args...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.WaitDelay = 5 * time.Second
		// A worker killed mid-fetch takes its git with it, so that the
		// worker taking the repository over does not race it for the
		// mirror's locks.
		cmd.SysProcAttr = dieWithParent()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(secret.Scrub(errb.String(), secrets...))
			if len(msg) > 2000 {
				msg = msg[len(msg)-2000:]
			}
			if msg == "" {
				msg = err.Error()
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, &FetchError{Repo: r, Reason: fmt.Sprintf("git %s: %s", args[0], msg),
				Err: secret.ScrubError(err, secrets...)}
		}
		return out.Bytes(), nil
	}
}

// baseEnv is git's whole environment: PATH, locale, proxy and TLS
// settings from the process, and a home without configuration.
func baseEnv(home string) []string {
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_PROTOCOL_FROM_USER=0",
		"GIT_ALLOW_PROTOCOL=http:https",
		"LC_ALL=C",
	}
	for _, k := range []string{"PATH", "TMPDIR", "SYSTEMROOT",
		"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// packSizes maps each pack file of the repository at dir to its size.
func packSizes(dir string) map[string]int64 {
	sizes := map[string]int64{}
	matches, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	for _, p := range matches {
		if fi, err := os.Stat(p); err == nil {
			sizes[filepath.Base(p)] = fi.Size()
		}
	}
	return sizes
}
