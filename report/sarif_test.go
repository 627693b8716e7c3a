package report

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
)

type obj = map[string]any

func parseSARIF(t *testing.T, r Report, o Options) obj {
	t.Helper()
	out := render(t, SARIF, r, o)
	var log obj
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	return log
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(obj)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func num(v any, path ...any) int    { n, _ := get(v, path...).(float64); return int(n) }
func arr(v any, path ...any) []any  { a, _ := get(v, path...).([]any); return a }

// checkSARIF verifies what SARIF 2.1.0 and GitHub code scanning require of
// a log, and returns the results.
func checkSARIF(t *testing.T, log obj, r Report) []any {
	t.Helper()
	if !strings.Contains(str(log, "$schema"), "sarif") || str(log, "version") != "2.1.0" {
		t.Errorf("$schema %q, version %q", str(log, "$schema"), str(log, "version"))
	}
	runs := arr(log, "runs")
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	run := runs[0]
	driver := get(run, "tool", "driver")
	if str(driver, "name") != "leakstop" || !strings.HasPrefix(str(driver, "informationUri"), "https://") {
		t.Errorf("driver %v", driver)
	}
	rules := arr(driver, "rules")
	ids := map[string]bool{}
	for i, rule := range rules {
		id := str(rule, "id")
		if id == "" || ids[id] {
			t.Errorf("rules[%d]: id %q empty or repeated", i, id)
		}
		ids[id] = true
		for _, p := range [][]any{{"shortDescription", "text"}, {"fullDescription", "text"}, {"help", "text"}, {"help", "markdown"}} {
			if str(rule, p...) == "" {
				t.Errorf("rule %s: no %v", id, p)
			}
		}
		for _, h := range []string{str(rule, "help", "text"), str(rule, "help", "markdown")} {
			if !strings.Contains(h, IgnoreFileName) || !strings.Contains(strings.ToLower(h), "rotate") && !strings.Contains(h, "revokes") {
				t.Errorf("rule %s: help does not say how to rotate and allow: %q", id, h)
			}
		}
		tags := arr(rule, "properties", "tags")
		if !slices.Contains(tags, any("security")) || !slices.Contains(tags, any("secret")) {
			t.Errorf("rule %s: tags %v", id, tags)
		}
		if lv := str(rule, "defaultConfiguration", "level"); lv != "error" {
			t.Errorf("rule %s: default level %q", id, lv)
		}
	}
	results := arr(run, "results")
	if len(results) != countLocations(r.Findings) {
		t.Errorf("%d results, want one per location (%d)", len(results), countLocations(r.Findings))
	}
	for i, res := range results {
		idx := num(res, "ruleIndex")
		if idx < 0 || idx >= len(rules) || str(rules[idx], "id") != str(res, "ruleId") {
			t.Errorf("results[%d]: ruleIndex %d does not name ruleId %q", i, idx, str(res, "ruleId"))
		}
		if lv := str(res, "level"); lv != "error" && lv != "note" {
			t.Errorf("results[%d]: level %q", i, lv)
		}
		if str(res, "message", "text") == "" {
			t.Errorf("results[%d]: no message", i)
		}
		if fp := str(res, "partialFingerprints", fingerprintKey); len(fp) != FingerprintLen {
			t.Errorf("results[%d]: partial fingerprint %q", i, fp)
		}
		locs := arr(res, "locations")
		if len(locs) != 1 {
			t.Errorf("results[%d]: %d locations", i, len(locs))
		}
		for _, l := range append(locs, arr(res, "relatedLocations")...) {
			checkPhysical(t, i, get(l, "physicalLocation"))
		}
		reg := get(locs[0], "physicalLocation", "region")
		if num(reg, "startColumn") < 1 || num(reg, "endColumn") <= num(reg, "startColumn") {
			t.Errorf("results[%d]: region %v", i, reg)
		}
	}
	return results
}

func checkPhysical(t *testing.T, i int, pl any) {
	t.Helper()
	uri := str(pl, "artifactLocation", "uri")
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		t.Errorf("results[%d]: uri %q: %v", i, uri, err)
	case u.Scheme == "" && str(pl, "artifactLocation", "uriBaseId") != "%SRCROOT%":
		t.Errorf("results[%d]: relative uri %q without %%SRCROOT%%", i, uri)
	case u.Scheme != "" && u.Scheme != "file", u.RawQuery != "", u.Fragment != "", u.Host != "":
		t.Errorf("results[%d]: uri %q is not a plain path", i, uri)
	case strings.ContainsAny(uri, " \\\"<>^`{|}") || strings.IndexFunc(uri, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		t.Errorf("results[%d]: uri %q holds characters a URI may not", i, uri)
	}
	reg := get(pl, "region")
	if num(reg, "startLine") < 1 {
		t.Errorf("results[%d]: startLine %v", i, get(reg, "startLine"))
	}
	for _, k := range []string{"startColumn", "endColumn", "endLine"} {
		if v := get(reg, k); v != nil && num(reg, k) < 1 {
			t.Errorf("results[%d]: %s %v", i, k, v)
		}
	}
}

func TestSARIFStructure(t *testing.T) {
	fx := newFixture(41)
	r := sampleReport(fx)
	root := t.TempDir()
	log := parseSARIF(t, r, Options{ToolVersion: "v1.2.3", Root: root})
	results := checkSARIF(t, log, r)
	run := arr(log, "runs")[0]
	if v := str(run, "tool", "driver", "semanticVersion"); v != "1.2.3" {
		t.Errorf("semanticVersion %q", v)
	}
	if b := str(run, "originalUriBaseIds", "%SRCROOT%", "uri"); b != "file://"+filepath.ToSlash(root)+"/" {
		t.Errorf("originalUriBaseIds %q for %s", b, root)
	}
	// A single file: paths are as named, so relative to the working
	// directory. Stdin: no base.
	cwd, _ := os.Getwd()
	file := writeFile(t, "x.env", "")
	if b := str(parseSARIF(t, r, Options{Root: file}), "runs", 0, "originalUriBaseIds", "%SRCROOT%", "uri"); b != "file://"+filepath.ToSlash(cwd)+"/" {
		t.Errorf("originalUriBaseIds %q for a file", b)
	}
	if b := get(parseSARIF(t, r, Options{Root: "-"}), "runs", 0, "originalUriBaseIds"); b != nil {
		t.Errorf("originalUriBaseIds %v for stdin", b)
	}
	if n := str(run, "invocations", 0, "toolExecutionNotifications", 0, "message", "text"); n != r.Notes[0] {
		t.Errorf("notes not carried: %q", n)
	}
	// The test credentials are a note; the others errors.
	if str(results[3], "level") != "note" || str(results[0], "level") != "error" {
		t.Errorf("levels %q %q", str(results[3], "level"), str(results[0], "level"))
	}
	// Identifier's place is a related location.
	if got := num(results[0], "relatedLocations", 0, "physicalLocation", "region", "startLine"); got != 2 {
		t.Errorf("related location line %d", got)
	}
	if arr(results[3], "relatedLocations") != nil {
		t.Error("unpaired finding has a related location")
	}
	// Git locations carry their commit.
	c := r.Findings[0].Locations[1].Commit
	if str(results[1], "properties", "commit") != c.Hash || get(results[1], "properties", "historyOnly") != false ||
		get(results[2], "properties", "historyOnly") != true || get(results[0], "properties", "commit") != nil {
		t.Errorf("commit properties: %v / %v", get(results[1], "properties"), get(results[2], "properties"))
	}
	// The message names the SID and the fingerprint, and the redacted secret.
	msg := str(results[0], "message", "text")
	a := r.Findings[0]
	for _, want := range []string{a.Identifier, a.Fingerprint, a.Secret.String()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	for in, want := range map[string]string{"dev": "0.0.0-dev", "": "0.0.0-unknown", "(devel)": "0.0.0--devel-",
		"0.1.0-dev": "0.1.0-dev", "v1.2.3+dirty": "1.2.3+dirty", "1.2": "0.0.0-x1.x2", "abc 01": "0.0.0-abc-01"} {
		drv := parseSARIF(t, r, Options{ToolVersion: in})
		for _, k := range []string{"version", "semanticVersion"} {
			v := str(drv, "runs", 0, "tool", "driver", k)
			if v != want || !semverRE.MatchString(v) {
				t.Errorf("driver.%s for %q: %q, want %q (a semantic version)", k, in, v, want)
			}
		}
	}
	empty := parseSARIF(t, Report{}, Options{})
	checkSARIF(t, empty, Report{})
	if rs := arr(empty, "runs", 0, "results"); rs == nil || len(rs) != 0 {
		t.Errorf("empty report: results %v, want []", rs)
	}
}

// TestSARIFFingerprintStable: moving lines (and finding the credential in
// another commit) keeps every partial fingerprint; two files make two
// distinct alerts.
func TestSARIFFingerprintStable(t *testing.T) {
	fx := newFixture(42)
	r := sampleReport(fx)
	moved := sampleReport(newFixture(42)) // same credentials
	for i := range moved.Findings {
		for j := range moved.Findings[i].Locations {
			l := &moved.Findings[i].Locations[j]
			l.Line += 17
			l.Column += 4
			l.EndColumn += 4
			if l.IdentifierLine > 0 {
				l.IdentifierLine += 17
			}
			if l.Commit != nil {
				cp := *l.Commit
				cp.Hash = randomHex(20)
				l.Commit = &cp
			}
		}
	}
	a := arr(parseSARIF(t, r, Options{}), "runs", 0, "results")
	b := arr(parseSARIF(t, moved, Options{}), "runs", 0, "results")
	if len(a) != len(b) {
		t.Fatal("result counts differ")
	}
	seen := map[string]bool{}
	for i := range a {
		pa, pb := get(a[i], "partialFingerprints").(obj), get(b[i], "partialFingerprints").(obj)
		for k, v := range pa {
			if pb[k] != v {
				t.Errorf("results[%d]: %s changed when lines moved: %v → %v", i, k, v, pb[k])
			}
		}
		loc := pa[locationFingerprintKey].(string)
		if seen[loc] {
			t.Errorf("results[%d]: location fingerprint repeated", i)
		}
		seen[loc] = true
	}
	// The finding fingerprint is the same for both places of one credential.
	if get(a[0], "partialFingerprints", fingerprintKey) != get(a[1], "partialFingerprints", fingerprintKey) {
		t.Error("one credential, two finding fingerprints")
	}
	// Twice in one file: two alerts.
	f := fx.authToken(loc("x.env", 3), loc("x.env", 30))
	two := arr(parseSARIF(t, Report{Findings: []scanner.Finding{f}}, Options{}), "runs", 0, "results")
	if get(two[0], "partialFingerprints", locationFingerprintKey) == get(two[1], "partialFingerprints", locationFingerprintKey) {
		t.Error("two places in one file share a location fingerprint")
	}
}

func TestSARIFURIs(t *testing.T) {
	fx := newFixture(43)
	paths := append([]string{
		"a/b c/d#e?.env", "c:colon/first.env", "100%.env", "./dot/slash.env", "ünï/cödé.env",
		"/abs/path.env", "C:/win/path.env", "-", "",
	}, hostileNames...)
	var locs []scanner.Location
	for _, p := range paths {
		locs = append(locs, scanner.Location{Path: p, Line: 0, Column: 0, EndColumn: 0, IdentifierPath: p, IdentifierLine: 1})
	}
	r := Report{Findings: []scanner.Finding{fx.authToken(locs...)}}
	log := parseSARIF(t, r, Options{})
	results := checkSARIF(t, log, r)
	for i, p := range paths {
		al := get(results[i], "locations", 0, "physicalLocation", "artifactLocation")
		uri := str(al, "uri")
		u, err := url.Parse(uri)
		if err != nil {
			continue // reported by checkSARIF
		}
		want := strings.TrimPrefix(p, "./")
		switch {
		case p == "":
			want = "unknown"
		case strings.HasPrefix(p, "/"):
			if u.Scheme != "file" || str(al, "uriBaseId") != "" {
				t.Errorf("%q: uri %q, base %q", p, uri, str(al, "uriBaseId"))
			}
		case strings.HasPrefix(p, "C:"):
			want = "/" + p
		default:
			if u.Scheme != "" {
				t.Errorf("%q: relative path became scheme %q", p, u.Scheme)
			}
		}
		if u.Path != want {
			t.Errorf("%q: uri %q decodes to %q", p, uri, u.Path)
		}
		reg := get(results[i], "locations", 0, "physicalLocation", "region")
		if num(reg, "startLine") != 1 || num(reg, "startColumn") != 1 || num(reg, "endColumn") != 2 {
			t.Errorf("%q: unknown position not clamped: %v", p, reg)
		}
	}
}
