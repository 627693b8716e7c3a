package twiliotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SpecFiles are Twilio's OpenAPI files the fake is built from.
var SpecFiles = []string{"twilio_api_v2010.accounts_keys.json", "twilio_accounts_v1.authtokens.json", "twilio_iam_v1.keys.json"}

// SpecDirEnv names a directory holding SpecFiles, in place of the copy in
// this package's testdata/openapi.
const SpecDirEnv = "LEAKSTOP_TWILIO_OPENAPI_DIR"

// ErrSpecNotFound is returned by FindSpecDir when the files are nowhere.
var ErrSpecNotFound = errors.New("twiliotest: Twilio OpenAPI files not found")

// errorStatuses are the error statuses TWILIO.md documents (the spec lists
// successes only), plus 405 for a wrong method and gateway 502 / 504.
var errorStatuses = []int{400, 401, 403, 404, 405, 429, 500, 502, 503, 504}

// FindSpecDir locates the directory holding SpecFiles: $LEAKSTOP_TWILIO_OPENAPI_DIR,
// else the copy in the repository (testdata/openapi beside this file,
// see its README.md for source and licence).
func FindSpecDir() (string, error) {
	if d := os.Getenv(SpecDirEnv); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", ErrSpecNotFound
	}
	dir := filepath.Join(filepath.Dir(file), "testdata", "openapi")
	for _, name := range SpecFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%w: %v", ErrSpecNotFound, err)
		}
	}
	return dir, nil
}

// Spec is the part of the OpenAPI documents that calls are checked against.
type Spec struct {
	ops     []*operation
	schemas map[string]map[string]any // components.schemas of every file
}

type operation struct {
	method, template string
	re               *regexp.Regexp
	pathParams       []string                  // in template order
	params           map[string]map[string]any // name → schema, path and query
	query            map[string]bool
	form             map[string]map[string]any // requestBody form properties; nil: no body
	responses        map[int]map[string]any    // status → JSON schema (nil: no content)
}

// LoadSpec reads SpecFiles from dir.
func LoadSpec(dir string) (*Spec, error) {
	sp := &Spec{schemas: map[string]map[string]any{}}
	for _, name := range SpecFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load spec: %w", err)
		}
		var doc struct {
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("load spec %s: %w", name, err)
		}
		for k, v := range doc.Components.Schemas {
			sp.schemas[k] = v
		}
		for tmpl, item := range doc.Paths {
			for method, raw := range item {
				m := strings.ToUpper(method)
				if !slices.Contains([]string{"GET", "POST", "DELETE", "PUT", "PATCH"}, m) {
					continue
				}
				op, err := newOperation(m, tmpl, raw)
				if err != nil {
					return nil, fmt.Errorf("load spec %s: %s %s: %w", name, m, tmpl, err)
				}
				sp.ops = append(sp.ops, op)
			}
		}
	}
	sort.Slice(sp.ops, func(i, j int) bool { return sp.ops[i].template+sp.ops[i].method < sp.ops[j].template+sp.ops[j].method })
	return sp, nil
}

var paramRe = regexp.MustCompile(`\{([A-Za-z]+)\}`)

func newOperation(method, tmpl string, raw json.RawMessage) (*operation, error) {
	var o struct {
		Parameters []struct {
			Name   string         `json:"name"`
			In     string         `json:"in"`
			Schema map[string]any `json:"schema"`
		} `json:"parameters"`
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]map[string]any `json:"properties"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	op := &operation{method: method, template: tmpl, params: map[string]map[string]any{}, query: map[string]bool{}, responses: map[int]map[string]any{}}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, m := range paramRe.FindAllStringSubmatchIndex(tmpl, -1) {
		re.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		re.WriteString("([^/]+)")
		op.pathParams = append(op.pathParams, tmpl[m[2]:m[3]])
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
	op.re = regexp.MustCompile(re.String())
	for _, p := range o.Parameters {
		op.params[p.Name] = p.Schema
		if p.In == "query" {
			op.query[p.Name] = true
		}
	}
	if c, ok := o.RequestBody.Content["application/x-www-form-urlencoded"]; ok {
		op.form = c.Schema.Properties
		if op.form == nil {
			op.form = map[string]map[string]any{}
		}
	}
	for code, r := range o.Responses {
		n, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("response code %q", code)
		}
		op.responses[n] = nil
		if c, ok := r.Content["application/json"]; ok {
			op.responses[n] = c.Schema
		}
	}
	return op, nil
}

// Operations lists "METHOD template" for every operation in the spec.
func (sp *Spec) Operations() []string {
	var out []string
	for _, op := range sp.ops {
		out = append(out, op.method+" "+op.template)
	}
	return out
}

// Operation returns "METHOD template" of the operation a call hits, or "".
func (sp *Spec) Operation(method, path string) string {
	if op, _ := sp.match(method, path); op != nil {
		return op.method + " " + op.template
	}
	return ""
}

func (sp *Spec) match(method, path string) (*operation, []string) {
	for _, op := range sp.ops {
		if op.method != method {
			continue
		}
		if m := op.re.FindStringSubmatch(path); m != nil {
			return op, m[1:]
		}
	}
	return nil, nil
}

// CheckCall checks one recorded call against the spec: the request must be
// an operation of the spec with acceptable path, query and form parameters
// (form-encoded); a success status must be one the operation lists and its
// body must match the response schema (every listed property present with
// its JSON type, nothing extra); an error status must be a documented one
// with a Twilio error body.
func (sp *Spec) CheckCall(c Call) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s %s: "+format, append([]any{c.Method, c.Path}, a...)...))
	}
	op, args := sp.match(c.Method, c.Path)
	if op == nil {
		fail("no operation in the spec")
		return errs
	}
	for i, name := range op.pathParams {
		for _, e := range sp.validate("path "+name, op.params[name], args[i]) {
			fail("%v", e)
		}
	}
	for name, vs := range c.Query {
		if !op.query[name] {
			fail("query parameter %q not in the spec", name)
			continue
		}
		for _, v := range vs {
			for _, e := range sp.validate("query "+name, op.params[name], queryValue(op.params[name], v, sp)) {
				fail("%v", e)
			}
		}
	}
	if c.Method == "POST" {
		if mt, _, _ := mime.ParseMediaType(c.ContentType); mt != "application/x-www-form-urlencoded" {
			fail("request content type %q, want application/x-www-form-urlencoded", c.ContentType)
		}
	}
	for name := range c.Form {
		if _, ok := op.form[name]; !ok {
			fail("form parameter %q not in the spec", name)
		}
	}
	if !c.InFlight {
		errs = append(errs, sp.checkResponse(c, op)...)
	}
	return errs
}

func (sp *Spec) checkResponse(c Call, op *operation) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s %s → %d: "+format, append([]any{c.Method, c.Path, c.Status}, a...)...))
	}
	mt, _, _ := mime.ParseMediaType(c.ResponseType)
	switch {
	case c.Status == 0:
		if !c.Fault {
			fail("no response without an injected fault")
		}
	case c.Status >= 200 && c.Status < 300:
		schema, ok := op.responses[c.Status]
		if !ok {
			fail("status not listed for %s %s", op.method, op.template)
			break
		}
		if schema == nil {
			if len(c.Response) != 0 {
				fail("body on a response without content")
			}
			break
		}
		if mt != "application/json" {
			fail("content type %q", c.ResponseType)
			break
		}
		v, err := decode(c.Response)
		if err != nil {
			fail("%v", err)
			break
		}
		for _, e := range sp.validate("body", schema, v) {
			fail("%v", e)
		}
	case slices.Contains(errorStatuses, c.Status):
		if mt != "application/json" {
			if !c.Fault {
				fail("error content type %q", c.ResponseType)
			}
			break
		}
		v, err := decode(c.Response)
		if err != nil {
			fail("%v", err)
			break
		}
		for _, e := range checkErrorBody(v, c.Status) {
			fail("%v", e)
		}
	default:
		fail("status neither listed by the spec nor a documented error")
	}
	return errs
}

func checkErrorBody(v any, status int) []error {
	m, ok := v.(map[string]any)
	if !ok {
		return []error{errors.New("error body is not an object")}
	}
	var errs []error
	code, okc := intValue(m["code"])
	st, oks := intValue(m["status"])
	msg, okm := m["message"].(string)
	info, oki := m["more_info"].(string)
	switch {
	case !okc || !oks || !okm || !oki || len(m) != 4:
		errs = append(errs, fmt.Errorf("error body must be exactly {code, message, more_info, status} with types int, string, string, int"))
	case st != int64(status):
		errs = append(errs, fmt.Errorf("error body status %d", st))
	case msg == "":
		errs = append(errs, errors.New("empty error message"))
	case info != "https://www.twilio.com/docs/errors/"+strconv.FormatInt(code, 10):
		errs = append(errs, fmt.Errorf("more_info %q does not match code %d", info, code))
	}
	return errs
}

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	return v, nil
}

// queryValue turns a query string into the JSON value its schema expects.
func queryValue(schema map[string]any, v string, sp *Spec) any {
	if sp.resolve(schema)["type"] == "integer" {
		return json.Number(v)
	}
	return v
}

func intValue(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func (sp *Spec) resolve(schema map[string]any) map[string]any {
	for i := 0; i < 8; i++ {
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema
		}
		schema = sp.schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	}
	return schema
}

// validate checks a decoded JSON value against a schema.
func (sp *Spec) validate(where string, schema map[string]any, v any) []error {
	schema = sp.resolve(schema)
	if schema == nil {
		return []error{fmt.Errorf("%s: unresolvable schema", where)}
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []error{fmt.Errorf("%s: null but not nullable", where)}
	}
	fail := func(format string, a ...any) []error {
		return []error{fmt.Errorf("%s: "+format, append([]any{where}, a...)...)}
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fail("want object, got %T", v)
		}
		props, _ := schema["properties"].(map[string]any)
		if props == nil && schema["format"] != "uri-map" {
			return nil // a free-form object (an IAM key's policy)
		}
		if props == nil { // a uri-map
			for k, x := range m {
				if _, ok := x.(string); !ok {
					return fail("%s: want string", k)
				}
			}
			return nil
		}
		var errs []error
		for name, ps := range props {
			x, ok := m[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: property %q missing", where, name))
				continue
			}
			psm, _ := ps.(map[string]any)
			errs = append(errs, sp.validate(where+"."+name, psm, x)...)
		}
		for name := range m {
			if _, ok := props[name]; !ok {
				errs = append(errs, fmt.Errorf("%s: property %q is not in the spec", where, name))
			}
		}
		return errs
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fail("want array, got %T", v)
		}
		items, _ := schema["items"].(map[string]any)
		var errs []error
		for i, x := range a {
			errs = append(errs, sp.validate(fmt.Sprintf("%s[%d]", where, i), items, x)...)
		}
		return errs
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return fail("want integer, got %T", v)
		}
		i, err := n.Int64()
		if err != nil {
			return fail("want integer, got %s", n)
		}
		if lo, ok := schema["minimum"].(float64); ok && float64(i) < lo {
			return fail("%d below minimum %v", i, lo)
		}
		if hi, ok := schema["maximum"].(float64); ok && float64(i) > hi {
			return fail("%d above maximum %v", i, hi)
		}
		return nil
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fail("want boolean, got %T", v)
		}
		return nil
	case "string":
		s, ok := v.(string)
		if !ok {
			return fail("want string, got %T", v)
		}
		return validateString(where, schema, s)
	}
	return fail("schema type %v not handled", schema["type"])
}

func validateString(where string, schema map[string]any, s string) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{where}, a...)...))
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, any(s)) {
		fail("%q not in enum %v", s, enum)
	}
	if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
		fail("does not match %s", p)
	}
	if n, ok := schema["minLength"].(float64); ok && len(s) < int(n) {
		fail("shorter than %v", n)
	}
	if n, ok := schema["maxLength"].(float64); ok && len(s) > int(n) {
		fail("longer than %v", n)
	}
	switch schema["format"] {
	case "date-time":
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			fail("%q is not ISO 8601", s)
		}
	case "date-time-rfc-2822":
		if _, err := time.Parse(time.RFC1123Z, s); err != nil {
			fail("%q is not RFC 2822", s)
		}
	case "uri":
		if _, err := url.Parse(s); err != nil || s == "" {
			fail("%q is not a URI", s)
		}
	}
	return errs
}

// CheckConformance loads the spec and reports every call that does not
// conform.
func CheckConformance(t testing.TB, calls []Call) {
	t.Helper()
	dir, err := FindSpecDir()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		for _, e := range sp.CheckCall(c) {
			t.Error(e)
		}
	}
}
