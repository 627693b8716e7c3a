package githubtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"
)

func seal(t *testing.T, pk *github.PublicKey, value string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(pk.GetKey())
	if err != nil || len(raw) != 32 {
		t.Fatalf("decode public key: %v (len %d)", err, len(raw))
	}
	var key [32]byte
	copy(key[:], raw)
	out, err := box.SealAnonymous(nil, []byte(value), &key, rand.Reader)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func TestRepoSecretRoundTrip(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()
	value := "value-" + randomHex(t, 16)

	pk, _, err := c.Actions.GetRepoPublicKey(ctx, "acme", "app")
	if err != nil {
		t.Fatal(err)
	}
	sec := &github.EncryptedSecret{Name: "MY_SECRET", KeyID: pk.GetKeyID(), EncryptedValue: seal(t, pk, value)}
	resp, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "acme", "app", sec)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("first put: %v %v", resp, err)
	}
	resp, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "acme", "app", sec)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("second put: %v %v", resp, err)
	}
	if got, ok := s.RepoSecret("ACME", "App", "my_secret"); !ok || got != value {
		t.Fatalf("RepoSecret = %q, %v", got, ok)
	}
	meta, _, err := c.Actions.GetRepoSecret(ctx, "acme", "app", "MY_SECRET")
	if err != nil || meta.Name != "MY_SECRET" {
		t.Fatalf("get secret: %+v %v", meta, err)
	}
	if _, ok := s.RepoSecret("acme", "app", "OTHER"); ok {
		t.Fatal("unexpected secret")
	}
}

func TestSecretValidation(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()
	pk, _, err := c.Actions.GetRepoPublicKey(ctx, "o", "r")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := c.Actions.GetRepoPublicKey(ctx, "o", "other")
	if err != nil {
		t.Fatal(err)
	}
	good := seal(t, pk, "v")
	cases := []struct {
		name string
		sec  github.EncryptedSecret
	}{
		{"stale key id", github.EncryptedSecret{Name: "A", KeyID: "1", EncryptedValue: good}},
		{"missing key id", github.EncryptedSecret{Name: "A", EncryptedValue: good}},
		{"missing value", github.EncryptedSecret{Name: "A", KeyID: pk.GetKeyID()}},
		{"not base64", github.EncryptedSecret{Name: "A", KeyID: pk.GetKeyID(), EncryptedValue: "%%%"}},
		{"sealed for another key", github.EncryptedSecret{Name: "A", KeyID: pk.GetKeyID(), EncryptedValue: seal(t, other, "v")}},
		{"bad name", github.EncryptedSecret{Name: "1A", KeyID: pk.GetKeyID(), EncryptedValue: good}},
		{"reserved prefix", github.EncryptedSecret{Name: "GITHUB_X", KeyID: pk.GetKeyID(), EncryptedValue: good}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sec := tc.sec
			_, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", &sec)
			if statusOf(err) != http.StatusUnprocessableEntity {
				t.Fatalf("err = %v, want 422", err)
			}
		})
	}
	s.RotateRepoKey("o", "r")
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", &github.EncryptedSecret{Name: "A", KeyID: pk.GetKeyID(), EncryptedValue: good})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("after rotation: err = %v, want 422", err)
	}
}

func TestOrgSecretVisibility(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()
	pk, _, err := c.Actions.GetOrgPublicKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	value := "value-" + randomHex(t, 16)
	_, err = c.Actions.CreateOrUpdateOrgSecret(ctx, "acme", &github.EncryptedSecret{Name: "TOK", KeyID: pk.GetKeyID(), EncryptedValue: seal(t, pk, value)})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("missing visibility: err = %v, want 422", err)
	}
	_, err = c.Actions.CreateOrUpdateOrgSecret(ctx, "acme", &github.EncryptedSecret{Name: "TOK", KeyID: pk.GetKeyID(),
		EncryptedValue: seal(t, pk, value), Visibility: "selected", SelectedRepositoryIDs: github.SelectedRepoIDs{7, 9}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.OrgSecret("acme", "TOK"); !ok || got != value {
		t.Fatalf("OrgSecret = %q %v", got, ok)
	}
	vis, ids, _ := s.OrgSecretAccess("acme", "TOK")
	if vis != "selected" || len(ids) != 2 {
		t.Fatalf("access = %s %v", vis, ids)
	}
	meta, _, err := c.Actions.GetOrgSecret(ctx, "acme", "TOK")
	if err != nil || meta.Visibility != "selected" || meta.SelectedRepositoriesURL == "" {
		t.Fatalf("meta = %+v %v", meta, err)
	}
	list, _, err := c.Actions.ListSelectedReposForOrgSecret(ctx, "acme", "TOK", nil)
	if err != nil || list.GetTotalCount() != 2 || list.Repositories[1].GetID() != 9 {
		t.Fatalf("selected = %+v %v", list, err)
	}
	// An update with visibility selected and no ids keeps the list.
	_, err = c.Actions.CreateOrUpdateOrgSecret(ctx, "acme", &github.EncryptedSecret{Name: "TOK", KeyID: pk.GetKeyID(),
		EncryptedValue: seal(t, pk, value), Visibility: "selected"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ids, _ := s.OrgSecretAccess("acme", "TOK"); len(ids) != 2 {
		t.Fatalf("ids after update = %v", ids)
	}
	_, err = c.Actions.CreateOrUpdateOrgSecret(ctx, "acme", &github.EncryptedSecret{Name: "TOK", KeyID: pk.GetKeyID(),
		EncryptedValue: seal(t, pk, value), Visibility: "all", SelectedRepositoryIDs: github.SelectedRepoIDs{1}})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("ids with visibility all: err = %v, want 422", err)
	}
}
