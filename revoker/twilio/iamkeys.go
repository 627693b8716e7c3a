package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/leakstop/leakstop/secret"
)

// API key types (TWILIO.md, "API key types").
const (
	// KeyStandard may use every API except /Accounts and /Keys management.
	KeyStandard = "standard"
	// KeyRestricted may do only what its Policy allows.
	KeyRestricted = "restricted"
	// KeyMain may do everything the Auth Token may. No API creates one:
	// only the Twilio Console does.
	KeyMain = "main"
)

const iamKeysPath = "/v1/Keys"

func iamKeyPath(sid string) string { return iamKeysPath + "/" + sid }

// IAMKey is the IAM v1 Key resource (GET https://iam.twilio.com/v1/Keys/{Sid}).
// Policy is the key's policy as Twilio returned it ({"allow": [...]}), nil
// for Standard and Main keys.
type IAMKey struct {
	Key
	Policy json.RawMessage `json:"policy,omitempty"`
}

// Restricted reports whether the key has a policy, which only Restricted
// keys have.
func (k *IAMKey) Restricted() bool { return k != nil && !isNullJSON(k.Policy) }

// NewIAMKey is a key as CreateIAMKey returns it, the only time its secret
// is shown.
type NewIAMKey struct {
	IAMKey
	Secret secret.Value `json:"secret"`
}

type iamKeyWire struct {
	keyWire
	Policy json.RawMessage `json:"policy"`
}

func (w *iamKeyWire) key() IAMKey {
	k := IAMKey{Key: w.keyWire.key()}
	if !isNullJSON(w.Policy) {
		k.Policy = append(json.RawMessage(nil), w.Policy...)
	}
	return k
}

func isNullJSON(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}

// SamePolicy reports whether two policies are the same JSON value
// (whitespace and key order aside). Two absent policies are the same.
func SamePolicy(a, b json.RawMessage) bool {
	if isNullJSON(a) || isNullJSON(b) {
		return isNullJSON(a) == isNullJSON(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// FetchIAMKey reads one API key through IAM v1, with its policy. Only the
// account's Auth Token or a Main key may.
func (c *Client) FetchIAMKey(ctx context.Context, keySID string, cred Credential) (*IAMKey, error) {
	if err := checkKeySID(keySID); err != nil {
		return nil, err
	}
	var w iamKeyWire
	if err := c.do(ctx, &request{method: http.MethodGet, base: c.iam, path: iamKeyPath(keySID), cred: cred, out: &w}); err != nil {
		return nil, err
	}
	w.Secret = nil
	k := w.key()
	return &k, nil
}

// CreateIAMKey creates an API key through IAM v1 (POST
// https://iam.twilio.com/v1/Keys, 201) and returns it with its secret.
// keyType is KeyStandard or KeyRestricted (policy then required: the JSON
// object Twilio expects, {"allow": [...]}); Main keys cannot be created
// through any API. Give keys unique names: after an *UnknownOutcomeError,
// ListKeys is how to find out whether the key was made.
func (c *Client) CreateIAMKey(ctx context.Context, accountSID, friendlyName, keyType string, policy json.RawMessage, cred Credential) (*NewIAMKey, error) {
	if err := checkAccountSID(accountSID); err != nil {
		return nil, err
	}
	if err := checkFriendlyName(friendlyName); err != nil {
		return nil, err
	}
	form := url.Values{"AccountSid": {accountSID}}
	if friendlyName != "" {
		form.Set("FriendlyName", friendlyName)
	}
	switch keyType {
	case KeyStandard, "":
		if !isNullJSON(policy) {
			return nil, fmt.Errorf("%w: a Standard key has no policy", ErrInvalidArgument)
		}
	case KeyRestricted:
		var p map[string]any
		if isNullJSON(policy) || json.Unmarshal(policy, &p) != nil {
			return nil, fmt.Errorf("%w: a Restricted key needs a policy (a JSON object)", ErrInvalidArgument)
		}
		form.Set("KeyType", KeyRestricted)
		form.Set("Policy", string(bytes.TrimSpace(policy)))
	case KeyMain:
		return nil, fmt.Errorf("%w: no API creates a Main key (only the Twilio Console does)", ErrInvalidArgument)
	default:
		return nil, fmt.Errorf("%w: unknown key type %q", ErrInvalidArgument, keyType)
	}
	var w iamKeyWire
	rq := &request{method: http.MethodPost, base: c.iam, path: iamKeysPath, form: form, cred: cred, out: &w}
	if err := c.do(ctx, rq); err != nil {
		return nil, err
	}
	sec := str(w.Secret)
	w.Secret = nil
	if sec == "" || str(w.SID) == "" {
		return nil, c.unknown(rq, fmt.Errorf("%w: no sid or secret in the response", ErrMalformedResponse))
	}
	return &NewIAMKey{IAMKey: w.key(), Secret: secret.New(sec)}, nil
}
