package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// GitHub App installation tokens live an hour; an app's JWT at most ten
// minutes.
const (
	installationTokenTTL = time.Hour
	maxJWTLifetime       = 10 * time.Minute
)

type appState struct {
	id  int64
	pub *rsa.PublicKey
}

type installation struct {
	id    int64
	appID int64
	org   string
}

// RegisterApp registers a GitHub App whose JWTs are signed with the
// private key of pub.
func (s *Server) RegisterApp(appID int64, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		s.apps = map[int64]*appState{}
	}
	s.apps[appID] = &appState{id: appID, pub: pub}
	s.lastApp = appID
}

// AddInstallation installs the app registered last on org and returns
// the installation's id.
func (s *Server) AddInstallation(org string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	appID := s.lastApp
	if appID == 0 {
		s.t.Fatalf("githubtest: add installation on %s: no app is registered", org)
	}
	if s.installs == nil {
		s.installs = map[int64]*installation{}
	}
	id := s.newID()
	s.installs[id] = &installation{id: id, appID: appID, org: org}
	return id
}

// Advance moves the fake's clock forward by d: installation tokens and
// JWTs are judged against it. Tests that sign JWTs or renew tokens take
// their time from Now.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Now is the fake's clock: the real time moved by Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// now is Now for callers that hold s.mu.
func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

// InstallationTokens returns how many installation tokens were issued.
func (s *Server) InstallationTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// acceptsToken reports whether tok authenticates a git request: Token(),
// or an installation token that has not expired.
func (s *Server) acceptsToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == "" {
		return false
	}
	if tok == s.token {
		return true
	}
	exp, ok := s.tokens[tok]
	return ok && s.now().Before(exp)
}

// tokenUsable rejects, as GitHub does with 401 "Bad credentials", an
// expired installation token, and an app JWT outside the app endpoints
// (which check their JWT themselves).
func (s *Server) tokenUsable(r *http.Request) (string, bool) {
	if appEndpoint(r.URL.Path) {
		return "", true
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	s.mu.Lock()
	exp, issued := s.tokens[tok]
	now := s.now()
	s.mu.Unlock()
	if issued && !now.Before(exp) {
		return "Bad credentials", false
	}
	if strings.Count(tok, ".") == 2 && strings.HasPrefix(tok, "eyJ") {
		return "Bad credentials", false
	}
	return "", true
}

// appEndpoint reports whether p is authenticated as the app (by JWT).
func appEndpoint(p string) bool {
	if strings.HasPrefix(p, "/app/") || p == "/app" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/orgs/")
	return ok && strings.Count(rest, "/") == 1 && strings.HasSuffix(rest, "/installation")
}

func (s *Server) routeApps(mux *http.ServeMux) {
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) {
		appID, ok := s.verifyJWT(w, r)
		if !ok {
			return
		}
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		s.mu.Lock()
		inst := s.installs[id]
		if inst == nil || inst.appID != appID {
			s.mu.Unlock()
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		tok := "ghs_" + randomAlnum(s.t, 36)
		if s.tokens == nil {
			s.tokens = map[string]time.Time{}
		}
		exp := s.now().Add(installationTokenTTL).Truncate(time.Second)
		s.tokens[tok] = exp
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]any{
			"token":                tok,
			"expires_at":           timestamp(exp),
			"permissions":          map[string]string{"contents": "read", "metadata": "read"},
			"repository_selection": "all",
		})
	})
	mux.HandleFunc("GET /orgs/{org}/installation", func(w http.ResponseWriter, r *http.Request) {
		appID, ok := s.verifyJWT(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		var inst *installation
		for _, in := range s.installs {
			if in.appID == appID && strings.EqualFold(in.org, r.PathValue("org")) {
				inst = in
			}
		}
		s.mu.Unlock()
		if inst == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id":                   inst.id,
			"app_id":               inst.appID,
			"account":              map[string]any{"login": inst.org, "type": "Organization"},
			"target_type":          "Organization",
			"repository_selection": "all",
			"access_tokens_url":    s.apiURL("/app/installations/%d/access_tokens", inst.id),
			"permissions":          map[string]string{"contents": "read", "metadata": "read"},
		})
	})
}

// verifyJWT checks the app JWT of r as GitHub does: "Bearer" scheme,
// RS256 signed by a registered app (iss: the app id, as a number or a
// string), exp in the future, at most ten minutes after iat and from now.
// It answers 401 and returns false otherwise.
func (s *Server) verifyJWT(w http.ResponseWriter, r *http.Request) (int64, bool) {
	fail := func(msg string) (int64, bool) {
		writeError(w, http.StatusUnauthorized, msg)
		return 0, false
	}
	const undecodable = "A JSON web token could not be decoded"
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	parts := strings.Split(tok, ".")
	if !strings.EqualFold(scheme, "Bearer") || len(parts) != 3 {
		return fail(undecodable)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
		Iss any         `json:"iss"`
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil || header.Alg != "RS256" {
		return fail(undecodable)
	}
	var appID int64
	switch iss := claims.Iss.(type) {
	case json.Number:
		appID, err = iss.Int64()
	case string:
		appID, err = strconv.ParseInt(iss, 10, 64)
	default:
		err = fmt.Errorf("iss is %T", iss)
	}
	s.mu.Lock()
	app := s.apps[appID]
	now := s.now()
	s.mu.Unlock()
	if err != nil || app == nil {
		return fail("Integration not found")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(app.pub, crypto.SHA256, digest[:], sig) != nil {
		return fail(undecodable)
	}
	iat, err1 := claims.Iat.Int64()
	exp, err2 := claims.Exp.Int64()
	if err1 != nil {
		return fail("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	if err2 != nil || !time.Unix(exp, 0).After(now) {
		return fail("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if time.Unix(iat, 0).After(now.Add(time.Minute)) {
		return fail("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	if exp-iat > int64(maxJWTLifetime/time.Second) || time.Unix(exp, 0).After(now.Add(maxJWTLifetime)) {
		return fail("'Expiration time' claim ('exp') is too far in the future")
	}
	return appID, true
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomAlnum(t interface{ Fatalf(string, ...any) }, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			t.Fatalf("githubtest: read random: %v", err)
		}
		b[i] = alnum[k.Int64()]
	}
	return string(b)
}

// AppJWT signs an app JWT (RS256) with key for appID, issued at iat and
// expiring at exp, so that tests can present good and bad ones.
func AppJWT(key *rsa.PrivateKey, appID int64, iat, exp time.Time) (string, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b), err
	}
	h, err := enc(map[string]string{"alg": "RS256", "typ": "JWT"})
	if err != nil {
		return "", err
	}
	c, err := enc(map[string]any{"iat": iat.Unix(), "exp": exp.Unix(), "iss": strconv.FormatInt(appID, 10)})
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(h + "." + c))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
