package revoker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func randSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestParseConfig(t *testing.T) {
	sid, key := randSID("AC"), randSID("SK")
	src := `mode = "apply"
state = "/var/lib/leakstop/state.db"
grace_period = "45s"

[readiness]
command = ["./ready.sh", "--quick"]

[[accounts]]
sid = "` + sid + `"
name = "production"
credential_env = "TWILIO_PROD_TOKEN"
sinks = ["gh", "vault", "keys"]
notifiers = ["slack"]

[[sinks]]
name = "gh"
type = "github-secret"
owner = "acme"
repo = "app"
secret = "TWILIO_AUTH_TOKEN"

[[sinks]]
name = "vault"
type = "command"
command = ["vault", "kv", "put", "secret/twilio", "token=-"]
timeout = "20s"

[[sinks]]
name = "keys"
type = "github-secret"
kind = "api-key"
key_sids = ["` + key + `"]
owner = "acme"
secret = "TWILIO_API_SECRET"
key_sid_secret = "TWILIO_API_KEY"

[[notifiers]]
name = "slack"
type = "webhook"
url_env = "SLACK_WEBHOOK_URL"

[[notifiers]]
type = "github-issue"
`
	c, err := ParseConfig("leakstop.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeApply || time.Duration(c.GracePeriod) != 45*time.Second || c.Readiness == nil ||
		time.Duration(c.Readiness.Timeout) != DefaultReadyTimeout || time.Duration(c.LockTTL) != DefaultLockTTL {
		t.Fatalf("decoded: %+v", c)
	}
	if a := c.Account(strings.ToUpper(sid[:2]) + strings.ToUpper(sid[2:])); a == nil || a.Name != "production" {
		t.Fatal("Account lookup is not case-insensitive")
	}
	if c.Sinks[0].Kind != KindAuthToken || c.Sinks[2].Kind != KindAPIKey || c.Notifiers[1].Name != "github-issue" {
		t.Fatalf("defaults: %+v %+v", c.Sinks, c.Notifiers)
	}
	// Grace period defaults only when absent.
	c2, err := ParseConfig("x.toml", []byte(`grace_period = "0s"`))
	if err != nil || c2.GracePeriod != 0 || c2.Mode != ModePlan {
		t.Fatalf("explicit zero grace: %+v %v", c2, err)
	}
	c3, err := ParseConfig("x.toml", nil)
	if err != nil || time.Duration(c3.GracePeriod) != DefaultGracePeriod {
		t.Fatalf("default grace: %+v %v", c3, err)
	}
}

func TestConfigErrors(t *testing.T) {
	sid := randSID("AC")
	for _, tc := range []struct{ src, want string }{
		{"mode = \"yolo\"\n", `x.toml:1: mode "yolo"`},
		{"mode = \"plan\"\ngrace_period = \"soon\"\n", `x.toml:2: invalid duration "soon"`},
		{"mode = [\n", "x.toml:1"},
		{"mode = \"plan\"\ncolour = \"blue\"\n", `x.toml:2: unknown key "colour"`},
		{"[[accounts]]\nsid = \"AC123\"\n", "x.toml:2: accounts[0]: sid must be an Account SID"},
		{"[[accounts]]\nsid = \"" + sid + "\"\nsinks = [\"nope\"]\n", `x.toml:3: account ` + sid + `: no sink named "nope"`},
		{"[[sinks]]\nname = \"a\"\ntype = \"carrier-pigeon\"\n", `x.toml:3: sink "a": type "carrier-pigeon"`},
		{"[[sinks]]\nname = \"a\"\ntype = \"command\"\n", `x.toml:1: sink "a": a command sink needs command`},
		{"[[sinks]]\nname = \"a\"\ntype = \"command\"\ncommand = [\"x\"]\n[[sinks]]\nname = \"a\"\ntype = \"command\"\ncommand = [\"y\"]\n", `x.toml:5: sinks[1]: duplicate sink name "a"`},
		{"[[notifiers]]\ntype = \"webhook\"\n", `x.toml:1: notifier "webhook": a webhook needs url_env`},
		{"[[accounts]]\nsid = \"" + sid + "\"\ncredential_env = \"not a var\"\n", "x.toml:3: account"},
		{"[[sinks]]\nname = \"a\"\ntype = \"command\"\ncommand = [\"x\"]\nflavour = 1\n", `x.toml:5: unknown key "sinks.flavour"`},
	} {
		_, err := ParseConfig("x.toml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v, want %q", tc.src, err, tc.want)
		}
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("error %v is not a *ConfigError", err)
		}
	}
}

func TestBuild(t *testing.T) {
	c, err := ParseConfig("x.toml", []byte(`
[[sinks]]
name = "vault"
type = "command"
command = ["vault-put"]
[[sinks]]
name = "gh"
type = "github-secret"
owner = "acme"
secret = "TWILIO_AUTH_TOKEN"
token_env = "GH_TOKEN"
[[notifiers]]
type = "webhook"
url_env = "HOOK_URL"
[[notifiers]]
type = "github-issue"
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOOK_URL": "https://hooks.example.invalid/x"}
	sinks, notifiers, err := c.Build(context.Background(), DefaultFactories(), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "GH_TOKEN is not set") || !strings.Contains(err.Error(), "GITHUB_TOKEN is not set") {
		t.Fatalf("Build error: %v", err)
	}
	if sinks["vault"] == nil || sinks["gh"] != nil || notifiers["webhook"] == nil || notifiers["github-issue"] != nil {
		t.Fatalf("built: %v %v", sinks, notifiers)
	}
	env["GH_TOKEN"], env["GITHUB_TOKEN"] = "x", "y"
	sinks, notifiers, err = c.Build(context.Background(), DefaultFactories(), func(k string) string { return env[k] })
	if err != nil || len(sinks) != 2 || len(notifiers) != 2 {
		t.Fatalf("Build: %v %v %v", sinks, notifiers, err)
	}
	if got := sinks["gh"].Name(); got != "github-org:acme:TWILIO_AUTH_TOKEN" {
		t.Errorf("sink name %q", got)
	}
}
