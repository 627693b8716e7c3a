package twiliotest

import (
	"net/http"

	"github.com/leakstop/leakstop/secret"
)

const accountsHost = "https://accounts.twilio.com"

// authTokens serves /v1/AuthTokens/Secondary and /v1/AuthTokens/Promote
// for the authenticated account.
func (s *Server) authTokens(r *http.Request, a *account, kind routeKind) response {
	now := s.now()
	switch {
	case kind == routeSecondary && r.Method == http.MethodPost:
		if !a.secondary.IsZero() {
			return errorResponse(http.StatusBadRequest, 70002, "secondaryAuthToken already exists on account")
		}
		a.secondary, a.secondaryCreated = secret.New(randHex(16)), now
		return response{status: http.StatusCreated, body: map[string]any{
			"account_sid":          a.sid,
			"secondary_auth_token": a.secondary.Reveal(),
			"date_created":         iso8601(now),
			"date_updated":         iso8601(now),
			"url":                  accountsHost + "/v1/AuthTokens/Secondary",
		}}
	case kind == routeSecondary: // DELETE
		if a.secondary.IsZero() {
			return notFound(r.URL.Path)
		}
		a.secondary, a.secondaryCreated = secret.Value{}, now
		return response{status: http.StatusNoContent}
	default: // promote
		if a.secondary.IsZero() {
			return notFound(r.URL.Path)
		}
		a.primary, a.primaryCreated = a.secondary, a.secondaryCreated
		a.secondary = secret.Value{}
		a.updated = now
		return response{status: http.StatusOK, body: map[string]any{
			"account_sid":  a.sid,
			"auth_token":   a.primary.Reveal(),
			"date_created": iso8601(a.primaryCreated),
			"date_updated": iso8601(now),
			"url":          accountsHost + "/v1/AuthTokens/Promote",
		}}
	}
}
