package twiliotest

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// account is one Twilio account (or the test-credentials pair of one).
type account struct {
	sid, friendlyName, status, typ string
	owner                          string // owner_account_sid: its own SID unless a subaccount
	test                           bool
	primary, secondary             secret.Value
	primaryCreated                 time.Time
	secondaryCreated               time.Time
	created, updated               time.Time
}

func (a *account) isSub() bool { return a.owner != a.sid }

// apiKey is one v2010 API key.
type apiKey struct {
	sid, account     string
	friendlyName     *string // nil: created without FriendlyName, shown as null
	secret           secret.Value
	main             bool   // a Main key: may use /Accounts, /Keys, /v1/Keys, /v1/AuthTokens
	policy           []byte // a Restricted key's policy (JSON object); nil for Standard and Main
	created, updated time.Time
	seq              uint64 // list order; keeps its place for page tokens after deletion
}

// AccountSpec describes an account to plant with AddAccount.
type AccountSpec struct {
	FriendlyName string // default "leakstop fake account"
	Status       string // active (default), suspended or closed
	Test         bool   // the pair is test credentials: every endpoint here answers 403 / 20008
	Type         string // Full (default) or Trial
	Parent       string // owner account SID: plant a subaccount of that account
}

// AddAccount plants an account and returns its SID (AC + 32 lower-case
// hex) and primary Auth Token (32 hex), both from crypto/rand.
func (s *Server) AddAccount(spec AccountSpec) (sid string, primary secret.Value) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Parent != "" && s.accounts[spec.Parent] == nil {
		s.t.Fatalf("twiliotest: AddAccount: unknown parent account")
	}
	switch spec.Status {
	case "":
		spec.Status = "active"
	case "active", "suspended", "closed":
	default:
		s.t.Fatalf("twiliotest: AddAccount: status %q is not in the spec's enum", spec.Status)
	}
	switch spec.Type {
	case "":
		spec.Type = "Full"
	case "Full", "Trial":
	default:
		s.t.Fatalf("twiliotest: AddAccount: type %q is not in the spec's enum", spec.Type)
	}
	if spec.FriendlyName == "" {
		spec.FriendlyName = "leakstop fake account"
	}
	a := s.newAccountLocked(spec.FriendlyName, spec.Parent)
	a.status, a.typ, a.test = spec.Status, spec.Type, spec.Test
	return a.sid, a.primary
}

func (s *Server) newAccountLocked(name, parent string) *account {
	now := s.now()
	a := &account{
		sid:            "AC" + randHex(16),
		friendlyName:   name,
		status:         "active",
		typ:            "Full",
		primary:        secret.New(randHex(16)),
		primaryCreated: now,
		created:        now,
		updated:        now,
	}
	a.owner = a.sid
	s.seq++
	s.acctSeq[a.sid] = s.seq
	if parent != "" {
		a.owner = parent
		a.typ = s.accounts[parent].typ
	}
	s.accounts[a.sid] = a
	return a
}

// SetSecondary plants a secondary Auth Token (for example an attacker's),
// replacing any, and returns it.
func (s *Server) SetSecondary(accountSID string) secret.Value {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccountLocked(accountSID)
	a.secondary = secret.New(randHex(16))
	a.secondaryCreated = s.now()
	return a.secondary
}

// SetStatus changes an account's status (active, suspended, closed).
func (s *Server) SetStatus(accountSID, status string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccountLocked(accountSID)
	switch status {
	case "active", "suspended", "closed":
	default:
		s.t.Fatalf("twiliotest: SetStatus: status %q is not in the spec's enum", status)
	}
	a.status, a.updated = status, s.now()
}

// Tokens returns the account's current primary and secondary Auth Tokens
// (secondary is zero when there is none).
func (s *Server) Tokens(accountSID string) (primary, secondary secret.Value) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccountLocked(accountSID)
	return a.primary, a.secondary
}

// AddKey plants an API key (SK + 32 hex; secret 32 [A-Za-z0-9]). Main keys
// may use /Accounts and /Keys; Standard keys (main=false) get 401 / 20003
// there, as from Twilio.
func (s *Server) AddKey(accountSID string, main bool) (keySID string, secretVal secret.Value) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccountLocked(accountSID)
	k := s.newKeyLocked(accountSID, nil)
	k.main = main
	return k.sid, k.secret
}

// Key types for AddTypedKey (TWILIO.md, "API key types").
const (
	KeyStandard   = "standard"
	KeyRestricted = "restricted"
	KeyMain       = "main"
)

// AddTypedKey plants an API key of the given type: KeyMain (what only the
// Console creates), KeyStandard, or KeyRestricted with policy (a JSON
// object such as {"allow":["/twilio/messaging/messages/read"]}).
// Standard and Restricted keys get 401 / 20003 on every endpoint this
// fake serves: /Accounts, /Keys, /v1/Keys and /v1/AuthTokens are
// Main-only.
func (s *Server) AddTypedKey(accountSID, keyType, policy string) (keySID string, secretVal secret.Value) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccountLocked(accountSID)
	k := s.newKeyLocked(accountSID, nil)
	switch keyType {
	case KeyMain:
		k.main = true
	case KeyStandard:
	case KeyRestricted:
		p, err := parsePolicy(policy)
		if err != "" {
			s.t.Fatalf("twiliotest: AddTypedKey: %s", err)
		}
		k.policy = p
	default:
		s.t.Fatalf("twiliotest: AddTypedKey: unknown key type %q", keyType)
	}
	return k.sid, k.secret
}

// KeyInfo returns a key's type and policy (nil unless Restricted); ok is
// false when the key does not exist.
func (s *Server) KeyInfo(keySID string) (keyType string, policy []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[keySID]
	if k == nil {
		return "", nil, false
	}
	return k.keyType(), append([]byte(nil), k.policy...), true
}

func (k *apiKey) keyType() string {
	switch {
	case k.main:
		return KeyMain
	case k.policy != nil:
		return KeyRestricted
	}
	return KeyStandard
}

func (s *Server) newKeyLocked(accountSID string, name *string) *apiKey {
	now := s.now()
	s.seq++
	k := &apiKey{
		sid:          "SK" + randHex(16),
		account:      accountSID,
		friendlyName: name,
		secret:       secret.New(randAlnum(32)),
		created:      now,
		updated:      now,
		seq:          s.seq,
	}
	s.keys[k.sid] = k
	s.keySeq[k.sid] = k.seq
	return k
}

// HasKey reports whether the key exists and belongs to the account.
func (s *Server) HasKey(accountSID, keySID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[keySID]
	return k != nil && k.account == accountSID
}

// Authenticates reports whether Twilio would accept this Basic pair now:
// the account's primary or current secondary Auth Token, or a live key's
// secret, on an active account. Test credentials authenticate (they are
// refused later, with 403 / 20008).
func (s *Server) Authenticates(user string, pass secret.Value) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.authenticateLocked(user, pass)
	return ok
}

// principal is who a request authenticated as.
type principal struct {
	acct *account
	key  *apiKey // nil for an Auth Token
}

func (s *Server) authenticateLocked(user string, pass secret.Value) (principal, bool) {
	if pass.IsZero() {
		return principal{}, false
	}
	if k := s.keys[user]; k != nil {
		a := s.accounts[k.account]
		if a != nil && a.status == "active" && k.secret.Equal(pass) {
			return principal{acct: a, key: k}, true
		}
		return principal{}, false
	}
	a := s.accounts[user]
	if a == nil || a.status != "active" {
		return principal{}, false
	}
	if a.primary.Equal(pass) || (!a.secondary.IsZero() && a.secondary.Equal(pass)) {
		return principal{acct: a}, true
	}
	return principal{}, false
}

// mayUseAccount is Twilio's rule for /Accounts/{Sid} paths: the account's
// own Auth Token, the Auth Token of its parent, or a Main key of the account
// itself (a Main key reaches no subaccount).
func (s *Server) mayUseAccount(p principal, target string) bool {
	if p.key != nil {
		return p.key.main && target == p.acct.sid
	}
	if target == p.acct.sid {
		return true
	}
	t := s.accounts[target]
	return t != nil && t.isSub() && t.owner == p.acct.sid
}

func (s *Server) mustAccountLocked(sid string) *account {
	s.t.Helper()
	a := s.accounts[sid]
	if a == nil {
		s.t.Fatalf("twiliotest: unknown account SID")
	}
	return a
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if int(b) < 256-256%len(alphabet) && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
