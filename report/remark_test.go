package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
)

// TestRemarks: a front end's remark is carried by JSON (remark; a notice
// is level note) and SARIF (message, properties.remark, level note), the
// JSON report with it still matches the schema, and a finding without a
// remark is written as before.
func TestRemarks(t *testing.T) {
	fx := newFixture(47)
	a, b := fx.authToken(loc("a.env", 2)), fx.apiKey(loc("b.env", 5))
	r := Report{Findings: []scanner.Finding{a, b}}
	o := Options{Remarks: map[string]Remark{
		a.Fingerprint: {Text: "already on the base branch (base commit 0123456789ab): the pull request does not add it", Notice: true},
	}}

	out := render(t, JSON, r, o)
	schema := loadSchema(t)
	if errs := validate(schema, schema, decodeNumbers(t, out), "$"); len(errs) > 0 {
		t.Fatalf("report does not match %s:\n%s", schemaFile, strings.Join(errs, "\n"))
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	byFP := map[string]map[string]any{}
	for _, f := range doc.Findings {
		byFP[f["fingerprint"].(string)] = f
	}
	if f := byFP[a.Fingerprint]; f["level"] != "note" || f["remark"] != o.Remarks[a.Fingerprint].Text {
		t.Errorf("finding with a notice remark: level %v remark %v", f["level"], f["remark"])
	}
	if f := byFP[b.Fingerprint]; f["level"] != "error" || f["remark"] != nil {
		t.Errorf("finding without a remark: level %v remark %v", f["level"], f["remark"])
	}
	back, err := ReadJSON(strings.NewReader(out))
	if err != nil || back.Findings[0].Remark+back.Findings[1].Remark != o.Remarks[a.Fingerprint].Text {
		t.Errorf("read back: %v %+v", err, back)
	}

	var log struct {
		Runs []struct {
			Results []struct {
				Level      string `json:"level"`
				Message    struct{ Text string }
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(render(t, SARIF, r, o)), &log); err != nil {
		t.Fatal(err)
	}
	var notes, remarks int
	for _, res := range log.Runs[0].Results {
		if res.Level == "note" {
			notes++
		}
		if res.Properties["remark"] == o.Remarks[a.Fingerprint].Text && strings.Contains(res.Message.Text, " Already on the base branch (base commit 0123456789ab)") {
			remarks++
		}
	}
	if notes != 1 || remarks != 1 {
		t.Errorf("SARIF: %d notes, %d remarks, want 1 and 1: %+v", notes, remarks, log)
	}
}
