package report

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
)

// No credential-shaped literal appears in these tests: every SID, token and
// fingerprint is generated when the test runs.

type fixture struct{ g *rules.Generator }

func newFixture(seed uint64) *fixture {
	return &fixture{g: rules.NewGenerator(seed)}
}

func (fx *fixture) expand(tmpl string) string {
	v, err := fx.g.Expand(tmpl)
	if err != nil {
		panic(err)
	}
	return v
}

// authToken is a paired Account SID + Auth Token finding.
func (fx *fixture) authToken(locs ...scanner.Location) scanner.Finding {
	sid, tok := fx.expand("{{sid}}"), fx.expand("{{token}}")
	return scanner.Finding{
		RuleID: "twilio-auth-token", Description: "Twilio Account SID and Auth Token",
		Credential: "auth-token", Identifier: sid, Secret: secret.New(tok),
		Fingerprint: scanner.Fingerprint("twilio-auth-token", sid, tok),
		Confidence:  scanner.High, Locations: locs,
	}
}

// apiKey is a paired API Key SID + secret finding with an account.
func (fx *fixture) apiKey(locs ...scanner.Location) scanner.Finding {
	sid, sec, acct := fx.expand("{{keysid}}"), fx.expand("{{keysecret}}"), fx.expand("{{sid}}")
	return scanner.Finding{
		RuleID: "twilio-api-key", Description: "Twilio API Key SID and secret",
		Credential: "api-key", Identifier: sid, Account: acct, Secret: secret.New(sec),
		Fingerprint: scanner.Fingerprint("twilio-api-key", sid, sec),
		Confidence:  scanner.Medium, Locations: locs,
	}
}

// unpaired is a named Auth Token with no SID.
func (fx *fixture) unpaired(locs ...scanner.Location) scanner.Finding {
	tok := fx.expand("{{token}}")
	return scanner.Finding{
		RuleID: "twilio-auth-token-named", Description: "Auth Token under a Twilio-specific name",
		Credential: "auth-token", Secret: secret.New(tok),
		Fingerprint: scanner.Fingerprint("twilio-auth-token-named", "", tok),
		Confidence:  scanner.Low, Locations: locs,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func gitCommit(tips ...string) *scanner.Commit {
	return &scanner.Commit{
		Hash: randomHex(20), Author: "Jane Doe", Email: "jane@example.com",
		Date: "2024-03-05T10:11:12Z", Summary: "add config", AtTips: tips,
	}
}

func loc(path string, line int) scanner.Location {
	return scanner.Location{Path: path, Line: line, Column: 19, EndColumn: 51, IdentifierPath: path, IdentifierLine: max(line-1, 1)}
}

// sampleReport has an auth token in two places (one in git history, still
// at a tip), an API key in history only, and an unpaired test token.
func sampleReport(fx *fixture) Report {
	a := fx.authToken(loc("config/.env", 3), loc("deploy/app.yaml", 12))
	a.Locations[1].Commit = gitCommit("main")
	a.Locations[1].Blob = randomHex(20)
	k := fx.apiKey(loc("src/app.js", 40))
	k.Locations[0].Commit = gitCommit()
	k.Locations[0].Encoding = "base64"
	u := fx.unpaired(scanner.Location{Path: "test/fixture.env", Line: 1, Column: 19, EndColumn: 51})
	u.Test = true
	return Report{
		Findings: []scanner.Finding{a, k, u},
		Stats:    scanner.Stats{Files: 1234, Bytes: 5_600_000, SkippedBinary: 2, Commits: 7},
		Notes:    []string{"history is shallow: 7 commits"},
		Target:   ".",
	}
}

func render(t testing.TB, f Format, r Report, o Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f, r, o); err != nil {
		t.Fatalf("Write %s: %v", f, err)
	}
	return b.String()
}

// secretsOf lists the full secrets of a report's findings.
func secretsOf(r Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Secret.Reveal())
	}
	return out
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
