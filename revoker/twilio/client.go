package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakstop/leakstop/secret"
)

// Default endpoints and limits.
const (
	DefaultAPIBaseURL      = "https://api.twilio.com"
	DefaultAccountsBaseURL = "https://accounts.twilio.com"
	DefaultIAMBaseURL      = "https://iam.twilio.com"
	DefaultTimeout         = 15 * time.Second
	DefaultMaxRetries      = 4
	DefaultMinBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff      = 8 * time.Second
	DefaultUserAgent       = "leakstop (+https://github.com/leakstop/leakstop)"

	maxFriendlyName = 64 // characters, per the spec
)

// Options configures a Client. Zero fields take the defaults.
type Options struct {
	APIBaseURL      string        // default "https://api.twilio.com"
	AccountsBaseURL string        // default "https://accounts.twilio.com"
	IAMBaseURL      string        // default "https://iam.twilio.com"
	HTTPClient      *http.Client  // default: a client with Timeout; redirects are never followed
	Timeout         time.Duration // per attempt, default 15s
	MaxRetries      int           // retries after the first attempt, default 4; negative means none
	MinBackoff      time.Duration // default 250ms
	MaxBackoff      time.Duration // default 8s; also caps Retry-After
	UserAgent       string        // default DefaultUserAgent
}

// Client talks to Twilio. It is safe for concurrent use.
type Client struct {
	api, accounts, iam *url.URL
	initErr            error
	hc                 *http.Client
	timeout            time.Duration
	maxRetries         int
	minBackoff         time.Duration
	maxBackoff         time.Duration
	userAgent          string
}

// New returns a Client. A malformed base URL is reported by every call.
// User information in a base URL is dropped: credentials travel only in
// the Authorization header.
func New(opts Options) *Client {
	c := &Client{
		timeout:    opts.Timeout,
		maxRetries: opts.MaxRetries,
		minBackoff: opts.MinBackoff,
		maxBackoff: opts.MaxBackoff,
		userAgent:  opts.UserAgent,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	var err1, err2, err3 error
	c.api, err1 = parseBase(opts.APIBaseURL, DefaultAPIBaseURL)
	c.accounts, err2 = parseBase(opts.AccountsBaseURL, DefaultAccountsBaseURL)
	c.iam, err3 = parseBase(opts.IAMBaseURL, DefaultIAMBaseURL)
	c.initErr = errors.Join(err1, err2, err3)
	if opts.HTTPClient != nil {
		hc := *opts.HTTPClient // shallow copy: same Transport, our redirect policy
		c.hc = &hc
	} else {
		c.hc = &http.Client{Timeout: c.timeout}
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func parseBase(raw, def string) (*url.URL, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL must be http(s)://host[/prefix]", ErrInvalidArgument)
	}
	u.User = nil
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// Credential authenticates a call with HTTP Basic. Username is an Account
// SID (password: an Auth Token, primary or secondary) or an API Key SID
// (password: the key secret).
type Credential struct {
	Username string
	Password secret.Value
}

var (
	accountSIDRe = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	keySIDRe     = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
)

// IsAccountSID reports whether s has the form of an Account SID.
func IsAccountSID(s string) bool { return accountSIDRe.MatchString(s) }

// IsKeySID reports whether s has the form of an API Key SID.
func IsKeySID(s string) bool { return keySIDRe.MatchString(s) }

func (c Credential) validate() error {
	// The username is not echoed: a misplaced secret may sit there.
	if !IsAccountSID(c.Username) && !IsKeySID(c.Username) {
		return fmt.Errorf("%w: credential username is not an Account SID or API Key SID", ErrInvalidArgument)
	}
	if c.Password.IsZero() {
		return fmt.Errorf("%w: credential password is empty", ErrInvalidArgument)
	}
	return nil
}

func checkAccountSID(sid string) error {
	if !IsAccountSID(sid) {
		return fmt.Errorf("%w: account SID must be AC followed by 32 hex digits", ErrInvalidArgument)
	}
	return nil
}

func checkKeySID(sid string) error {
	if !IsKeySID(sid) {
		return fmt.Errorf("%w: key SID must be SK followed by 32 hex digits", ErrInvalidArgument)
	}
	return nil
}

func checkFriendlyName(s string) error {
	if utf8.RuneCountInString(s) > maxFriendlyName || !utf8.ValidString(s) {
		return fmt.Errorf("%w: FriendlyName must be valid UTF-8 of at most %d characters", ErrInvalidArgument, maxFriendlyName)
	}
	return nil
}

// v2010 paths; the .json suffix matters (without it Twilio answers XML).
func accountPath(sid string) string { return "/2010-04-01/Accounts/" + sid + ".json" }
func keysPath(acct string) string   { return "/2010-04-01/Accounts/" + acct + "/Keys.json" }
func keyPath(acct, sid string) string {
	return "/2010-04-01/Accounts/" + acct + "/Keys/" + sid + ".json"
}

const (
	accountsListPath = "/2010-04-01/Accounts.json"
	secondaryPath    = "/v1/AuthTokens/Secondary"
	promotePath      = "/v1/AuthTokens/Promote"
)

// Date layouts: v2010 uses RFC 2822, v1 uses ISO 8601.
var dateLayouts = []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", time.RFC3339, time.RFC3339Nano}

// parseDate is lenient: an absent or unparsable date is the zero time
// rather than a failed rotation.
func parseDate(s *string) time.Time {
	if s == nil || *s == "" {
		return time.Time{}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, *s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
