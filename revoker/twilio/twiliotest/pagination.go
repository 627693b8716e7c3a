package twiliotest

import (
	"net/http"
	"strconv"
	"strings"
)

// listItem is one resource of a list, in list order.
type listItem struct {
	sid  string
	seq  uint64
	body map[string]any
}

// paginate cuts one page out of items (sorted by seq) the way v2010 lists
// do: PageSize (1..1000, default 50), Page (for client state; an offset
// when there is no token) and PageToken (PA<sid>: after that item, PB<sid>:
// before it). seqOf places a token's SID even if that item is gone.
func paginate(r *http.Request, path, field string, items []listItem, seqOf func(string) (uint64, bool)) response {
	q := r.URL.Query()
	size, page, bad := pageParams(r)
	if bad != nil {
		return *bad
	}
	token := q.Get("PageToken")
	var sel []listItem
	switch {
	case token == "":
		start := min(page*size, len(items))
		sel = items[start:min(start+size, len(items))]
	case strings.HasPrefix(token, "PA") || strings.HasPrefix(token, "PB"):
		at, ok := seqOf(token[2:])
		if !ok {
			return badParam("Invalid PageToken")
		}
		if token[1] == 'A' {
			i := 0
			for i < len(items) && items[i].seq <= at {
				i++
			}
			sel = items[i:min(i+size, len(items))]
		} else {
			j := len(items)
			for j > 0 && items[j-1].seq >= at {
				j--
			}
			sel = items[max(0, j-size):j]
		}
	default:
		return badParam("Invalid PageToken")
	}

	uri := func(p int, tok string) string {
		u := path + "?PageSize=" + strconv.Itoa(size) + "&Page=" + strconv.Itoa(p)
		if tok != "" {
			u += "&PageToken=" + tok
		}
		return u
	}
	list := make([]any, len(sel))
	for i, it := range sel {
		list[i] = it.body
	}
	start := page * size
	end := start
	if len(sel) > 0 {
		end = start + len(sel) - 1
	}
	var next, prev any
	if len(sel) > 0 && sel[len(sel)-1].seq < items[len(items)-1].seq {
		next = uri(page+1, "PA"+sel[len(sel)-1].sid)
	}
	if page > 0 && len(sel) > 0 && sel[0].seq > items[0].seq {
		prev = uri(page-1, "PB"+sel[0].sid)
	}
	return response{status: http.StatusOK, list: field, body: map[string]any{
		field:               list,
		"page":              page,
		"page_size":         size,
		"start":             start,
		"end":               end,
		"uri":               uri(page, token),
		"first_page_uri":    uri(0, ""),
		"next_page_uri":     next,
		"previous_page_uri": prev,
	}}
}

// pageParams reads PageSize (1..1000, default 50) and Page (from 0), as
// every Twilio list takes them; bad is the 400 answer to a wrong one.
func pageParams(r *http.Request) (size, page int, bad *response) {
	q := r.URL.Query()
	size = 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			b := badParam("Invalid PageSize: must be an integer from 1 to 1000")
			return 0, 0, &b
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b := badParam("Invalid Page: must be a non-negative integer")
			return 0, 0, &b
		}
		page = n
	}
	return size, page, nil
}
