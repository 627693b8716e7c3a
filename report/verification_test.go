package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestVerificationInEveryFormat: a finding checked against Twilio (scan
// --verify) says so in every format, JSON round-trips it and still
// matches the schema; an unchecked one has empty fields.
func TestVerificationInEveryFormat(t *testing.T) {
	fx := newFixture(61)
	r := sampleReport(fx)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Findings[0].Verification, r.Findings[0].VerifiedAt = "live", at
	r.Findings[1].Verification, r.Findings[1].VerifiedAt = "dead", at
	const stamp = "2025-01-02T03:04:05Z"

	out := render(t, JSON, r, Options{})
	schema := loadSchema(t)
	if errs := validate(schema, schema, decodeNumbers(t, out), "$"); len(errs) > 0 {
		t.Fatalf("report does not match the schema:\n%s", strings.Join(errs, "\n"))
	}
	var raw struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Findings[0]["verification"] != "live" || raw.Findings[0]["verified_at"] != stamp ||
		raw.Findings[2]["verification"] != "" || raw.Findings[2]["verified_at"] != "" {
		t.Errorf("JSON verification fields: %v / %v", raw.Findings[0], raw.Findings[2])
	}
	doc, err := ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	back := doc.ScannerFindings()
	if back[0].Verification != "live" || !back[0].VerifiedAt.Equal(at) || back[2].Verification != "" || !back[2].VerifiedAt.IsZero() {
		t.Errorf("round trip: %q %v / %q %v", back[0].Verification, back[0].VerifiedAt, back[2].Verification, back[2].VerifiedAt)
	}
	bad := strings.Replace(out, stamp, "yesterday", 1)
	if _, err := ReadJSON(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "verified_at") {
		t.Errorf("a malformed verified_at: %v", err)
	}

	text := render(t, Text, r, Options{})
	if !strings.Contains(text, "verified     live: it works, rotate it now (checked "+stamp+")") ||
		!strings.Contains(text, "dead: Twilio rejects it") {
		t.Errorf("text lacks the verification:\n%s", text)
	}

	rows := readCSV(t, render(t, CSV, r, Options{}))
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if rows[1][col["verification"]] != "live" || rows[1][col["verified_at"]] != stamp || rows[4][col["verification"]] != "" {
		t.Errorf("CSV rows: %v / %v", rows[1], rows[4])
	}

	var sarif struct {
		Runs []struct {
			Results []struct {
				Message    struct{ Text string } `json:"message"`
				Properties map[string]any        `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(render(t, SARIF, r, Options{})), &sarif); err != nil {
		t.Fatal(err)
	}
	res := sarif.Runs[0].Results
	if res[0].Properties["verification"] != "live" || res[0].Properties["verifiedAt"] != stamp ||
		!strings.Contains(res[0].Message.Text, "Twilio verification: live") {
		t.Errorf("SARIF result: %+v", res[0])
	}
	if _, ok := res[len(res)-1].Properties["verification"]; ok {
		t.Error("SARIF: an unchecked finding has a verification property")
	}
}
