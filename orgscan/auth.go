package orgscan

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// StaticToken is a fixed token (GITHUB_TOKEN, or the variable named by
// --token-env). It prints redacted in every fmt verb, in JSON and in
// slog, as a secret.Value does.
type StaticToken struct{ v secret.Value }

// NewStaticToken wraps tok.
func NewStaticToken(tok string) StaticToken { return StaticToken{v: secret.New(tok)} }

// TokenFromEnv reads the token from the environment variable name
// (GITHUB_TOKEN unless --token-env says otherwise); unset or empty is an
// error naming the variable.
func TokenFromEnv(name string) (StaticToken, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return StaticToken{}, fmt.Errorf("read GitHub token: environment variable %s is not set or empty", name)
	}
	return NewStaticToken(strings.TrimSpace(v)), nil
}

// Token returns the token; an empty one is an error.
func (s StaticToken) Token(context.Context) (string, error) {
	if s.v.IsZero() {
		return "", errors.New("get GitHub token: the token is empty")
	}
	return s.v.Reveal(), nil
}

// String returns the redacted form.
func (s StaticToken) String() string { return s.v.String() }

// GoString returns the redacted form, so %#v does not reveal it.
func (s StaticToken) GoString() string { return "orgscan.StaticToken(" + s.v.String() + ")" }

// Format makes every fmt verb print the redacted form.
func (s StaticToken) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.v.String()) }

// MarshalText redacts.
func (s StaticToken) MarshalText() ([]byte, error) { return s.v.MarshalText() }

// LogValue redacts for log/slog.
func (s StaticToken) LogValue() slog.Value { return s.v.LogValue() }

// GitHub App tokens: the JWT lives 10 minutes at most (iat a minute in
// the past for clock drift); an installation token an hour, renewed when
// less than RenewBefore remains.
const (
	jwtBackdate = 60 * time.Second
	jwtLifetime = 9 * time.Minute
	RenewBefore = 5 * time.Minute
)

// AppConfig configures NewAppTokenSource. Printed with fmt it hides the
// private key.
type AppConfig struct {
	// APIURL as for NewClient: "" is api.github.com.
	APIURL string
	AppID  int64
	// PrivateKeyPEM is the app's RSA key, PKCS#1 or PKCS#8 PEM.
	PrivateKeyPEM []byte
	// InstallationID 0 looks the installation up from Org
	// (GET /orgs/{org}/installation).
	InstallationID int64
	Org            string
	// HTTPClient nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now nil is time.Now.
	Now func() time.Time
}

// Format prints c without its private key.
func (c AppConfig) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "orgscan.AppConfig{APIURL:%q AppID:%d InstallationID:%d Org:%q PrivateKeyPEM:[REDACTED]}",
		c.APIURL, c.AppID, c.InstallationID, c.Org)
}

// appTokenSource gives GitHub App installation tokens, cached and renewed
// before they expire.
type appTokenSource struct {
	api   string // base URL with a trailing slash
	appID int64
	key   *rsa.PrivateKey
	org   string
	hc    *http.Client
	now   func() time.Time

	mu      sync.Mutex
	inst    int64
	token   secret.Value
	expires time.Time
}

// NewAppTokenSource returns a TokenSource of installation tokens of the
// GitHub App c describes. Nothing is requested until the first Token.
func NewAppTokenSource(c AppConfig) (TokenSource, error) {
	if c.AppID <= 0 {
		return nil, errors.New("configure GitHub App: the app id must be a positive number")
	}
	if c.InstallationID == 0 && c.Org == "" {
		return nil, errors.New("configure GitHub App: need an installation id or an organisation to look it up")
	}
	key, err := parseRSAKey(c.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("configure GitHub App %d: %w", c.AppID, err)
	}
	base, _, err := apiURLs(c.APIURL)
	if err != nil {
		return nil, fmt.Errorf("configure GitHub App %d: %w", c.AppID, err)
	}
	s := &appTokenSource{api: base.String(), appID: c.AppID, key: key, org: c.Org,
		hc: c.HTTPClient, now: c.Now, inst: c.InstallationID}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// parseRSAKey reads an RSA private key from PKCS#1 or PKCS#8 PEM. Its
// errors never quote the key.
func parseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("read private key: no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("read private key: not a valid PKCS#1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("read private key: not a valid PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("read private key: a %T, GitHub Apps use RSA", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("read private key: PEM block %q, want RSA PRIVATE KEY or PRIVATE KEY", block.Type)
}

// String names the app, never its key or token.
func (s *appTokenSource) String() string {
	return fmt.Sprintf("GitHub App %d (installation %d, org %q)", s.appID, s.inst, s.org)
}

// Format prints String in every verb.
func (s *appTokenSource) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// Token returns the cached installation token, or a new one when less
// than RenewBefore of it remains.
func (s *appTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.token.IsZero() && s.now().Add(RenewBefore).Before(s.expires) {
		return s.token.Reveal(), nil
	}
	if s.inst == 0 {
		id, err := s.lookupInstallation(ctx)
		if err != nil {
			return "", err
		}
		s.inst = id
	}
	var body struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	path := "app/installations/" + strconv.FormatInt(s.inst, 10) + "/access_tokens"
	if err := s.call(ctx, http.MethodPost, path, http.StatusCreated, &body); err != nil {
		return "", fmt.Errorf("get installation token of GitHub App %d: %w", s.appID, err)
	}
	if body.Token == "" || body.ExpiresAt.IsZero() {
		return "", fmt.Errorf("get installation token of GitHub App %d: no token or expires_at in the answer", s.appID)
	}
	s.token, s.expires = secret.New(body.Token), body.ExpiresAt
	return body.Token, nil
}

func (s *appTokenSource) lookupInstallation(ctx context.Context) (int64, error) {
	var inst struct {
		ID int64 `json:"id"`
	}
	if err := s.call(ctx, http.MethodGet, "orgs/"+url.PathEscape(s.org)+"/installation", http.StatusOK, &inst); err != nil {
		return 0, fmt.Errorf("find installation of GitHub App %d on %s: %w", s.appID, s.org, err)
	}
	if inst.ID == 0 {
		return 0, fmt.Errorf("find installation of GitHub App %d on %s: no id in the answer", s.appID, s.org)
	}
	return inst.ID, nil
}

// call sends an app-authenticated request and decodes a want answer.
func (s *appTokenSource) call(ctx context.Context, method, path string, want int, v any) error {
	jwt, err := s.jwt()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, s.api+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		return &AppAuthError{Status: resp.StatusCode, Message: e.Message}
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// AppAuthError is GitHub's refusal of an app request (a bad key or app
// id, an app not installed): its status and message.
type AppAuthError struct {
	Status  int
	Message string
}

func (e *AppAuthError) Error() string {
	return fmt.Sprintf("GitHub answered %d %s: %q", e.Status, http.StatusText(e.Status), e.Message)
}

// jwt signs the app's RS256 JWT: issued a minute ago, expiring in nine.
func (s *appTokenSource) jwt() (string, error) {
	now := s.now()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iat": now.Add(-jwtBackdate).Unix(),
		"exp": now.Add(jwtLifetime).Unix(),
		"iss": strconv.FormatInt(s.appID, 10),
	})
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign GitHub App JWT: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
