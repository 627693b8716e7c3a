package sink

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"

	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/secret"
)

// Visibilities of an organisation secret.
const (
	VisibilityAll      = "all"
	VisibilityPrivate  = "private"
	VisibilitySelected = "selected"
)

// GitHubSecretConfig says which GitHub Actions secret receives a delivery.
type GitHubSecretConfig struct {
	// Owner is the repository's owner, or the organisation for an
	// organisation secret.
	Owner string
	// Repo is the repository name; empty means an organisation secret.
	Repo string
	// Name is the secret that receives the new secret value, e.g.
	// TWILIO_AUTH_TOKEN. Required.
	Name string
	// KeySIDName, optional, is the secret that receives the new API key's
	// SID on an api-key delivery. It is ignored for auth tokens.
	KeySIDName string
	// Visibility of an organisation secret: all, private or selected. When
	// empty, an existing secret keeps its visibility (and, for selected,
	// its repositories) and a new one is private.
	Visibility string
	// SelectedRepositoryIDs are the repositories that may use an
	// organisation secret with visibility selected.
	SelectedRepositoryIDs []int64
	// Retry bounds the retries on rate limits; the zero value is the
	// defaults.
	Retry ghretry.Policy
}

// GitHubSecret delivers to a GitHub Actions repository or organisation
// secret: it fetches the public key, seals the value with a libsodium
// sealed box and writes the secret (and, optionally, the key SID).
type GitHubSecret struct {
	client *github.Client
	cfg    GitHubSecretConfig
}

var _ Sink = (*GitHubSecret)(nil)

// secretNameRE is GitHub's rule for secret names.
var secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewGitHubSecret checks cfg and returns the sink. The client needs the
// repo scope for a repository secret and admin:org for an organisation
// secret (fine-grained tokens: the "Secrets" permission).
func NewGitHubSecret(client *github.Client, cfg GitHubSecretConfig) (*GitHubSecret, error) {
	if client == nil {
		return nil, errors.New("new GitHub secret sink: no client")
	}
	if cfg.Owner == "" || strings.Contains(cfg.Owner, "/") || strings.Contains(cfg.Repo, "/") {
		return nil, fmt.Errorf("new GitHub secret sink: owner %q and repo %q must be plain names", cfg.Owner, cfg.Repo)
	}
	names := []string{cfg.Name}
	if cfg.KeySIDName != "" {
		names = append(names, cfg.KeySIDName)
	}
	for _, n := range names {
		if !secretNameRE.MatchString(n) || strings.HasPrefix(strings.ToUpper(n), "GITHUB_") {
			return nil, fmt.Errorf("new GitHub secret sink: secret name %q: letters, digits and _ only, not starting with a digit or GITHUB_", n)
		}
	}
	if strings.EqualFold(cfg.Name, cfg.KeySIDName) {
		return nil, fmt.Errorf("new GitHub secret sink: the key SID needs a secret name other than %q", cfg.Name)
	}
	if cfg.Repo != "" {
		if cfg.Visibility != "" || len(cfg.SelectedRepositoryIDs) > 0 {
			return nil, errors.New("new GitHub secret sink: visibility applies to organisation secrets only")
		}
	} else {
		switch cfg.Visibility {
		case "", VisibilityAll, VisibilityPrivate, VisibilitySelected:
		default:
			return nil, fmt.Errorf("new GitHub secret sink: visibility %q is not all, private or selected", cfg.Visibility)
		}
		if len(cfg.SelectedRepositoryIDs) > 0 && cfg.Visibility != VisibilitySelected {
			return nil, errors.New("new GitHub secret sink: selected repositories need visibility selected")
		}
	}
	cfg.SelectedRepositoryIDs = append([]int64(nil), cfg.SelectedRepositoryIDs...)
	return &GitHubSecret{client: client, cfg: cfg}, nil
}

// Name is "github-repo:OWNER/REPO:NAME" or "github-org:ORG:NAME".
func (g *GitHubSecret) Name() string {
	if g.cfg.Repo != "" {
		return "github-repo:" + g.cfg.Owner + "/" + g.cfg.Repo + ":" + g.cfg.Name
	}
	return "github-org:" + g.cfg.Owner + ":" + g.cfg.Name
}

// Deliver writes d.Secret to the configured secret and, for an api-key
// delivery with KeySIDName set, d.KeySID to that secret. Writing the same
// value again is harmless.
func (g *GitHubSecret) Deliver(ctx context.Context, d Delivery) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("deliver to %s: %w", g.Name(), err)
	}
	key, err := g.publicKey(ctx)
	if err != nil {
		return fmt.Errorf("deliver to %s: %w", g.Name(), err)
	}
	access, err := g.orgAccess(ctx)
	if err != nil {
		return fmt.Errorf("deliver to %s: %w", g.Name(), err)
	}
	if err := g.put(ctx, key, access, g.cfg.Name, []byte(d.Secret.Reveal())); err != nil {
		return fmt.Errorf("deliver to %s: %w", g.Name(), secret.ScrubError(err, d.Secret))
	}
	if d.Kind == KindAPIKey && g.cfg.KeySIDName != "" {
		if err := g.put(ctx, key, access, g.cfg.KeySIDName, []byte(d.KeySID)); err != nil {
			return fmt.Errorf("deliver to %s: %w", g.Name(), secret.ScrubError(err, d.Secret))
		}
	}
	return nil
}

// sealKey is a public key GitHub gave for sealing secrets.
type sealKey struct {
	id  string
	key [32]byte
}

func (g *GitHubSecret) publicKey(ctx context.Context) (sealKey, error) {
	var pk *github.PublicKey
	err := g.cfg.Retry.Do(ctx, true, func(ctx context.Context) (*github.Response, error) {
		var resp *github.Response
		var err error
		if g.cfg.Repo != "" {
			pk, resp, err = g.client.Actions.GetRepoPublicKey(ctx, g.cfg.Owner, g.cfg.Repo)
		} else {
			pk, resp, err = g.client.Actions.GetOrgPublicKey(ctx, g.cfg.Owner)
		}
		return resp, err
	})
	if err != nil {
		return sealKey{}, fmt.Errorf("get public key: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(pk.GetKey())
	if err != nil {
		return sealKey{}, fmt.Errorf("decode public key %s: %w", pk.GetKeyID(), err)
	}
	if len(raw) != 32 || pk.GetKeyID() == "" {
		return sealKey{}, fmt.Errorf("decode public key %q: want a key id and 32 bytes, got %d", pk.GetKeyID(), len(raw))
	}
	k := sealKey{id: pk.GetKeyID()}
	copy(k.key[:], raw)
	return k, nil
}

// orgAccess is the visibility written with an organisation secret.
type orgAccess struct {
	visibility string
	selected   []int64
}

// orgAccess works out the visibility to write: the configured one, else
// the existing secret's (with its repositories), else private.
func (g *GitHubSecret) orgAccess(ctx context.Context) (orgAccess, error) {
	if g.cfg.Repo != "" {
		return orgAccess{}, nil
	}
	if g.cfg.Visibility != "" {
		return orgAccess{visibility: g.cfg.Visibility, selected: g.cfg.SelectedRepositoryIDs}, nil
	}
	var existing *github.Secret
	err := g.cfg.Retry.Do(ctx, true, func(ctx context.Context) (*github.Response, error) {
		var resp *github.Response
		var err error
		existing, resp, err = g.client.Actions.GetOrgSecret(ctx, g.cfg.Owner, g.cfg.Name)
		return resp, err
	})
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return orgAccess{visibility: VisibilityPrivate}, nil
	}
	if err != nil {
		return orgAccess{}, fmt.Errorf("get organisation secret %s: %w", g.cfg.Name, err)
	}
	a := orgAccess{visibility: existing.Visibility}
	if a.visibility == "" {
		a.visibility = VisibilityPrivate
	}
	if a.visibility != VisibilitySelected {
		return a, nil
	}
	opts := &github.ListOptions{PerPage: 100}
	for {
		var list *github.SelectedReposList
		var resp *github.Response
		err := g.cfg.Retry.Do(ctx, true, func(ctx context.Context) (*github.Response, error) {
			var err error
			list, resp, err = g.client.Actions.ListSelectedReposForOrgSecret(ctx, g.cfg.Owner, g.cfg.Name, opts)
			return resp, err
		})
		if err != nil {
			return orgAccess{}, fmt.Errorf("list repositories of organisation secret %s: %w", g.cfg.Name, err)
		}
		for _, r := range list.Repositories {
			a.selected = append(a.selected, r.GetID())
		}
		if resp.NextPage == 0 {
			return a, nil
		}
		opts.Page = resp.NextPage
	}
}

// put seals value and writes it as secret name.
func (g *GitHubSecret) put(ctx context.Context, key sealKey, access orgAccess, name string, value []byte) error {
	sealed, err := box.SealAnonymous(nil, value, &key.key, rand.Reader)
	if err != nil {
		return fmt.Errorf("seal secret %s: %w", name, err)
	}
	es := &github.EncryptedSecret{
		Name:           name,
		KeyID:          key.id,
		EncryptedValue: base64.StdEncoding.EncodeToString(sealed),
	}
	err = g.cfg.Retry.Do(ctx, true, func(ctx context.Context) (*github.Response, error) {
		if g.cfg.Repo != "" {
			return g.client.Actions.CreateOrUpdateRepoSecret(ctx, g.cfg.Owner, g.cfg.Repo, es)
		}
		es.Visibility = access.visibility
		es.SelectedRepositoryIDs = github.SelectedRepoIDs(access.selected)
		return g.client.Actions.CreateOrUpdateOrgSecret(ctx, g.cfg.Owner, es)
	})
	if err != nil {
		return fmt.Errorf("put secret %s: %w", name, err)
	}
	return nil
}
