package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
)

const (
	schemaFile    = "../docs/report.schema.json"
	schemaDocFile = "../docs/report-schema.md"
)

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return s
}

func decodeNumbers(t *testing.T, data string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, data)
	}
	return v
}

// TestJSONMatchesSchema validates reports against docs/report.schema.json.
func TestJSONMatchesSchema(t *testing.T) {
	schema := loadSchema(t)
	fx := newFixture(31)
	reports := map[string]Report{
		"sample":  sampleReport(fx),
		"empty":   {},
		"hostile": {Findings: []scanner.Finding{fx.authToken(loc("bad\xffname\n\x1b[31m.env", 2))}, Notes: nil},
	}
	for name, r := range reports {
		for _, noRedact := range []bool{false, true} {
			out := render(t, JSON, r, Options{NoRedact: noRedact, ToolVersion: "1.2.3", Root: "/src"})
			v := decodeNumbers(t, out)
			if errs := validate(schema, schema, v, "$"); len(errs) > 0 {
				t.Errorf("%s (NoRedact %v): report does not match %s:\n%s\n%s", name, noRedact, schemaFile, strings.Join(errs, "\n"), out)
			}
		}
	}
	// The validator itself catches mistakes.
	bad := decodeNumbers(t, `{"schema":"x","version":2,"extra":1,"findings":[{"fingerprint":"zz"}]}`)
	if errs := validate(schema, schema, bad, "$"); len(errs) < 4 {
		t.Errorf("validator missed errors: %v", errs)
	}
}

// TestSchemaDocumented: every field of the JSON Schema is documented in
// report-schema.md, and every field written is in the schema.
func TestSchemaDocumented(t *testing.T) {
	schema := loadSchema(t)
	doc, err := os.ReadFile(schemaDocFile)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k := range props {
					names = append(names, k)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(schema)
	for _, n := range names {
		if !bytes.Contains(doc, []byte("`"+n+"`")) {
			t.Errorf("%s does not document field %q", schemaDocFile, n)
		}
	}
	if !bytes.Contains(doc, []byte(SchemaURI)) {
		t.Errorf("%s does not name the schema URI", schemaDocFile)
	}
	if schema["$id"] != SchemaURI {
		t.Errorf("schema $id %v, want %s", schema["$id"], SchemaURI)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	fx := newFixture(32)
	r := sampleReport(fx)
	for _, noRedact := range []bool{false, true} {
		out := render(t, JSON, r, Options{NoRedact: noRedact, ToolVersion: "v1.0.0", Root: "."})
		doc, err := ReadJSON(strings.NewReader(out))
		if err != nil {
			t.Fatalf("ReadJSON: %v\n%s", err, out)
		}
		if doc.Tool.Version != "v1.0.0" || doc.Target != "." || doc.Summary.Credentials != 3 || doc.Summary.Locations != 4 ||
			doc.Stats.Files != r.Stats.Files || doc.Stats.Commits != r.Stats.Commits || !slices.Equal(doc.Notes, r.Notes) {
			t.Errorf("envelope lost: %+v", doc)
		}
		got := doc.ScannerFindings()
		if len(got) != len(r.Findings) {
			t.Fatalf("%d findings back, want %d", len(got), len(r.Findings))
		}
		for i, f := range got {
			want := r.Findings[i]
			if noRedact {
				if !f.Secret.Equal(want.Secret) {
					t.Errorf("finding %d: secret not read back from an unredacted report", i)
				}
			} else if !f.Secret.IsZero() {
				t.Errorf("finding %d: a redacted report yielded a secret", i)
			}
			if doc.Findings[i].SecretRedacted == noRedact {
				t.Errorf("finding %d: secret_redacted = %v", i, doc.Findings[i].SecretRedacted)
			}
			if doc.Findings[i].Redacted != want.Secret.String() {
				t.Errorf("finding %d: redacted form %q", i, doc.Findings[i].Redacted)
			}
			f.Secret = want.Secret // compared above
			normalizeTips(&f)
			normalizeTips(&want)
			if !reflect.DeepEqual(f, want) {
				t.Errorf("finding %d round trip:\n got %+v\nwant %+v", i, f, want)
			}
		}
		// Writing what was read gives the same report.
		var again bytes.Buffer
		enc := json.NewEncoder(&again)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			t.Fatal(err)
		}
		if again.String() != out {
			t.Errorf("re-encoded report differs:\n%s\n---\n%s", again.String(), out)
		}
	}
}

func normalizeTips(f *scanner.Finding) {
	for i := range f.Locations {
		if c := f.Locations[i].Commit; c != nil && len(c.AtTips) == 0 {
			c.AtTips = nil
		}
	}
}

// TestDocumentNeverPrintsSecret: a Document read from an unredacted report
// holds the secret, but printing it shows only the redacted form.
func TestDocumentNeverPrintsSecret(t *testing.T) {
	r := sampleReport(newFixture(33))
	doc, err := ReadJSON(strings.NewReader(render(t, JSON, r, Options{NoRedact: true})))
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%v %+v %#v", doc, *doc, doc.Findings)
	for _, s := range secretsOf(r) {
		if strings.Contains(printed, s) {
			t.Fatal("printing a Document revealed a secret")
		}
	}
}

func TestReadJSONErrors(t *testing.T) {
	fx := newFixture(34)
	good := render(t, JSON, sampleReport(fx), Options{})
	fp := scanner.Fingerprint("r", "i", randomHex(16))
	sarif := render(t, SARIF, sampleReport(fx), Options{})
	for _, c := range []struct {
		name, in, want string
		notReport      bool
	}{
		{"empty", "", "not valid JSON", true},
		{"text", "hello", "not valid JSON", true},
		{"truncated", good[:len(good)/2], "not valid JSON", true},
		{"two values", good + good, "not valid JSON", true},
		{"array", "[1,2]", "not a leakstop JSON report", true},
		{"other JSON", `{"findings": []}`, "not a leakstop JSON report", true},
		{"schema not a string", `{"schema": 5}`, "not a leakstop JSON report", true},
		{"sarif", sarif, "not a leakstop JSON report", true},
		{"future schema", `{"schema": "https://leakstop.dev/schema/report/v2", "version": 2}`, "unsupported report schema", false},
		{"wrong version", `{"schema": "` + SchemaURI + `", "version": 7}`, "unsupported report version 7", false},
		{"bad fingerprint", `{"schema": "` + SchemaURI + `", "version": 1, "findings": [{"fingerprint": "xyz", "confidence": "high"}]}`, "findings[0]: fingerprint", false},
		{"bad confidence", `{"schema": "` + SchemaURI + `", "version": 1, "findings": [{"fingerprint": "` + fp + `", "confidence": "sure"}]}`, `confidence "sure"`, false},
		{"negative line", `{"schema": "` + SchemaURI + `", "version": 1, "findings": [{"fingerprint": "` + fp + `", "confidence": "low", "locations": [{"line": -1}]}]}`, "negative", false},
		{"wrong type", `{"schema": "` + SchemaURI + `", "version": 1, "findings": {}}`, "cannot unmarshal", false},
	} {
		_, err := ReadJSON(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
			continue
		}
		if errors.Is(err, ErrNotReport) != c.notReport {
			t.Errorf("%s: errors.Is(ErrNotReport) = %v", c.name, !c.notReport)
		}
	}
	// Unknown fields are ignored (additive changes within v1); a missing
	// secret_redacted is taken as redacted; a BOM is skipped.
	in := "\xef\xbb\xbf" + `{"schema": "` + SchemaURI + `", "version": 1, "future": {"x": 1},
		"findings": [{"fingerprint": "` + strings.ToUpper(fp) + `", "confidence": "medium", "secret": "abcd…", "new_field": true}]}`
	doc, err := ReadJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	fs := doc.ScannerFindings()
	if len(fs) != 1 || !fs[0].Secret.IsZero() || fs[0].Fingerprint != fp || fs[0].Confidence != scanner.Medium {
		t.Errorf("lenient read: %+v", fs)
	}
}

// validate checks v against a JSON Schema subset: type, const, enum,
// required, properties, additionalProperties (false), items, minItems,
// minimum, pattern, oneOf and local $ref.
func validate(root, s map[string]any, v any, at string) []string {
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, a...)) }
	if ref, ok := s["$ref"].(string); ok {
		node := any(root)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			node = node.(map[string]any)[part]
		}
		return validate(root, node.(map[string]any), v, at)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(validate(root, a.(map[string]any), v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf, want 1", n)
		}
	}
	if typ, ok := s["type"]; ok {
		types := []any{typ}
		if list, ok := typ.([]any); ok {
			types = list
		}
		if !slices.ContainsFunc(types, func(t any) bool { return jsonType(v, t.(string)) }) {
			fail("type %T, want %v", v, typ)
			return errs
		}
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		fail("%v, want const %v", v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		fail("%v not in %v", v, e)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); !ok || !regexp.MustCompile(p).MatchString(str) {
			fail("%v does not match %s", v, p)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, ok := v.(json.Number); ok {
			if f, _ := n.Float64(); f < m {
				fail("%v below minimum %v", v, m)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing required %q", r)
			}
		}
		for k, child := range obj {
			if ps, ok := props[k]; ok {
				errs = append(errs, validate(root, ps.(map[string]any), child, at+"."+k)...)
			} else if s["additionalProperties"] == false {
				fail("undocumented field %q", k)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if m, ok := s["minItems"].(float64); ok && float64(len(arr)) < m {
			fail("%d items, want at least %v", len(arr), m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, child := range arr {
				errs = append(errs, validate(root, items, child, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func asList(v any) []any { l, _ := v.([]any); return l }

func jsonType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}

func TestJSONReadable(t *testing.T) {
	fx := newFixture(35)
	out := render(t, JSON, Report{Findings: []scanner.Finding{fx.authToken(loc("<stdin>&", 1))}, Target: "-"}, Options{})
	if !strings.Contains(out, `"path": "<stdin>&"`) {
		t.Errorf("HTML-escaped or unindented output:\n%s", out)
	}
	if !strings.HasPrefix(out, "{\n  \"schema\": \""+SchemaURI+"\",\n  \"version\": 1,") {
		t.Errorf("schema and version do not lead the document:\n%s", out)
	}
}
