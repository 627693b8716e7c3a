package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends an empty POST with "Authorization: Bearer auth" and decodes
// the answer into v.
func post(t *testing.T, url, auth string, v any) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func installationToken(t *testing.T, s *Server, key *rsa.PrivateKey, appID, inst int64) string {
	t.Helper()
	now := s.Now()
	jwt, err := AppJWT(key, appID, now.Add(-time.Minute), now.Add(9*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if st := post(t, fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), inst), jwt, &body); st != 201 {
		t.Fatalf("access token: status %d", st)
	}
	if !strings.HasPrefix(body.Token, "ghs_") || len(body.Token) != 40 {
		t.Fatalf("token shape: %d chars", len(body.Token))
	}
	if d := body.ExpiresAt.Sub(now); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("expires in %s", d)
	}
	return body.Token
}

func TestAppInstallationToken(t *testing.T) {
	s := New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterApp(42, &key.PublicKey)
	inst := s.AddInstallation("acme")
	s.AddOrgRepo("acme", OrgRepo{Name: "r"})

	// Look the installation up by org, as the app.
	now := s.Now()
	jwt, _ := AppJWT(key, 42, now.Add(-time.Minute), now.Add(9*time.Minute))
	var got struct {
		ID    int64 `json:"id"`
		AppID int64 `json:"app_id"`
	}
	if resp := getJSON(t, s.URL()+"/api/v3/orgs/acme/installation", jwt, &got); resp.StatusCode != 200 || got.ID != inst || got.AppID != 42 {
		t.Fatalf("installation: %d %+v", resp.StatusCode, got)
	}
	if resp := getJSON(t, s.URL()+"/orgs/elsewhere/installation", jwt, nil); resp.StatusCode != 404 {
		t.Fatalf("installation on an org without the app: %d", resp.StatusCode)
	}

	token := installationToken(t, s, key, 42, inst)
	var repos []map[string]any
	if resp := getJSON(t, s.URL()+"/orgs/acme/repos", token, &repos); resp.StatusCode != 200 || len(repos) != 1 {
		t.Fatalf("listing with the installation token: %d", resp.StatusCode)
	}
	// The JWT is not an API token, nor is an installation token a JWT.
	if resp := getJSON(t, s.URL()+"/orgs/acme/repos", jwt, nil); resp.StatusCode != 401 {
		t.Fatalf("listing with the JWT: %d", resp.StatusCode)
	}
	var e map[string]any
	if st := post(t, fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), inst), token, &e); st != 401 {
		t.Fatalf("access token with an installation token: %d", st)
	}

	bad := map[string]string{}
	sign := func(k *rsa.PrivateKey, app int64, iat, exp time.Time) string {
		j, err := AppJWT(k, app, iat, exp)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	bad["wrong key"] = sign(other, 42, now.Add(-time.Minute), now.Add(9*time.Minute))
	bad["unknown app"] = sign(key, 43, now.Add(-time.Minute), now.Add(9*time.Minute))
	bad["expired"] = sign(key, 42, now.Add(-11*time.Minute), now.Add(-time.Minute))
	bad["too long"] = sign(key, 42, now.Add(-time.Minute), now.Add(10*time.Minute))
	bad["exp too far"] = sign(key, 42, now.Add(5*time.Minute), now.Add(12*time.Minute))
	bad["tampered"] = jwt[:len(jwt)-4] + "AAAA"
	bad["garbage"] = "not-a-jwt"
	parts := strings.Split(jwt, ".")
	bad["alg none"] = "eyJhbGciOiJub25lIn0." + parts[1] + "."
	for name, j := range bad {
		if st := post(t, fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), inst), j, &e); st != 401 {
			t.Errorf("%s JWT: status %d, want 401", name, st)
		}
	}
	if st := post(t, s.URL()+"/app/installations/999999/access_tokens", jwt, &e); st != 404 {
		t.Errorf("unknown installation: %d", st)
	}

	// An hour later the installation token is refused.
	s.Advance(time.Hour)
	if resp := getJSON(t, s.URL()+"/orgs/acme/repos", token, &e); resp.StatusCode != 401 || e["message"] != "Bad credentials" {
		t.Fatalf("expired token: %d %v", resp.StatusCode, e)
	}
	if n := s.InstallationTokens(); n != 1 {
		t.Fatalf("tokens issued: %d", n)
	}
}
