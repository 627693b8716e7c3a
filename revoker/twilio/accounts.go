package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// Account statuses and types (spec enums account_enum_status, account_enum_type).
const (
	AccountActive    = "active"
	AccountSuspended = "suspended"
	AccountClosed    = "closed"
	AccountTrial     = "Trial"
	AccountFull      = "Full"
)

// Account is the v2010 Account resource.
type Account struct {
	SID             string            `json:"sid"`
	FriendlyName    string            `json:"friendly_name"`
	Status          string            `json:"status"` // active, suspended or closed
	Type            string            `json:"type"`   // Trial or Full
	OwnerAccountSID string            `json:"owner_account_sid"`
	DateCreated     time.Time         `json:"date_created"`
	DateUpdated     time.Time         `json:"date_updated"`
	URI             string            `json:"uri"`
	SubresourceURIs map[string]string `json:"subresource_uris,omitempty"`

	// authTokenMAC is an HMAC, under a per-process random key, of the
	// auth_token Twilio returned (the primary). The token itself is not
	// kept: fmt prints a nested struct's fields raw when it meets a bad
	// verb, bypassing secret.Value's redaction.
	authTokenMAC string
}

// IsAuthToken reports whether tok is the account's primary Auth Token as
// Twilio returned it in this response (false if the response had none). It
// tells a leaked primary from a leaked secondary without keeping the token.
func (a *Account) IsAuthToken(tok secret.Value) bool {
	if a == nil || a.authTokenMAC == "" || tok.IsZero() {
		return false
	}
	return hmac.Equal([]byte(a.authTokenMAC), []byte(secret.Hash(macKey, tok.Reveal())))
}

// macKey keys the in-memory MACs of tokens; it never leaves the process.
var macKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

type accountWire struct {
	SID             *string           `json:"sid"`
	FriendlyName    *string           `json:"friendly_name"`
	Status          *string           `json:"status"`
	Type            *string           `json:"type"`
	OwnerAccountSID *string           `json:"owner_account_sid"`
	DateCreated     *string           `json:"date_created"`
	DateUpdated     *string           `json:"date_updated"`
	URI             *string           `json:"uri"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	AuthToken       *string           `json:"auth_token"`
}

func (w *accountWire) account() *Account {
	a := &Account{
		SID:             str(w.SID),
		FriendlyName:    str(w.FriendlyName),
		Status:          str(w.Status),
		Type:            str(w.Type),
		OwnerAccountSID: str(w.OwnerAccountSID),
		DateCreated:     parseDate(w.DateCreated),
		DateUpdated:     parseDate(w.DateUpdated),
		URI:             str(w.URI),
		SubresourceURIs: w.SubresourceURIs,
	}
	if tok := str(w.AuthToken); tok != "" {
		a.authTokenMAC = secret.Hash(macKey, tok)
	}
	w.AuthToken = nil
	return a
}

// FetchAccount reads the Account resource accountSID with cred. An empty
// accountSID means the credential's own account (Username must then be an
// Account SID).
func (c *Client) FetchAccount(ctx context.Context, accountSID string, cred Credential) (*Account, error) {
	if accountSID == "" {
		accountSID = cred.Username
	}
	if err := checkAccountSID(accountSID); err != nil {
		return nil, err
	}
	var w accountWire
	if err := c.do(ctx, &request{method: http.MethodGet, base: c.api, path: accountPath(accountSID), cred: cred, out: &w}); err != nil {
		return nil, err
	}
	return w.account(), nil
}

type accountListWire struct {
	Accounts    []accountWire `json:"accounts"`
	NextPageURI *string       `json:"next_page_uri"`
}

// maxAccountPages bounds the Accounts list (at 1000 accounts a page).
const maxAccountPages = 1000

// ownAccount lists the accounts cred can see, every page, and picks the
// top-level one (its own owner), or the only one. It serves API keys
// whose account SID is not known.
func (c *Client) ownAccount(ctx context.Context, cred Credential) (*Account, error) {
	var accts []*Account
	query := url.Values{}
	seenPage := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxAccountPages {
			return nil, fmt.Errorf("twilio: GET %s: %w: more than %d pages", accountsListPath, ErrMalformedResponse, maxAccountPages)
		}
		var w accountListWire
		if err := c.do(ctx, &request{method: http.MethodGet, base: c.api, path: accountsListPath, query: query, cred: cred, out: &w}); err != nil {
			return nil, err
		}
		for i := range w.Accounts {
			accts = append(accts, w.Accounts[i].account())
		}
		next := str(w.NextPageURI)
		if next == "" {
			break
		}
		q, err := c.nextPage(next, accountsListPath)
		if err != nil {
			return nil, err
		}
		if seenPage[q.Encode()] {
			return nil, fmt.Errorf("twilio: GET %s: %w: next_page_uri repeats", accountsListPath, ErrMalformedResponse)
		}
		seenPage[q.Encode()] = true
		query = q
	}
	for _, a := range accts {
		if a.SID != "" && a.SID == a.OwnerAccountSID {
			return a, nil
		}
	}
	if len(accts) == 1 {
		return accts[0], nil
	}
	return nil, nil
}

// Status is the outcome of a verification.
type Status int

const (
	StatusUnknown Status = iota // could not tell: test credentials, network, 5xx, an ambiguous 401
	StatusLive                  // Twilio accepted the credential
	StatusDead                  // Twilio rejected the credential for its own account (401 / 20003)
)

func (s Status) String() string {
	switch s {
	case StatusLive:
		return "live"
	case StatusDead:
		return "dead"
	default:
		return "unknown"
	}
}

// Verification is the result of Verify.
type Verification struct {
	Status  Status
	Account *Account // set when live (nil if an API key saw several accounts)
	Test    bool     // 403 / 20008: test credentials, which can be neither verified nor rotated
	Err     error    // why the status is unknown
}

// Verify checks whether cred works, read-only, with
// GET /2010-04-01/Accounts/{accountSID}.json:
//
//   - 200 → live;
//   - 401 / 20003 → dead, but only when cred.Username is accountSID itself
//     (an Account SID and its token). For an API key a 401 is unknown: Twilio
//     answers it both for a revoked key and for a live Standard key, which
//     may not read /Accounts. A 401 for a foreign accountSID is unknown too;
//   - 403 / 20008 → unknown with Test set;
//   - anything else, after retries → unknown with Err.
//
// accountSID may be empty: for an Account SID username the credential's own
// account is used; for an API key the account is found with
// GET /2010-04-01/Accounts.json (which only Main keys may read).
func (c *Client) Verify(ctx context.Context, accountSID string, cred Credential) Verification {
	if accountSID == "" && IsAccountSID(cred.Username) {
		accountSID = cred.Username
	}
	var (
		acct *Account
		err  error
	)
	if accountSID == "" {
		acct, err = c.ownAccount(ctx, cred)
	} else {
		acct, err = c.FetchAccount(ctx, accountSID, cred)
	}
	if err == nil {
		return Verification{Status: StatusLive, Account: acct}
	}
	switch {
	case IsTestCredentials(err):
		return Verification{Status: StatusUnknown, Test: true, Err: err}
	case IsAuth(err) && IsAccountSID(cred.Username) && cred.Username == accountSID:
		return Verification{Status: StatusDead}
	case IsAuth(err) && IsKeySID(cred.Username):
		return Verification{Status: StatusUnknown, Err: fmt.Errorf("%w (an API key gets this when revoked and also when it is a live Standard key; only Main keys may read /Accounts)", err)}
	case IsAuth(err):
		return Verification{Status: StatusUnknown, Err: fmt.Errorf("%w (the credential may belong to another account than %s)", err, accountSID)}
	}
	return Verification{Status: StatusUnknown, Err: err}
}
