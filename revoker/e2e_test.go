package revoker

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/githubtest"
	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// TestEndToEndRealSinksAndNotifiers wires the revoker from a TOML file with
// the real sinks (a GitHub Actions secret on a fake GitHub, a command) and
// notifiers (a signed webhook, a GitHub issue) and rotates a leaked primary.
func TestEndToEndRealSinksAndNotifiers(t *testing.T) {
	fake := twiliotest.NewServer(t)
	sid, leaked := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	gh := githubtest.New(t)
	var hookMu sync.Mutex
	var hookBodies []string
	var signed bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(b))
		signed = signed || r.Header.Get("X-Leakstop-Signature") != ""
		hookMu.Unlock()
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "token")
	env := map[string]string{
		"TWILIO_PROD": leaked.Reveal(), "GH": gh.Token(), "HOOK_URL": hook.URL + "/notify", "HOOK_KEY": "signing-key",
	}
	src := `mode = "apply"
state = "` + filepath.Join(dir, "state.db") + `"
grace_period = "0s"

[[accounts]]
sid = "` + sid + `"
name = "production"
credential_env = "TWILIO_PROD"
sinks = ["actions", "file"]

[[sinks]]
name = "actions"
type = "github-secret"
owner = "acme"
repo = "app"
secret = "TWILIO_AUTH_TOKEN"
token_env = "GH"
api_url = "` + gh.URL() + `"

[[sinks]]
name = "file"
type = "command"
command = ["sh", "-c", "cat > \"$OUT\""]
env = ["OUT=` + out + `"]

[[notifiers]]
name = "chat"
type = "webhook"
url_env = "HOOK_URL"
key_env = "HOOK_KEY"

[[notifiers]]
type = "github-issue"
token_env = "GH"
api_url = "` + gh.URL() + `"
`
	path := filepath.Join(dir, "leakstop.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := state.Open(ctx, cfg.State, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	getenv := func(k string) string { return env[k] }
	sinks, notifiers, err := cfg.Build(ctx, DefaultFactories(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	rv, err := New(cfg, Deps{
		Store: st, Twilio: twilio.New(fake.Options()), Sinks: sinks, Notifiers: notifiers, Getenv: getenv,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	leak := Leak{Fingerprint: "fp-e2e", Kind: KindAuthToken, AccountSID: sid, Secret: leaked,
		Locations: []Location{{Repo: "acme/app", Commit: "0123456789abcdef", Path: "deploy/.env", Line: 2}}}
	res, err := rv.Apply(ctx, []Leak{leak})
	if err != nil {
		t.Fatal(err)
	}
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeRotated {
		t.Fatalf("item: %s", dump(it))
	}
	primary, _ := fake.Tokens(sid)
	if primary.Equal(leaked) || fake.Authenticates(sid, leaked) {
		t.Fatal("the leaked token still works")
	}
	if got, ok := gh.RepoSecret("acme", "app", "TWILIO_AUTH_TOKEN"); !ok || got != primary.Reveal() {
		t.Fatal("the GitHub secret does not hold the new primary")
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != primary.Reveal() {
		t.Fatalf("the command sink did not receive the new primary (%v)", err)
	}
	issues := gh.Issues("acme", "app")
	hookMu.Lock()
	defer hookMu.Unlock()
	if len(issues) != 1 || len(hookBodies) != 2 || !signed {
		t.Fatalf("notifications: %d issues, %d webhook posts, signed %v", len(issues), len(hookBodies), signed)
	}
	var all strings.Builder
	for _, is := range issues {
		all.WriteString(is.Title + is.Body)
		for _, c := range is.Comments {
			all.WriteString(c.Body)
		}
	}
	all.WriteString(strings.Join(hookBodies, "\n"))
	all.WriteString(logs.String())
	all.Write(storetest.Dump(t, cfg.State))
	for name, s := range map[string]string{"leaked": leaked.Reveal(), "new": primary.Reveal()} {
		if strings.Contains(all.String(), s) {
			t.Errorf("the %s token was written to a notification, the log or the store", name)
		}
	}
	if !strings.Contains(all.String(), sid) {
		t.Error("the notifications do not name the account")
	}
}
