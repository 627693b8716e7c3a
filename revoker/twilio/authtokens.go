package twilio

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// SecondaryAuthToken is the v1 secondary Auth Token resource. Token is the
// new secret; Twilio shows it only in the create response.
type SecondaryAuthToken struct {
	AccountSID  string       `json:"account_sid"`
	Token       secret.Value `json:"secondary_auth_token"`
	DateCreated time.Time    `json:"date_created"`
	DateUpdated time.Time    `json:"date_updated"`
	URL         string       `json:"url"`
}

// AuthTokenPromotion is the v1 Auth Token promotion resource. Token is the
// account's primary Auth Token after promotion (the former secondary).
type AuthTokenPromotion struct {
	AccountSID  string       `json:"account_sid"`
	Token       secret.Value `json:"auth_token"`
	DateCreated time.Time    `json:"date_created"`
	DateUpdated time.Time    `json:"date_updated"`
	URL         string       `json:"url"`
}

type authTokenWire struct {
	AccountSID  *string `json:"account_sid"`
	Secondary   *string `json:"secondary_auth_token"`
	AuthToken   *string `json:"auth_token"`
	DateCreated *string `json:"date_created"`
	DateUpdated *string `json:"date_updated"`
	URL         *string `json:"url"`
}

// CreateSecondaryAuthToken creates the account's secondary Auth Token
// (POST {accounts}/v1/AuthTokens/Secondary, 201). cred is the account's SID
// and a live token, or a Main API key. IsSecondaryExists(err) when one
// already exists. A response that lacks the token is an
// *UnknownOutcomeError: the secondary probably exists but is unknown.
func (c *Client) CreateSecondaryAuthToken(ctx context.Context, cred Credential) (*SecondaryAuthToken, error) {
	var w authTokenWire
	rq := &request{method: http.MethodPost, base: c.accounts, path: secondaryPath, cred: cred, out: &w}
	if err := c.do(ctx, rq); err != nil {
		return nil, err
	}
	tok := str(w.Secondary)
	w.Secondary = nil
	if tok == "" {
		return nil, c.unknown(rq, fmt.Errorf("%w: no secondary_auth_token in the response", ErrMalformedResponse))
	}
	return &SecondaryAuthToken{
		AccountSID:  str(w.AccountSID),
		Token:       secret.New(tok),
		DateCreated: parseDate(w.DateCreated),
		DateUpdated: parseDate(w.DateUpdated),
		URL:         str(w.URL),
	}, nil
}

// DeleteSecondaryAuthToken deletes the account's secondary Auth Token
// (DELETE {accounts}/v1/AuthTokens/Secondary, 204). With no secondary Twilio
// answers 404 / 20404, returned as an *Error (IsNotFound).
func (c *Client) DeleteSecondaryAuthToken(ctx context.Context, cred Credential) error {
	return c.do(ctx, &request{method: http.MethodDelete, base: c.accounts, path: secondaryPath, cred: cred})
}

// PromoteSecondaryAuthToken makes the secondary Auth Token the primary
// (POST {accounts}/v1/AuthTokens/Promote, 200); the old primary stops
// working at once. With no secondary Twilio answers 404 / 20404.
func (c *Client) PromoteSecondaryAuthToken(ctx context.Context, cred Credential) (*AuthTokenPromotion, error) {
	var w authTokenWire
	rq := &request{method: http.MethodPost, base: c.accounts, path: promotePath, cred: cred, out: &w}
	if err := c.do(ctx, rq); err != nil {
		return nil, err
	}
	p := &AuthTokenPromotion{
		AccountSID:  str(w.AccountSID),
		Token:       secret.New(str(w.AuthToken)),
		DateCreated: parseDate(w.DateCreated),
		DateUpdated: parseDate(w.DateUpdated),
		URL:         str(w.URL),
	}
	w.AuthToken = nil
	return p, nil
}
