package ghaction

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/internal/githubtest"
)

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// cred is a credential generated for one test: the repository holds none.
type cred struct{ sid, token string }

func newCred(t testing.TB) cred { return cred{"AC" + randHex(t, 16), randHex(t, 16)} }

func (c cred) env() string {
	return "TWILIO_ACCOUNT_SID=" + c.sid + "\nTWILIO_AUTH_TOKEN=" + c.token + "\n"
}

// gitEnv isolates git from the user's configuration.
func gitEnv(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "Dev")
	t.Setenv("GIT_AUTHOR_EMAIL", "dev@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "Dev")
	t.Setenv("GIT_COMMITTER_EMAIL", "dev@example.com")
	for _, k := range []string{"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", msg)
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// world is a GitHub-like setup: an origin repository (bare, the server's
// copy), a developer's clone that pushes to it, a runner workspace
// cloned shallow like actions/checkout, and a fake GitHub API.
type world struct {
	t      *testing.T
	origin string // bare repository
	dev    string // where commits are made
	ws     string // the runner's checkout
	gh     *githubtest.Server
	files  string // event, output, summary, runner temp
	stdout bytes.Buffer
	stderr bytes.Buffer
	sleeps []time.Duration
}

func newWorld(t *testing.T) *world {
	t.Helper()
	gitEnv(t)
	root := t.TempDir()
	w := &world{t: t, origin: filepath.Join(root, "origin.git"), dev: filepath.Join(root, "dev"),
		ws: filepath.Join(root, "ws"), files: filepath.Join(root, "runner")}
	gitIn(t, root, "init", "-q", "--bare", "-b", "main", w.origin)
	gitIn(t, root, "init", "-q", "-b", "main", w.dev)
	gitIn(t, w.dev, "remote", "add", "origin", w.origin)
	if err := os.MkdirAll(filepath.Join(w.files, "temp"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.gh = githubtest.New(t)
	return w
}

func (w *world) push(refspecs ...string) {
	w.t.Helper()
	gitIn(w.t, w.dev, append([]string{"push", "-q", "--force", "origin"}, refspecs...)...)
}

// checkout clones the origin at ref, depth 1, as actions/checkout does.
func (w *world) checkout(ref string) {
	w.t.Helper()
	os.RemoveAll(w.ws)
	gitIn(w.t, filepath.Dir(w.ws), "clone", "-q", "--depth=1", "--no-tags", "--branch", ref, "file://"+w.origin, w.ws)
}

func (w *world) event(name string, payload any) map[string]string {
	w.t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	p := filepath.Join(w.files, "event.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		w.t.Fatal(err)
	}
	return map[string]string{
		"GITHUB_EVENT_NAME":   name,
		"GITHUB_EVENT_PATH":   p,
		"GITHUB_WORKSPACE":    w.ws,
		"GITHUB_REPOSITORY":   "octo/app",
		"GITHUB_API_URL":      w.gh.URL(),
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_OUTPUT":       filepath.Join(w.files, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(w.files, "summary.md"),
		"RUNNER_TEMP":         filepath.Join(w.files, "temp"),
		"INPUT_GITHUB_TOKEN":  w.gh.Token(),
	}
}

// config is what main passes Run: the inputs and the GITHUB_* context
// read from env.
func (w *world) config(env map[string]string) (Config, error) {
	getenv := func(k string) string { return env[k] }
	in, err := ReadInputs(getenv)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Inputs:      in,
		Context:     ReadContext(getenv),
		Stdout:      &w.stdout,
		Stderr:      &w.stderr,
		ToolVersion: "test",
		Clock: ghretry.Clock{Sleep: func(ctx context.Context, d time.Duration) error {
			w.sleeps = append(w.sleeps, d)
			if d <= 3*time.Second {
				// go-github itself refuses to call before a reset it
				// has seen: short waits are taken for real.
				time.Sleep(d)
			}
			return nil
		}},
	}, nil
}

func (w *world) run(env map[string]string) (*Result, error) {
	w.t.Helper()
	cfg, err := w.config(env)
	if err != nil {
		return nil, err
	}
	return Run(context.Background(), cfg)
}

func (w *world) read(name string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.files, name))
	if err != nil && !os.IsNotExist(err) {
		w.t.Fatal(err)
	}
	return string(b)
}

// outputs parses $GITHUB_OUTPUT (the last value of each name wins).
func (w *world) outputs() map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(w.read("output"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// noSecrets fails when a secret appears in anything the action wrote,
// printed or sent.
func (w *world) noSecrets(secrets ...string) {
	w.t.Helper()
	texts := map[string]string{
		"stdout":  w.stdout.String(),
		"stderr":  w.stderr.String(),
		"output":  w.read("output"),
		"summary": w.read("summary.md"),
	}
	_ = filepath.WalkDir(filepath.Join(w.files, "temp"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			b, _ := os.ReadFile(p)
			texts[p] = string(b)
		}
		return nil
	})
	for i, r := range w.gh.Requests() {
		texts["request "+r.Method+" "+r.Path+" #"+string(rune('0'+i%10))] = string(r.Body) + r.RawQuery
	}
	for name, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				w.t.Errorf("%s holds a secret", name)
			}
		}
	}
}
