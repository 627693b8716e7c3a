package githubtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// keyPair is the NaCl key pair GitHub uses to receive secrets for one
// repository or organisation.
type keyPair struct {
	id   string
	pub  [32]byte
	priv [32]byte
}

type storedSecret struct {
	name       string
	plaintext  string
	created    time.Time
	updated    time.Time
	visibility string  // organisation secrets only
	selected   []int64 // organisation secrets with visibility "selected"
}

type repoState struct {
	owner, name string
	key         *keyPair
	secrets     map[string]*storedSecret // key: upper-case name
	issues      []*issue
	pulls       map[int]*pullState
	nextNumber  int
}

type orgState struct {
	name    string
	key     *keyPair
	secrets map[string]*storedSecret
}

// secretName is GitHub's rule for secret names: letters, digits and
// underscores, not starting with a digit; the GITHUB_ prefix is reserved.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Server) newKeyPair() *keyPair {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatalf("githubtest: generate key pair: %v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &keyPair{
		id:   strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10),
		pub:  *pub,
		priv: *priv,
	}
}

// repo returns the state of owner/name, creating it. Callers hold s.mu.
func (s *Server) repo(owner, name string) *repoState {
	k := strings.ToLower(owner + "/" + name)
	r := s.repos[k]
	if r == nil {
		r = &repoState{owner: owner, name: name, key: s.newKeyPair(),
			secrets: map[string]*storedSecret{}, pulls: map[int]*pullState{}}
		s.repos[k] = r
	}
	return r
}

// org returns the state of name, creating it. Callers hold s.mu.
func (s *Server) org(name string) *orgState {
	k := strings.ToLower(name)
	o := s.orgs[k]
	if o == nil {
		o = &orgState{name: name, key: s.newKeyPair(), secrets: map[string]*storedSecret{}}
		s.orgs[k] = o
	}
	return o
}

// RepoSecret decrypts the Actions secret name of owner/repo.
func (s *Server) RepoSecret(owner, repo, name string) (plaintext string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.repo(owner, repo).secrets[strings.ToUpper(name)]
	if sec == nil {
		return "", false
	}
	return sec.plaintext, true
}

// OrgSecret decrypts the Actions secret name of org.
func (s *Server) OrgSecret(org, name string) (plaintext string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.org(org).secrets[strings.ToUpper(name)]
	if sec == nil {
		return "", false
	}
	return sec.plaintext, true
}

// OrgSecretAccess reports the visibility of an organisation secret and, for
// "selected", the repository ids that may use it.
func (s *Server) OrgSecretAccess(org, name string) (visibility string, selected []int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.org(org).secrets[strings.ToUpper(name)]
	if sec == nil {
		return "", nil, false
	}
	return sec.visibility, slices.Clone(sec.selected), true
}

// SetOrgSecret stores an organisation secret directly, as if written
// earlier by someone else.
func (s *Server) SetOrgSecret(org, name, plaintext, visibility string, selected []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.org(org).secrets[strings.ToUpper(name)] = &storedSecret{name: strings.ToUpper(name),
		plaintext: plaintext, created: now, updated: now, visibility: visibility, selected: slices.Clone(selected)}
}

// SetRepoSecret stores a repository secret directly.
func (s *Server) SetRepoSecret(owner, repo, name, plaintext string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.repo(owner, repo).secrets[strings.ToUpper(name)] = &storedSecret{name: strings.ToUpper(name),
		plaintext: plaintext, created: now, updated: now}
}

// RotateRepoKey replaces the public key of owner/repo, so that writes
// sealed for the old key id are refused with 422.
func (s *Server) RotateRepoKey(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo).key = s.newKeyPair()
}

// RotateOrgKey replaces the public key of org.
func (s *Server) RotateOrgKey(org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org(org).key = s.newKeyPair()
}

func (s *Server) routeSecrets(mux *http.ServeMux) {
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/public-key", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		k := s.repo(r.PathValue("owner"), r.PathValue("repo")).key
		s.mu.Unlock()
		writeKey(w, k)
	})
	mux.HandleFunc("GET /orgs/{org}/actions/secrets/public-key", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		k := s.org(r.PathValue("org")).key
		s.mu.Unlock()
		writeKey(w, k)
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeSecretList(w, s.repo(r.PathValue("owner"), r.PathValue("repo")).secrets, "")
	})
	mux.HandleFunc("GET /orgs/{org}/actions/secrets", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o := r.PathValue("org")
		writeSecretList(w, s.org(o).secrets, o)
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sec := s.repo(r.PathValue("owner"), r.PathValue("repo")).secrets[strings.ToUpper(r.PathValue("name"))]
		if sec == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		writeJSON(w, http.StatusOK, s.secretJSON(sec, ""))
	})
	mux.HandleFunc("GET /orgs/{org}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o := r.PathValue("org")
		sec := s.org(o).secrets[strings.ToUpper(r.PathValue("name"))]
		if sec == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		writeJSON(w, http.StatusOK, s.secretJSON(sec, o))
	})
	mux.HandleFunc("GET /orgs/{org}/actions/secrets/{name}/repositories", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sec := s.org(r.PathValue("org")).secrets[strings.ToUpper(r.PathValue("name"))]
		if sec == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		if sec.visibility != "selected" {
			writeError(w, http.StatusConflict, "The visibility of the secret is not set to selected")
			return
		}
		repos := make([]map[string]any, 0, len(sec.selected))
		for _, id := range sec.selected {
			repos = append(repos, map[string]any{"id": id})
		}
		writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repositories": repos})
	})
	mux.HandleFunc("PUT /repos/{owner}/{repo}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req secretRequest
		if !decodeBody(w, r, &req) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rs := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		s.putSecret(w, r.PathValue("name"), req, rs.key, rs.secrets, false)
	})
	mux.HandleFunc("PUT /orgs/{org}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req secretRequest
		if !decodeBody(w, r, &req) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.org(r.PathValue("org"))
		s.putSecret(w, r.PathValue("name"), req, o.key, o.secrets, true)
	})
	mux.HandleFunc("DELETE /repos/{owner}/{repo}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		deleteSecret(w, s.repo(r.PathValue("owner"), r.PathValue("repo")).secrets, r.PathValue("name"))
	})
	mux.HandleFunc("DELETE /orgs/{org}/actions/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		deleteSecret(w, s.org(r.PathValue("org")).secrets, r.PathValue("name"))
	})
}

// secretRequest is the body of a PUT .../actions/secrets/{name}. Pointers
// tell a missing field from an empty one.
type secretRequest struct {
	EncryptedValue        *string  `json:"encrypted_value"`
	KeyID                 *string  `json:"key_id"`
	Visibility            *string  `json:"visibility"`
	SelectedRepositoryIDs *[]int64 `json:"selected_repository_ids"`
}

// putSecret validates and stores a secret. Callers hold s.mu.
func (s *Server) putSecret(w http.ResponseWriter, name string, req secretRequest, key *keyPair, secrets map[string]*storedSecret, org bool) {
	if !secretName.MatchString(name) || strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		writeValidation(w, "", fieldError{Resource: "Secret", Field: "name", Code: "invalid",
			Message: "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_"})
		return
	}
	if req.EncryptedValue == nil || *req.EncryptedValue == "" {
		writeValidation(w, "", fieldError{Resource: "Secret", Field: "encrypted_value", Code: "missing_field"})
		return
	}
	if req.KeyID == nil || *req.KeyID == "" {
		writeValidation(w, "", fieldError{Resource: "Secret", Field: "key_id", Code: "missing_field"})
		return
	}
	if *req.KeyID != key.id {
		writeValidation(w, "Bad request - key_id does not match the current public key", fieldError{Resource: "Secret", Field: "key_id", Code: "invalid"})
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(*req.EncryptedValue)
	if err != nil {
		writeValidation(w, "Bad request - encrypted_value is not valid base64", fieldError{Resource: "Secret", Field: "encrypted_value", Code: "invalid"})
		return
	}
	plain, ok := box.OpenAnonymous(nil, sealed, &key.pub, &key.priv)
	if !ok {
		writeValidation(w, "Bad request - encrypted_value could not be decrypted with the key", fieldError{Resource: "Secret", Field: "encrypted_value", Code: "invalid"})
		return
	}
	var visibility string
	var selected []int64
	upper := strings.ToUpper(name)
	old := secrets[upper]
	if org {
		if req.Visibility == nil || *req.Visibility == "" {
			writeValidation(w, "", fieldError{Resource: "Secret", Field: "visibility", Code: "missing_field"})
			return
		}
		visibility = *req.Visibility
		if visibility != "all" && visibility != "private" && visibility != "selected" {
			writeValidation(w, "", fieldError{Resource: "Secret", Field: "visibility", Code: "invalid",
				Message: "visibility must be one of all, private, selected"})
			return
		}
		if req.SelectedRepositoryIDs != nil && visibility != "selected" {
			writeValidation(w, "", fieldError{Resource: "Secret", Field: "selected_repository_ids", Code: "invalid",
				Message: "selected_repository_ids may only be given when visibility is selected"})
			return
		}
		switch {
		case req.SelectedRepositoryIDs != nil:
			selected = slices.Clone(*req.SelectedRepositoryIDs)
		case visibility == "selected" && old != nil && old.visibility == "selected":
			selected = slices.Clone(old.selected) // an update without ids keeps the list
		}
	}
	now := time.Now()
	if old != nil {
		old.plaintext, old.updated, old.visibility, old.selected = string(plain), now, visibility, selected
		w.WriteHeader(http.StatusNoContent)
		return
	}
	secrets[upper] = &storedSecret{name: upper, plaintext: string(plain), created: now, updated: now,
		visibility: visibility, selected: selected}
	writeJSON(w, http.StatusCreated, map[string]any{})
}

func deleteSecret(w http.ResponseWriter, secrets map[string]*storedSecret, name string) {
	upper := strings.ToUpper(name)
	if secrets[upper] == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	delete(secrets, upper)
	w.WriteHeader(http.StatusNoContent)
}

func writeKey(w http.ResponseWriter, k *keyPair) {
	writeJSON(w, http.StatusOK, map[string]any{
		"key_id": k.id,
		"key":    base64.StdEncoding.EncodeToString(k.pub[:]),
	})
}

// secretJSON is GitHub's metadata for a secret (never its value). org is
// empty for repository secrets. Callers hold s.mu.
func (s *Server) secretJSON(sec *storedSecret, org string) map[string]any {
	m := map[string]any{
		"name":       sec.name,
		"created_at": timestamp(sec.created),
		"updated_at": timestamp(sec.updated),
	}
	if org != "" {
		m["visibility"] = sec.visibility
		if sec.visibility == "selected" {
			m["selected_repositories_url"] = s.apiURL("/orgs/%s/actions/secrets/%s/repositories", org, sec.name)
		}
	}
	return m
}

func writeSecretList(w http.ResponseWriter, secrets map[string]*storedSecret, org string) {
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]map[string]any, 0, len(names))
	for _, n := range names {
		sec := secrets[n]
		m := map[string]any{"name": sec.name, "created_at": timestamp(sec.created), "updated_at": timestamp(sec.updated)}
		if org != "" {
			m["visibility"] = sec.visibility
		}
		list = append(list, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "secrets": list})
}
