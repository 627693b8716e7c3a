package twiliotest

import (
	"net/http"
	"sort"
	"unicode/utf8"
)

// subresources are the subresource_uris Twilio lists for an account.
var subresources = []struct{ name, path string }{
	{"addresses", "Addresses"}, {"conferences", "Conferences"}, {"signing_keys", "SigningKeys"},
	{"transcriptions", "Transcriptions"}, {"connect_apps", "ConnectApps"}, {"sip", "SIP"},
	{"authorized_connect_apps", "AuthorizedConnectApps"}, {"usage", "Usage"}, {"keys", "Keys"},
	{"applications", "Applications"}, {"recordings", "Recordings"}, {"short_codes", "SMS/ShortCodes"},
	{"calls", "Calls"}, {"notifications", "Notifications"}, {"incoming_phone_numbers", "IncomingPhoneNumbers"},
	{"queues", "Queues"}, {"messages", "Messages"}, {"outgoing_caller_ids", "OutgoingCallerIds"},
	{"available_phone_numbers", "AvailablePhoneNumbers"}, {"balance", "Balance"},
}

func (s *Server) accountBody(a *account) map[string]any {
	uris := make(map[string]any, len(subresources))
	for _, r := range subresources {
		uris[r.name] = v2010 + "Accounts/" + a.sid + "/" + r.path + ".json"
	}
	return map[string]any{
		"auth_token":        a.primary.Reveal(),
		"date_created":      rfc2822(a.created),
		"date_updated":      rfc2822(a.updated),
		"friendly_name":     a.friendlyName,
		"owner_account_sid": a.owner,
		"sid":               a.sid,
		"status":            a.status,
		"subresource_uris":  uris,
		"type":              a.typ,
		"uri":               v2010 + "Accounts/" + a.sid + ".json",
	}
}

// listAccounts: the caller's account and its subaccounts (for its Auth
// Token or a Main key), newest first; filters FriendlyName and Status.
// The order is an assumption (the spec does not state one; other v2010
// lists are newest first): a client must read every page to find the
// top-level account.
func (s *Server) listAccounts(r *http.Request, p principal) response {
	q := r.URL.Query()
	status := q.Get("Status")
	if status != "" && !validStatus(status) {
		return badParam("Invalid Status")
	}
	var items []listItem
	for _, a := range s.accounts {
		// A Main key may do what the Auth Token may (TWILIO.md).
		mine := a == p.acct || (a.isSub() && a.owner == p.acct.sid)
		if !mine || a.test {
			continue
		}
		if v := q.Get("FriendlyName"); v != "" && v != a.friendlyName {
			continue
		}
		if status != "" && status != a.status {
			continue
		}
		items = append(items, listItem{sid: a.sid, seq: newestFirst(s.acctSeq[a.sid]), body: s.accountBody(a)})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	return paginate(r, v2010+"Accounts.json", "accounts", items, func(sid string) (uint64, bool) {
		n, ok := s.acctSeq[sid]
		return newestFirst(n), ok
	})
}

// createAccount makes a subaccount of the caller. Subaccounts cannot make
// their own (answered 401 / 20003, like other account-management refusals).
func (s *Server) createAccount(r *http.Request, p principal) response {
	if p.acct.isSub() {
		return unauthorized("Authenticate")
	}
	name := r.PostForm.Get("FriendlyName")
	if utf8.RuneCountInString(name) > 64 {
		return badParam("FriendlyName must be at most 64 characters")
	}
	if name == "" {
		name = "SubAccount Created at " + s.now().Format("2006-01-02 03:04 pm")
	}
	a := s.newAccountLocked(name, p.acct.sid)
	return response{status: http.StatusCreated, xmlName: "Account", body: s.accountBody(a)}
}

// updateAccount changes FriendlyName, and Status of a subaccount (by its
// parent). A closed account cannot be reopened.
func (s *Server) updateAccount(r *http.Request, p principal, a *account) response {
	name, hasName := r.PostForm["FriendlyName"]
	status := r.PostForm.Get("Status")
	if hasName && utf8.RuneCountInString(name[0]) > 64 {
		return badParam("FriendlyName must be at most 64 characters")
	}
	if status != "" && status != a.status {
		switch {
		case !validStatus(status):
			return badParam("Invalid Status")
		case a == p.acct || !a.isSub():
			return badParam("Status can only be changed on a subaccount")
		case a.status == "closed":
			return badParam("A closed account cannot be reopened")
		}
		a.status = status
	}
	if hasName {
		a.friendlyName = name[0]
	}
	a.updated = s.now()
	return response{status: http.StatusOK, xmlName: "Account", body: s.accountBody(a)}
}

func validStatus(s string) bool { return s == "active" || s == "suspended" || s == "closed" }

// newestFirst turns a creation sequence number into a list position key
// that sorts the newest first.
func newestFirst(seq uint64) uint64 { return ^seq }
