package twiliotest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// response is an answer before it is rendered as JSON or XML.
type response struct {
	status  int
	body    map[string]any // nil: no body (204)
	list    string         // for a list page: the items field, "keys" or "accounts"
	xmlName string         // XML element of a single resource: Account, Key, RestException
	raw     []byte         // a non-Twilio body (a gateway's HTML page)
	header  http.Header
}

func moreInfo(code int) string { return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code) }

func errorResponse(status, code int, msg string) response {
	return response{status: status, xmlName: "RestException", body: map[string]any{
		"code":      code,
		"message":   msg,
		"more_info": moreInfo(code),
		"status":    status,
	}}
}

func unauthorized(msg string) response {
	r := errorResponse(http.StatusUnauthorized, 20003, msg)
	r.header = http.Header{"Www-Authenticate": {`Basic realm="Twilio API"`}}
	return r
}

func notFound(path string) response {
	return errorResponse(http.StatusNotFound, 20404, "The requested resource "+path+" was not found")
}

func badParam(msg string) response {
	return errorResponse(http.StatusBadRequest, 20001, msg)
}

// rfc2822 is the v2010 date format; iso8601 the v1 one.
func rfc2822(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700") }
func iso8601(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sensitive are the properties the spec marks x-twilio pii "sensitive",
// plus the key secret.
var sensitive = map[string]bool{"auth_token": true, "secondary_auth_token": true, "secret": true}

// redacted returns a copy whose secret values are "[REDACTED]" (same JSON
// type), for the call log.
func (r response) redacted() response {
	r.body, _ = redactValue(r.body).(map[string]any)
	return r
}

func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			if _, ok := x.(string); ok && sensitive[k] {
				out[k] = "[REDACTED]"
				continue
			}
			out[k] = redactValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactValue(x)
		}
		return out
	}
	return v
}

// render returns the content type and body in format "json" or "xml".
func (r response) render(format string) (string, []byte) {
	if r.raw != nil {
		return "text/html; charset=utf-8", r.raw
	}
	if r.body == nil {
		return "", nil
	}
	if format == "xml" {
		return "application/xml", r.xml()
	}
	b, err := json.Marshal(r.body)
	if err != nil {
		panic(fmt.Sprintf("twiliotest: marshal response: %v", err))
	}
	return "application/json; charset=utf-8", b
}

// xml renders the body the way the v2010 API does without .json: a
// TwilioResponse element, CamelCase names, list meta as attributes.
func (r response) xml() []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<TwilioResponse>")
	if r.list != "" {
		name := camel(r.list)
		b.WriteString("<" + name)
		for _, k := range sortedKeys(r.body) {
			if k == r.list {
				continue
			}
			v := r.body[k]
			if v == nil {
				v = ""
			}
			fmt.Fprintf(&b, ` %s="`, strings.ReplaceAll(k, "_", ""))
			_ = xml.EscapeText(&b, []byte(fmt.Sprint(v)))
			b.WriteString(`"`)
		}
		b.WriteString(">")
		items, _ := r.body[r.list].([]any)
		for _, it := range items {
			writeXML(&b, strings.TrimSuffix(name, "s"), it)
		}
		b.WriteString("</" + name + ">")
	} else {
		writeXML(&b, r.xmlName, r.body)
	}
	b.WriteString("</TwilioResponse>")
	return b.Bytes()
}

func writeXML(b *bytes.Buffer, name string, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("<" + name + "/>")
	case map[string]any:
		b.WriteString("<" + name + ">")
		for _, k := range sortedKeys(v) {
			writeXML(b, camel(k), v[k])
		}
		b.WriteString("</" + name + ">")
	default:
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(b, []byte(fmt.Sprint(v)))
		b.WriteString("</" + name + ">")
	}
}

// camel turns snake_case into CamelCase: friendly_name → FriendlyName.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
