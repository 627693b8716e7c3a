package twiliotest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The IAM v1 Keys API (twilio_iam_v1.keys.json), served at
// https://iam.twilio.com/v1/Keys and /v1/Keys/{Sid}:
//   - only the account's Auth Token (or its parent's) or a Main key of the
//     account may call it; Standard and Restricted keys get 401 / 20003;
//   - POST /v1/Keys (AccountSid required; KeyType "restricted" needs a
//     Policy) creates a Standard or Restricted key, 201 with its secret;
//     there is no way to create a Main key;
//   - GET /v1/Keys/{Sid} shows policy (null for Standard and Main keys);
//     the list GET /v1/Keys?AccountSid=… shows flags, not the policy;
//   - POST /v1/Keys/{Sid} updates FriendlyName and (Restricted keys) Policy;
//     DELETE /v1/Keys/{Sid} deletes the key, 204.
//
// Parameter errors answer 400 / 20001 (an assumption, as for v2010).

const iamHost = "https://iam.twilio.com"

// parsePolicy checks a Policy parameter: a JSON object whose only member
// "allow" is a non-empty array of permission strings ("/twilio/…"). It
// returns the policy re-encoded, or a message.
func parsePolicy(v string) ([]byte, string) {
	var p map[string]any
	if err := json.Unmarshal([]byte(v), &p); err != nil || p == nil {
		return nil, "Policy must be a JSON object"
	}
	allow, ok := p["allow"].([]any)
	if !ok || len(allow) == 0 || len(p) != 1 {
		return nil, `Policy must be {"allow": [permissions]}`
	}
	for _, a := range allow {
		s, ok := a.(string)
		if !ok || !strings.HasPrefix(s, "/twilio/") {
			return nil, "Policy: unknown permission"
		}
	}
	b, _ := json.Marshal(p)
	return b, ""
}

func iamKeyBody(k *apiKey, withPolicy bool) map[string]any {
	var name any = ""
	if k.friendlyName != nil {
		name = *k.friendlyName
	}
	b := map[string]any{
		"sid":           k.sid,
		"friendly_name": name,
		"date_created":  rfc2822(k.created),
		"date_updated":  rfc2822(k.updated),
	}
	if withPolicy {
		var pol any
		if k.policy != nil {
			_ = json.Unmarshal(k.policy, &pol)
		}
		b["policy"] = pol
	} else {
		b["flags"] = []any{"rest_api", "signing"}
	}
	return b
}

// iamMayManage: the account's Auth Token, its parent's, or a Main key of it.
func (s *Server) iamMayManage(p principal, acct string) bool {
	if p.key != nil && !p.key.main {
		return false
	}
	return s.mayUseAccount(p, acct)
}

func (s *Server) iamKeys(r *http.Request, p principal, rt route) response {
	if p.key != nil && !p.key.main {
		return unauthorized("Authenticate")
	}
	if rt.kind == routeIAMKey {
		k := s.keys[rt.key]
		if k == nil || !s.iamMayManage(p, k.account) {
			return notFound(r.URL.Path)
		}
		switch r.Method {
		case http.MethodGet:
			return response{status: http.StatusOK, body: iamKeyBody(k, true)}
		case http.MethodPost:
			if v, ok := r.PostForm["FriendlyName"]; ok {
				if utf8.RuneCountInString(v[0]) > 64 {
					return badParam("FriendlyName must be at most 64 characters")
				}
				name := v[0]
				k.friendlyName = &name
			}
			if v, ok := r.PostForm["Policy"]; ok {
				if k.policy == nil {
					return badParam("Policy applies to restricted keys only")
				}
				pol, msg := parsePolicy(v[0])
				if msg != "" {
					return badParam(msg)
				}
				k.policy = pol
			}
			k.updated = s.now()
			return response{status: http.StatusOK, body: iamKeyBody(k, true)}
		default:
			delete(s.keys, k.sid)
			return response{status: http.StatusNoContent}
		}
	}
	if r.Method == http.MethodGet {
		acct := r.URL.Query().Get("AccountSid")
		if acct == "" {
			return badParam("AccountSid is required")
		}
		if !s.iamMayManage(p, acct) {
			return unauthorized("Authenticate")
		}
		return s.listIAMKeys(r, acct)
	}
	acct := r.PostForm.Get("AccountSid")
	if acct == "" {
		return badParam("AccountSid is required")
	}
	if !s.iamMayManage(p, acct) {
		return unauthorized("Authenticate")
	}
	var name *string
	if v, ok := r.PostForm["FriendlyName"]; ok {
		if utf8.RuneCountInString(v[0]) > 64 {
			return badParam("FriendlyName must be at most 64 characters")
		}
		name = &v[0]
	}
	var pol []byte
	switch kt := r.PostForm.Get("KeyType"); kt {
	case "":
		if _, ok := r.PostForm["Policy"]; ok {
			return badParam("Policy requires KeyType restricted")
		}
	case "restricted":
		v, ok := r.PostForm["Policy"]
		if !ok {
			return badParam("A restricted key requires a Policy")
		}
		var msg string
		if pol, msg = parsePolicy(v[0]); msg != "" {
			return badParam(msg)
		}
	default:
		return badParam("Invalid KeyType: " + kt)
	}
	k := s.newKeyLocked(acct, name)
	k.policy = pol
	body := iamKeyBody(k, true)
	body["secret"] = k.secret.Reveal()
	return response{status: http.StatusCreated, body: body}
}

// listIAMKeys pages the account's keys: PageSize 1..1000 (default 50),
// Page, and a meta object with absolute URLs.
func (s *Server) listIAMKeys(r *http.Request, acct string) response {
	size, page, bad := pageParams(r)
	if bad != nil {
		return *bad
	}
	var ks []*apiKey
	for _, k := range s.keys {
		if k.account == acct {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].seq < ks[j].seq })
	start := min(page*size, len(ks))
	end := min(start+size, len(ks))
	list := make([]any, 0, end-start)
	for _, k := range ks[start:end] {
		list = append(list, iamKeyBody(k, false))
	}
	u := func(p int) string {
		return iamHost + "/v1/Keys?AccountSid=" + acct + "&PageSize=" + strconv.Itoa(size) + "&Page=" + strconv.Itoa(p)
	}
	var next, prev any
	if end < len(ks) {
		next = u(page + 1)
	}
	if page > 0 {
		prev = u(page - 1)
	}
	return response{status: http.StatusOK, body: map[string]any{
		"keys": list,
		"meta": map[string]any{
			"first_page_url":    u(0),
			"key":               "keys",
			"next_page_url":     next,
			"page":              page,
			"page_size":         size,
			"previous_page_url": prev,
			"url":               u(page),
		},
	}}
}
