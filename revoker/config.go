package revoker

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/leakstop/leakstop/internal/tomlpos"
	"github.com/leakstop/leakstop/revoker/twilio"
)

// Mode says whether the revoker acts.
type Mode string

// Modes.
const (
	ModePlan  Mode = "plan"  // verify and print the plan; change nothing at Twilio
	ModeApply Mode = "apply" // rotate live credentials of configured accounts
)

// UnmarshalText validates the mode (BurntSushi reports the line).
func (m *Mode) UnmarshalText(b []byte) error {
	switch Mode(b) {
	case ModePlan, ModeApply:
		*m = Mode(b)
		return nil
	}
	return fmt.Errorf("mode %q is neither %q nor %q", string(b), ModePlan, ModeApply)
}

// Duration is a time.Duration written as "30s", "2m" in TOML.
type Duration time.Duration

// UnmarshalText parses a Go duration (BurntSushi reports the line).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"30s\", \"2m\")", string(b))
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Config is the revoker's configuration file, for example:
//
//	mode = "apply"                 # default "plan": verify and show, change nothing
//	state = "/var/lib/leakstop/state.db"   # or postgres://…
//	grace_period = "30s"           # between delivery and cutting the old secret off
//
//	[readiness]                    # optional: also wait until this exits 0
//	command = ["./check-consumers.sh"]
//	timeout = "10m"
//	interval = "10s"
//
//	[[accounts]]                   # only these accounts are ever rotated
//	sid = "AC…"
//	name = "production"
//	credential_env = "TWILIO_PROD_AUTH_TOKEN"  # the owner's current primary token
//	sinks = ["actions", "vault"]
//	notifiers = ["slack"]          # default: all
//	# replace_main_keys_with_standard = true   # only if no user of a Main key needs Main rights
//
//	[[sinks]]
//	name = "actions"
//	type = "github-secret"         # a repository (or, without repo, organisation) secret
//	owner = "acme"
//	repo = "app"
//	secret = "TWILIO_AUTH_TOKEN"
//	token_env = "GITHUB_TOKEN"
//
//	[[sinks]]
//	name = "vault"
//	type = "command"               # gets the new secret on standard input
//	command = ["vault", "kv", "put", "secret/twilio", "auth_token=-"]
//
//	[[sinks]]
//	name = "api-keys"
//	type = "github-secret"
//	kind = "api-key"               # receives replacement API keys
//	owner = "acme"
//	repo = "app"
//	secret = "TWILIO_API_SECRET"
//	key_sid_secret = "TWILIO_API_KEY"
//
//	[[notifiers]]
//	name = "slack"
//	type = "webhook"
//	url_env = "SLACK_WEBHOOK_URL"
//	key_env = "LEAKSTOP_WEBHOOK_KEY"   # optional signing key
//
//	[[notifiers]]
//	type = "github-issue"          # an issue where the leak was found
type Config struct {
	// Mode is ModePlan (default) or ModeApply.
	Mode Mode `toml:"mode"`
	// State is the store DSN: a file path (SQLite) or postgres://…; empty
	// means the caller's default (leakstop's is state.DefaultPath).
	State string `toml:"state"`
	// GracePeriod is how long consumers get to pick up a delivered secret
	// before the old one is cut off (promotion, key deletion). A file that
	// does not set it gets 30s; write "0s" for none.
	GracePeriod Duration `toml:"grace_period"`
	// Readiness optionally gates the cut-off on a command that exits 0.
	Readiness *ReadinessConfig `toml:"readiness"`
	// LockTTL is the lease on an account while rotating; renewed while the
	// run lives, it lets another run take over that long after a crash.
	// Default 2m.
	LockTTL Duration `toml:"lock_ttl"`
	// LockWait is how long to wait for another run's lease on an account
	// before reporting it as busy. Default 30s.
	LockWait Duration `toml:"lock_wait"`
	// Concurrency bounds parallel verifications and parallel accounts.
	// Default 4.
	Concurrency int              `toml:"concurrency"`
	Accounts    []AccountConfig  `toml:"accounts"`
	Sinks       []SinkConfig     `toml:"sinks"`
	Notifiers   []NotifierConfig `toml:"notifiers"`
	path        string           // file the config came from, for messages
	byName      map[string]*AccountConfig
}

// ReadinessConfig is a command run after the grace period until it exits 0
// (or Timeout passes). It gets LEAKSTOP_ACCOUNT_SID, LEAKSTOP_KIND,
// LEAKSTOP_KEY_SID (the new key) and LEAKSTOP_ROTATION_ID in its
// environment, never a secret.
type ReadinessConfig struct {
	Command  []string `toml:"command"`
	Timeout  Duration `toml:"timeout"`  // default 10m
	Interval Duration `toml:"interval"` // between tries, default 10s
}

// AccountConfig is a Twilio account the user owns: only these are rotated.
type AccountConfig struct {
	SID  string `toml:"sid"`
	Name string `toml:"name"`
	// CredentialEnv names an environment variable holding the account's
	// current primary Auth Token: the owner's trusted credential, used in
	// preference to the leaked one.
	CredentialEnv string `toml:"credential_env"`
	// Sinks receive the new secret (names of [[sinks]]). Required to rotate.
	Sinks []string `toml:"sinks"`
	// Notifiers to tell (names of [[notifiers]]); empty means all.
	Notifiers []string `toml:"notifiers"`
	// ReplaceMainKeysWithStandard says that nothing using a Main API key of
	// this account needs Main rights (managing keys, subaccounts or the
	// Auth Token): a leaked Main key may then be replaced by a Standard key
	// and deleted. No API creates a Main key, so without this a leaked Main
	// key is never deleted by leakstop: the plan says what to do by hand.
	ReplaceMainKeysWithStandard bool `toml:"replace_main_keys_with_standard"`
}

// Label is the account's name, or its SID.
func (a AccountConfig) Label() string {
	if a.Name != "" {
		return a.Name + " (" + a.SID + ")"
	}
	return a.SID
}

// Sink types.
const (
	SinkGitHubSecret = "github-secret"
	SinkCommand      = "command"
)

// SinkConfig is a place new secrets are delivered to.
type SinkConfig struct {
	Name string `toml:"name"`
	Type string `toml:"type"` // SinkGitHubSecret or SinkCommand
	// Kind is the credential kind this sink holds: "auth-token" (default)
	// or "api-key".
	Kind credential.Kind `toml:"kind"`
	// KeySIDs limits an api-key sink to replacements of these leaked keys;
	// empty means any key of the account.
	KeySIDs []string `toml:"key_sids"`

	// github-secret
	Owner                 string  `toml:"owner"`
	Repo                  string  `toml:"repo"`   // empty: organisation secret
	Secret                string  `toml:"secret"` // secret name, e.g. TWILIO_AUTH_TOKEN
	KeySIDSecret          string  `toml:"key_sid_secret"`
	Visibility            string  `toml:"visibility"`
	SelectedRepositoryIDs []int64 `toml:"selected_repository_ids"`
	TokenEnv              string  `toml:"token_env"` // GitHub token variable, default GITHUB_TOKEN
	APIURL                string  `toml:"api_url"`   // GitHub Enterprise API URL

	// command
	Command  []string `toml:"command"`
	Timeout  Duration `toml:"timeout"`
	Dir      string   `toml:"dir"`
	Env      []string `toml:"env"`
	CleanEnv bool     `toml:"clean_env"`
	Newline  bool     `toml:"newline"`
}

// Notifier types.
const (
	NotifierWebhook     = "webhook"
	NotifierGitHubIssue = "github-issue"
)

// NotifierConfig is a way to tell people.
type NotifierConfig struct {
	Name string `toml:"name"` // default: the type
	Type string `toml:"type"` // NotifierWebhook or NotifierGitHubIssue

	// webhook
	URLEnv string `toml:"url_env"` // variable holding the webhook URL (it is a secret)
	KeyEnv string `toml:"key_env"` // variable holding a signing key, optional

	// github-issue: Repo ("owner/repo", or "repo" with Owner) receives every
	// issue; unset, each repository where a leak was found gets its own.
	Owner     string   `toml:"owner"`
	Repo      string   `toml:"repo"`
	Labels    []string `toml:"labels"`
	Assignees []string `toml:"assignees"`
	TokenEnv  string   `toml:"token_env"` // default GITHUB_TOKEN
	APIURL    string   `toml:"api_url"`
}

// Defaults.
const (
	DefaultGracePeriod  = 30 * time.Second
	DefaultLockTTL      = 2 * time.Minute
	DefaultLockWait     = 30 * time.Second
	DefaultConcurrency  = 4
	DefaultReadyTimeout = 10 * time.Minute
	DefaultReadyEvery   = 10 * time.Second
)

// ConfigError is one problem in a configuration file.
type ConfigError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and checks a configuration; name is used in messages.
// All problems are returned together (errors.Join of *ConfigError).
func ParseConfig(name string, data []byte) (Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &ConfigError{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		return Config{}, &ConfigError{File: name, Msg: err.Error()}
	}
	pos := tomlpos.New(data)
	var errs []error
	add := func(line int, format string, a ...any) {
		errs = append(errs, &ConfigError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	for _, k := range md.Undecoded() {
		add(pos.Undecoded(k), "unknown key %q", k.String())
	}
	c.path = name
	if !md.IsDefined("grace_period") {
		c.GracePeriod = Duration(DefaultGracePeriod)
	}
	c.check(pos, add)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c.withDefaults(), nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks a Config built in code; ParseConfig does the same.
func (c Config) Validate() error {
	var errs []error
	c.check(tomlpos.Index{}, func(_ int, format string, a ...any) {
		errs = append(errs, &ConfigError{File: c.path, Msg: fmt.Sprintf(format, a...)})
	})
	return errors.Join(errs...)
}

func (c *Config) check(pos tomlpos.Index, add func(line int, format string, a ...any)) {
	switch c.Mode {
	case "", ModePlan, ModeApply:
	default:
		add(pos.Top("mode"), "mode %q is neither %q nor %q", c.Mode, ModePlan, ModeApply)
	}
	if c.Concurrency < 0 || c.Concurrency > 64 {
		add(pos.Top("concurrency"), "concurrency %d is out of range 1..64", c.Concurrency)
	}
	if r := c.Readiness; r != nil && len(r.Command) == 0 {
		add(pos.Table("readiness", 0), "readiness: command is required")
	}
	sinks := map[string]SinkConfig{}
	for i, s := range c.Sinks {
		line := pos.Table("sinks", i)
		switch {
		case s.Name == "":
			add(line, "sinks[%d]: name is required", i)
		case sinks[s.Name].Name != "":
			add(line, "sinks[%d]: duplicate sink name %q", i, s.Name)
		}
		sinks[s.Name] = s
		switch s.Kind {
		case "", KindAuthToken, KindAPIKey:
		default:
			add(pos.Key("sinks", i, "kind"), "sink %q: kind %q is neither %q nor %q", s.Name, s.Kind, KindAuthToken, KindAPIKey)
		}
		for _, k := range s.KeySIDs {
			if !twilio.IsKeySID(k) {
				add(pos.Key("sinks", i, "key_sids"), "sink %q: key_sids: %q is not an API key SID (SK + 32 hex)", s.Name, k)
			}
		}
		if len(s.KeySIDs) > 0 && s.Kind != KindAPIKey {
			add(pos.Key("sinks", i, "key_sids"), "sink %q: key_sids needs kind = %q", s.Name, KindAPIKey)
		}
		switch s.Type {
		case SinkGitHubSecret:
			if s.Owner == "" || s.Secret == "" {
				add(line, "sink %q: a github-secret sink needs owner and secret", s.Name)
			}
			if s.TokenEnv != "" && !envNameRE.MatchString(s.TokenEnv) {
				add(pos.Key("sinks", i, "token_env"), "sink %q: token_env %q is not a variable name", s.Name, s.TokenEnv)
			}
		case SinkCommand:
			if len(s.Command) == 0 || s.Command[0] == "" {
				add(line, "sink %q: a command sink needs command = [\"program\", \"arg\", …]", s.Name)
			}
		case "":
			add(line, "sink %q: type is required (%q or %q)", s.Name, SinkGitHubSecret, SinkCommand)
		default:
			add(pos.Key("sinks", i, "type"), "sink %q: type %q is neither %q nor %q", s.Name, s.Type, SinkGitHubSecret, SinkCommand)
		}
	}
	notifiers := map[string]bool{}
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		line := pos.Table("notifiers", i)
		if n.Name == "" {
			n.Name = n.Type
		}
		if notifiers[n.Name] {
			add(line, "notifiers[%d]: duplicate notifier name %q (set name)", i, n.Name)
		}
		notifiers[n.Name] = true
		switch n.Type {
		case NotifierWebhook:
			if n.URLEnv == "" {
				add(line, "notifier %q: a webhook needs url_env (the URL is a secret: keep it in the environment)", n.Name)
			}
		case NotifierGitHubIssue:
			if n.Owner != "" && n.Repo == "" {
				add(line, "notifier %q: owner without repo (set repo, or neither to file issues where each leak was found)", n.Name)
			}
		case "":
			add(line, "notifiers[%d]: type is required (%q or %q)", i, NotifierWebhook, NotifierGitHubIssue)
		default:
			add(pos.Key("notifiers", i, "type"), "notifier %q: type %q is neither %q nor %q", n.Name, n.Type, NotifierWebhook, NotifierGitHubIssue)
		}
		for _, env := range []struct{ key, v string }{{"url_env", n.URLEnv}, {"key_env", n.KeyEnv}, {"token_env", n.TokenEnv}} {
			if env.v != "" && !envNameRE.MatchString(env.v) {
				add(pos.Key("notifiers", i, env.key), "notifier %q: %s %q is not a variable name", n.Name, env.key, env.v)
			}
		}
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		line := pos.Table("accounts", i)
		switch {
		case !twilio.IsAccountSID(a.SID):
			add(pos.Key("accounts", i, "sid"), "accounts[%d]: sid must be an Account SID (AC + 32 hex)", i)
		case seen[strings.ToLower(a.SID)]:
			add(line, "accounts[%d]: account %s is listed twice", i, a.SID)
		}
		seen[strings.ToLower(a.SID)] = true
		if a.CredentialEnv != "" && !envNameRE.MatchString(a.CredentialEnv) {
			add(pos.Key("accounts", i, "credential_env"), "account %s: credential_env %q is not a variable name", a.Label(), a.CredentialEnv)
		}
		for _, s := range a.Sinks {
			if _, ok := sinks[s]; !ok {
				add(pos.Key("accounts", i, "sinks"), "account %s: no sink named %q", a.Label(), s)
			}
		}
		for _, n := range a.Notifiers {
			if !notifiers[n] {
				add(pos.Key("accounts", i, "notifiers"), "account %s: no notifier named %q", a.Label(), n)
			}
		}
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModePlan
	}
	if c.LockTTL <= 0 {
		c.LockTTL = Duration(DefaultLockTTL)
	}
	if c.LockWait <= 0 {
		c.LockWait = Duration(DefaultLockWait)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if r := c.Readiness; r != nil {
		rc := *r
		if rc.Timeout <= 0 {
			rc.Timeout = Duration(DefaultReadyTimeout)
		}
		if rc.Interval <= 0 {
			rc.Interval = Duration(DefaultReadyEvery)
		}
		c.Readiness = &rc
	}
	for i := range c.Sinks {
		if c.Sinks[i].Kind == "" {
			c.Sinks[i].Kind = KindAuthToken
		}
	}
	for i := range c.Notifiers {
		if c.Notifiers[i].Name == "" {
			c.Notifiers[i].Name = c.Notifiers[i].Type
		}
	}
	c.byName = map[string]*AccountConfig{}
	for i := range c.Accounts {
		c.byName[strings.ToLower(c.Accounts[i].SID)] = &c.Accounts[i]
	}
	return c
}

// Account returns the configuration of an owned account, or nil.
func (c Config) Account(sid string) *AccountConfig {
	if c.byName == nil {
		for i := range c.Accounts {
			if strings.EqualFold(c.Accounts[i].SID, sid) {
				return &c.Accounts[i]
			}
		}
		return nil
	}
	return c.byName[strings.ToLower(sid)]
}
