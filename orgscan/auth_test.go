package orgscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/leakstop/leakstop/internal/githubtest"
)

func TestStaticTokenIsRedacted(t *testing.T) {
	const tok = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
	s := NewStaticToken(tok)
	got, err := s.Token(context.Background())
	if err != nil || got != tok {
		t.Fatalf("Token = %q, %v", got, err)
	}
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "token", s)
	js, _ := json.Marshal(struct{ T StaticToken }{s})
	out := fmt.Sprintf("%v %s %+v %#v %q %x %d", s, s, s, s, s, s, s) + string(js) + log.String() +
		fmt.Sprintf("%+v %#v", struct{ T StaticToken }{s}, struct{ T StaticToken }{s})
	if strings.Contains(out, tok[4:]) {
		t.Fatalf("token printed: %s", out)
	}
	if !strings.Contains(out, "REDACTED") {
		t.Fatalf("no redaction: %s", out)
	}
	if _, err := NewStaticToken("").Token(context.Background()); err == nil {
		t.Fatal("empty token accepted")
	}
}

func TestTokenFromEnv(t *testing.T) {
	t.Setenv("LEAKSTOP_TEST_GH_TOKEN", " tok-from-env-1234\n")
	s, err := TokenFromEnv("LEAKSTOP_TEST_GH_TOKEN")
	if got, _ := s.Token(context.Background()); err != nil || got != "tok-from-env-1234" {
		t.Fatalf("TokenFromEnv = %q, %v", got, err)
	}
	t.Setenv("LEAKSTOP_TEST_GH_TOKEN", "")
	if _, err := TokenFromEnv("LEAKSTOP_TEST_GH_TOKEN"); err == nil || !strings.Contains(err.Error(), "LEAKSTOP_TEST_GH_TOKEN") {
		t.Fatalf("empty variable: %v", err)
	}
	if _, err := TokenFromEnv("LEAKSTOP_TEST_GH_TOKEN_UNSET"); err == nil {
		t.Fatal("unset variable accepted")
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// appFixture is a fake GitHub with app 77 installed on acme.
type appFixture struct {
	s    *githubtest.Server
	key  *rsa.PrivateKey
	inst int64
}

func newAppFixture(t *testing.T) *appFixture {
	t.Helper()
	f := &appFixture{s: githubtest.New(t), key: rsaKey(t)}
	f.s.RegisterApp(77, &f.key.PublicKey)
	f.inst = f.s.AddInstallation("acme")
	for i := range 3 {
		f.s.AddOrgRepo("acme", githubtest.OrgRepo{Name: fmt.Sprintf("r%d", i)})
	}
	return f
}

func (f *appFixture) config(pemKey []byte) AppConfig {
	return AppConfig{APIURL: f.s.URL() + "/api/v3", AppID: 77, PrivateKeyPEM: pemKey, Org: "acme", Now: f.s.Now}
}

func TestAppTokenSourceRenewsBeforeExpiry(t *testing.T) {
	for name, mk := range map[string]func(*appFixture) AppConfig{
		"pkcs1, installation looked up": func(f *appFixture) AppConfig { return f.config(pkcs1(f.key)) },
		"pkcs8, installation given": func(f *appFixture) AppConfig {
			c := f.config(pkcs8(t, f.key))
			c.InstallationID, c.Org = f.inst, ""
			c.APIURL = f.s.URL() // a GitHub Enterprise host without /api/v3
			return c
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newAppFixture(t)
			ts, err := NewAppTokenSource(mk(f))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			log := &syncBuffer{}
			c, err := NewClient(f.s.URL()+"/api/v3", ts, ClientOptions{Log: slog.New(slog.NewJSONHandler(log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			repos, err := ListRepos(ctx, c, "acme", Filter{})
			if err != nil || len(repos) != 3 {
				t.Fatalf("list with the app: %v %v", repos, err)
			}
			first, _ := ts.Token(ctx)
			if !strings.HasPrefix(first, "ghs_") || f.s.InstallationTokens() != 1 {
				t.Fatalf("token %d chars, %d issued", len(first), f.s.InstallationTokens())
			}
			// 54 minutes on, 6 remain: the cached token is still used.
			f.s.Advance(54 * time.Minute)
			if tok, _ := ts.Token(ctx); tok != first || f.s.InstallationTokens() != 1 {
				t.Fatalf("renewed with 6 minutes left (%d issued)", f.s.InstallationTokens())
			}
			// 56 minutes on, 4 remain: renewed before it expires.
			f.s.Advance(2 * time.Minute)
			second, err := ts.Token(ctx)
			if err != nil || second == first || f.s.InstallationTokens() != 2 {
				t.Fatalf("not renewed with 4 minutes left: %v (%d issued)", err, f.s.InstallationTokens())
			}
			// Two hours on: the first token is refused, the source's works.
			f.s.Advance(2 * time.Hour)
			if _, err := ListRepos(ctx, c, "acme", Filter{}); err != nil {
				t.Fatalf("list after renewal: %v", err)
			}
			stale, err := NewClient(f.s.URL()+"/api/v3", NewStaticToken(first), ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ListRepos(ctx, stale, "acme", Filter{})
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("expired token: %v", err)
			}
			if strings.Contains(err.Error(), first) || strings.Contains(log.String(), "ghs_") {
				t.Fatal("token in an error or the log")
			}
			if lookups := f.s.CountRequests("GET", "/orgs/acme/installation"); lookups > 1 {
				t.Fatalf("installation looked up %d times", lookups)
			}
		})
	}
}

func TestAppTokenSourceConcurrent(t *testing.T) {
	f := newAppFixture(t)
	ts, err := NewAppTokenSource(f.config(pkcs1(f.key)))
	if err != nil {
		t.Fatal(err)
	}
	var wg conc.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Go(func() { toks[i], _ = ts.Token(context.Background()) })
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] || tok == "" {
			t.Fatalf("tokens differ: %d issued", f.s.InstallationTokens())
		}
	}
	if f.s.InstallationTokens() != 1 {
		t.Fatalf("%d tokens issued for 8 concurrent calls", f.s.InstallationTokens())
	}
}

func TestAppTokenSourceRefused(t *testing.T) {
	f := newAppFixture(t)
	ctx := context.Background()
	wrong := rsaKey(t)
	keyText := string(pkcs1(wrong))
	check := func(name string, c AppConfig, want string) {
		t.Helper()
		ts, err := NewAppTokenSource(c)
		if err == nil {
			_, err = ts.Token(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "eyJ") || strings.Contains(msg, "ghs_") || strings.Contains(msg, strings.Split(keyText, "\n")[1]) {
			t.Errorf("%s: error shows a credential: %s", name, msg)
		}
	}
	check("wrong key", f.config(pkcs1(wrong)), "401")
	var ae *AppAuthError
	ts, _ := NewAppTokenSource(f.config(pkcs1(wrong)))
	if _, err := ts.Token(ctx); !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("wrong key: %v is not an AppAuthError 401", err)
	}
	c := f.config(pkcs1(f.key))
	c.Org = "elsewhere"
	check("not installed", c, "404")
	c = f.config(pkcs1(f.key))
	c.AppID = 78
	check("unknown app", c, "401")
	// A clock 20 minutes behind GitHub's signs an expired JWT.
	c = f.config(pkcs1(f.key))
	c.Now = func() time.Time { return f.s.Now().Add(-20 * time.Minute) }
	check("clock behind", c, "401")
	check("no PEM", f.config([]byte("not a key")), "no PEM block")
	check("bad PKCS#1", f.config(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")})), "PKCS#1")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check("EC key", f.config(pkcs8(t, ec)), "use RSA")
	c = f.config(pkcs1(f.key))
	c.AppID = 0
	check("no app id", c, "app id")
	c = f.config(pkcs1(f.key))
	c.Org = ""
	check("no org", c, "installation id or an organisation")
	if f.s.InstallationTokens() != 0 {
		t.Fatalf("%d tokens issued", f.s.InstallationTokens())
	}
}

func TestAppConfigAndSourcePrintNoKey(t *testing.T) {
	f := newAppFixture(t)
	c := f.config(pkcs1(f.key))
	ts, err := NewAppTokenSource(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	line := strings.Split(string(c.PrivateKeyPEM), "\n")[1]
	out := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", c, c, c, ts, ts, ts, ts)
	if strings.Contains(out, line[:20]) || strings.Contains(out, "ghs_") || strings.Contains(out, f.key.D.String()[:20]) {
		t.Fatalf("printed a credential: %s", out)
	}
}

// TestListedReposCloneWithAppToken runs the chain the org scan relies
// on: list with an installation token, then clone each clone_url from
// the real git http-backend with the same token, passed in the
// environment only.
func TestListedReposCloneWithAppToken(t *testing.T) {
	f := newAppFixture(t)
	g := githubtest.NewGitServer(t, t.TempDir(), f.s)
	work := t.TempDir()
	gitEnv := []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + t.TempDir(), "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	git := func(dir string, env []string, args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), gitEnv...), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s: %w\n%s", args[0], err, out)
		}
		return nil
	}
	if err := git(work, nil, "init", "--quiet", "--initial-branch=main"); err != nil {
		t.Fatal(err)
	}
	if err := git(work, nil, "commit", "--quiet", "--allow-empty", "-m", "c"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		g.AddBare("acme", fmt.Sprintf("r%d", i), work)
	}
	ts, err := NewAppTokenSource(f.config(pkcs1(f.key)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(f.s.URL(), ts, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repos, err := ListRepos(ctx, c, "acme", Filter{Exclude: []string{"r2"}})
	if err != nil || len(repos) != 2 {
		t.Fatalf("listing: %v %v", repos, err)
	}
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + tok))
	env := []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic " + basic}
	for _, r := range repos {
		if strings.Contains(r.CloneURL, tok) {
			t.Fatal("token in the clone URL")
		}
		if err := git("", env, "clone", "--quiet", "--mirror", r.CloneURL, filepath.Join(t.TempDir(), r.Name+".git")); err != nil {
			t.Fatalf("clone %s: %v", r.FullName, err)
		}
	}
	if got := g.FetchedRepos(); len(got) != 2 || slices.Contains(got, "acme/r2") {
		t.Fatalf("fetched %v", got)
	}
}
