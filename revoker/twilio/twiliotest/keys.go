package twiliotest

import (
	"net/http"
	"sort"
	"unicode/utf8"
)

func keyBody(k *apiKey) map[string]any {
	var name any
	if k.friendlyName != nil {
		name = *k.friendlyName
	}
	return map[string]any{
		"sid":           k.sid,
		"friendly_name": name,
		"date_created":  rfc2822(k.created),
		"date_updated":  rfc2822(k.updated),
	}
}

func (s *Server) listKeys(r *http.Request, acct string) response {
	var items []listItem
	for _, k := range s.keys {
		if k.account == acct {
			items = append(items, listItem{sid: k.sid, seq: k.seq, body: keyBody(k)})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	return paginate(r, v2010+"Accounts/"+acct+"/Keys.json", "keys", items, func(sid string) (uint64, bool) {
		n, ok := s.keySeq[sid]
		return n, ok
	})
}

// createKey makes a Standard key; the response is the only one that shows
// its secret.
func (s *Server) createKey(r *http.Request, acct string) response {
	var name *string
	if v, ok := r.PostForm["FriendlyName"]; ok {
		if utf8.RuneCountInString(v[0]) > 64 {
			return badParam("FriendlyName must be at most 64 characters")
		}
		name = &v[0]
	}
	k := s.newKeyLocked(acct, name)
	body := keyBody(k)
	body["secret"] = k.secret.Reveal()
	return response{status: http.StatusCreated, xmlName: "Key", body: body}
}

func (s *Server) updateKey(r *http.Request, k *apiKey) response {
	if v, ok := r.PostForm["FriendlyName"]; ok {
		if utf8.RuneCountInString(v[0]) > 64 {
			return badParam("FriendlyName must be at most 64 characters")
		}
		name := v[0]
		k.friendlyName = &name
	}
	k.updated = s.now()
	return response{status: http.StatusOK, xmlName: "Key", body: keyBody(k)}
}
