package twilio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// Key is the v2010 API Key resource (its secret is never shown again).
type Key struct {
	SID          string    `json:"sid"`
	FriendlyName string    `json:"friendly_name"`
	DateCreated  time.Time `json:"date_created"`
	DateUpdated  time.Time `json:"date_updated"`
}

// NewKey is a key as returned by CreateKey, the only time Twilio shows its
// secret. Keys created through the API are Standard keys.
type NewKey struct {
	Key
	Secret secret.Value `json:"secret"`
}

type keyWire struct {
	SID          *string `json:"sid"`
	FriendlyName *string `json:"friendly_name"`
	DateCreated  *string `json:"date_created"`
	DateUpdated  *string `json:"date_updated"`
	Secret       *string `json:"secret"`
}

func (w *keyWire) key() Key {
	return Key{
		SID:          str(w.SID),
		FriendlyName: str(w.FriendlyName),
		DateCreated:  parseDate(w.DateCreated),
		DateUpdated:  parseDate(w.DateUpdated),
	}
}

type keyPageWire struct {
	Keys        []keyWire `json:"keys"`
	NextPageURI *string   `json:"next_page_uri"`
}

const (
	keysPageSize = 100
	maxKeyPages  = 10000
)

// ListKeys returns every API key of the account, following next_page_uri
// across all pages. Only the account's own credentials or a Main key may
// list keys.
func (c *Client) ListKeys(ctx context.Context, accountSID string, cred Credential) ([]Key, error) {
	if err := checkAccountSID(accountSID); err != nil {
		return nil, err
	}
	path := keysPath(accountSID)
	query := url.Values{"PageSize": {strconv.Itoa(keysPageSize)}}
	var keys []Key
	seenKey := map[string]bool{}
	seenPage := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxKeyPages {
			return nil, fmt.Errorf("twilio: GET %s: %w: more than %d pages", path, ErrMalformedResponse, maxKeyPages)
		}
		var w keyPageWire
		if err := c.do(ctx, &request{method: http.MethodGet, base: c.api, path: path, query: query, cred: cred, out: &w}); err != nil {
			return nil, err
		}
		for i := range w.Keys {
			k := w.Keys[i].key()
			if !seenKey[k.SID] {
				seenKey[k.SID] = true
				keys = append(keys, k)
			}
		}
		next := str(w.NextPageURI)
		if next == "" {
			return keys, nil
		}
		q, err := c.nextPage(next, path)
		if err != nil {
			return nil, err
		}
		if seenPage[q.Encode()] {
			return nil, fmt.Errorf("twilio: GET %s: %w: next_page_uri repeats", path, ErrMalformedResponse)
		}
		seenPage[q.Encode()] = true
		query = q
	}
}

// nextPage checks that next_page_uri stays on the same list (and, if
// absolute, on the API host: credentials must not be sent elsewhere) and
// returns its query.
func (c *Client) nextPage(next, listPath string) (url.Values, error) {
	u, err := url.Parse(next)
	ok := err == nil
	switch {
	case ok && u.IsAbs():
		ok = u.Scheme == c.api.Scheme && u.Host == c.api.Host && u.Path == c.api.Path+listPath
	case ok:
		ok = u.Host == "" && (u.Path == listPath || u.Path == c.api.Path+listPath)
	}
	if !ok {
		return nil, fmt.Errorf("twilio: GET %s: %w: next_page_uri leaves the list", listPath, ErrMalformedResponse)
	}
	return u.Query(), nil
}

// FetchKey reads one API key.
func (c *Client) FetchKey(ctx context.Context, accountSID, keySID string, cred Credential) (*Key, error) {
	if err := checkAccountSID(accountSID); err != nil {
		return nil, err
	}
	if err := checkKeySID(keySID); err != nil {
		return nil, err
	}
	var w keyWire
	if err := c.do(ctx, &request{method: http.MethodGet, base: c.api, path: keyPath(accountSID, keySID), cred: cred, out: &w}); err != nil {
		return nil, err
	}
	w.Secret = nil
	k := w.key()
	return &k, nil
}

// CreateKey creates a Standard API key (POST …/Keys.json, 201) and returns
// it with its secret. An empty friendlyName is not sent. Give keys unique
// names: after an *UnknownOutcomeError, ListKeys is how to find out whether
// the key was made.
func (c *Client) CreateKey(ctx context.Context, accountSID, friendlyName string, cred Credential) (*NewKey, error) {
	if err := checkAccountSID(accountSID); err != nil {
		return nil, err
	}
	if err := checkFriendlyName(friendlyName); err != nil {
		return nil, err
	}
	form := url.Values{}
	if friendlyName != "" {
		form.Set("FriendlyName", friendlyName)
	}
	var w keyWire
	rq := &request{method: http.MethodPost, base: c.api, path: keysPath(accountSID), form: form, cred: cred, out: &w}
	if err := c.do(ctx, rq); err != nil {
		return nil, err
	}
	sec := str(w.Secret)
	w.Secret = nil
	if sec == "" || str(w.SID) == "" {
		return nil, c.unknown(rq, fmt.Errorf("%w: no sid or secret in the response", ErrMalformedResponse))
	}
	return &NewKey{Key: w.key(), Secret: secret.New(sec)}, nil
}

// DeleteKey deletes an API key (DELETE …/Keys/{Sid}.json, 204); it stops
// authenticating at once.
func (c *Client) DeleteKey(ctx context.Context, accountSID, keySID string, cred Credential) error {
	if err := checkAccountSID(accountSID); err != nil {
		return err
	}
	if err := checkKeySID(keySID); err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodDelete, base: c.api, path: keyPath(accountSID, keySID), cred: cred})
}
