package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
)

// A custom rule's finding is labelled by its rule, never "Twilio
// credential", in the text and SARIF reports.
func TestCustomRuleLabel(t *testing.T) {
	fx := newFixture(7)
	tok := fx.expand("{{token}}")
	f := scanner.Finding{RuleID: "acme-token", Description: "ACME token", Credential: "secret",
		Secret: secret.New(tok), Fingerprint: scanner.Fingerprint("acme-token", "", tok), Confidence: scanner.Medium,
		Locations: []scanner.Location{{Path: "a.txt", Line: 1}}}
	r := Report{Findings: []scanner.Finding{f, fx.authToken(scanner.Location{Path: "b.txt", Line: 2})}}
	for _, format := range []Format{Text, SARIF} {
		var b bytes.Buffer
		if err := Write(&b, format, r, Options{ToolVersion: "1.0.0"}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, "secret (rule acme-token)") {
			t.Errorf("%v report lacks the rule's label:\n%s", format, out)
		}
		if strings.Count(out, "Twilio credential") != 0 {
			t.Errorf("%v report calls something a Twilio credential:\n%s", format, out)
		}
		if !strings.Contains(out, "Twilio Auth Token") {
			t.Errorf("%v report lost the Twilio label of the Twilio finding", format)
		}
	}
}
