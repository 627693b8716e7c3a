package orgscan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/state/storetest"
)

func reportOptions() report.Options { return report.Options{ToolVersion: "1.2.3"} }

// TestReportFormats checks the JSON field names, the text summary and
// the per-repository SARIF files.
func TestReportFormats(t *testing.T) {
	st, _ := openScanStore(t, storetest.Backend{Name: "sqlite", DSN: storetest.SQLite})
	s := newRepoScanner(t, st)
	c := newFixtureCreds(t, 14)
	sid, tok := c.pair()
	f := newScanFixture(t)
	f.write("app/settings.env", envText(sid, tok))
	f.commit("leak")
	clean := newScanFixture(t)
	clean.write("README", "nothing here\n")
	clean.commit("clean")
	leaky, tidy, failed := testRepo(1, "acme/leaky", 1), testRepo(2, "acme/tidy", 1), testRepo(3, "acme/failed", 1)
	rd := round(1)
	mustScan(t, s, leaky, f.sync(), rd)
	mustScan(t, s, tidy, clean.sync(), rd)
	if err := s.RecordFailure(t.Context(), failed, rd, "fetch: repository not found"); err != nil {
		t.Fatal(err)
	}
	rep := mustReport(t, st, []Repo{leaky, tidy, failed}, rd)

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), tok) {
		t.Fatal("JSON report holds the secret")
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "version", "round", "summary", "credentials", "failed_repositories", "repositories"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if doc["schema"] != ReportSchema {
		t.Errorf("schema %v", doc["schema"])
	}
	cred := doc["credentials"].([]any)[0].(map[string]any)
	for _, k := range []string{"fingerprint", "credential", "rule", "identifier", "secret", "confidence", "first_seen", "last_seen", "first_round", "new", "repositories"} {
		if _, ok := cred[k]; !ok {
			t.Errorf("JSON credential lacks %q", k)
		}
	}
	if cred["identifier"] != sid || cred["new"] != true || !strings.HasSuffix(cred["secret"].(string), "[REDACTED]") {
		t.Errorf("JSON credential %v", cred)
	}
	loc := cred["repositories"].([]any)[0].(map[string]any)["locations"].([]any)[0].(map[string]any)
	for _, k := range []string{"path", "line", "column", "commit", "blob", "at_tips", "first_round"} {
		if _, ok := loc[k]; !ok {
			t.Errorf("JSON location lacks %q", k)
		}
	}
	failedJSON := doc["failed_repositories"].([]any)
	if len(failedJSON) != 1 || failedJSON[0].(map[string]any)["full_name"] != "acme/failed" || failedJSON[0].(map[string]any)["reason"] != "fetch: repository not found" {
		t.Errorf("JSON failures %v", failedJSON)
	}
	sum := doc["summary"].(map[string]any)
	if sum["credentials"] != 1.0 || sum["new"] != 1.0 || sum["failed"] != 1.0 || sum["repositories"] != 3.0 || sum["blobs_read"] != 2.0 {
		t.Errorf("JSON summary %v", sum)
	}
	repos := doc["repositories"].([]any)
	if len(repos) != 3 || repos[1].(map[string]any)["stats"].(map[string]any)["blobs"] != 1.0 {
		t.Errorf("JSON repositories %v", repos)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NEW auth-token " + sid, "acme/leaky app/settings.env:3", "1 credential (1 new) in 1 place across 3 repositories (2 scanned this round, 1 failed); 2 blobs read", "leakstop: error: repository acme/failed could not be scanned: fetch: repository not found"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), tok) {
		t.Fatal("text report holds the secret")
	}

	dir := t.TempDir()
	files, err := rep.WriteSARIF(dir, reportOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["acme/failed"]; ok || len(files) != 2 {
		t.Errorf("SARIF files %v: want leaky and tidy, none for the failed repository", files)
	}
	for name, want := range map[string]int{"acme/leaky": 1, "acme/tidy": 0} {
		if files[name] != filepath.Join(dir, name+".sarif") {
			t.Errorf("SARIF of %s at %s", name, files[name])
		}
		b, err := os.ReadFile(files[name])
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(tok)) {
			t.Fatal("SARIF holds the secret")
		}
		var log struct {
			Version string `json:"version"`
			Runs    []struct {
				Results []struct {
					RuleID              string            `json:"ruleId"`
					PartialFingerprints map[string]string `json:"partialFingerprints"`
					Locations           []struct {
						PhysicalLocation struct {
							ArtifactLocation struct {
								URI string `json:"uri"`
							} `json:"artifactLocation"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b, &log); err != nil {
			t.Fatal(err)
		}
		if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != want {
			t.Fatalf("SARIF of %s: version %s, %d runs, results %+v", name, log.Version, len(log.Runs), log.Runs)
		}
		if want == 1 {
			r := log.Runs[0].Results[0]
			if r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "app/settings.env" || !slices.Contains(mapsValues(r.PartialFingerprints), rep.Creds[0].Fingerprint) {
				t.Errorf("SARIF result %+v", r)
			}
		}
	}
}

func mapsValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestSARIFPathStaysInDir(t *testing.T) {
	for _, bad := range []string{"../x", "a/..", "a/b/c", "a", "/a", "a/", "a/b\x00", ".././x", "a/b/../../c", "../.."} {
		if p, err := SARIFPath("out", bad); err == nil {
			t.Errorf("SARIFPath(%q) = %s, want an error", bad, p)
		}
	}
	if p, err := SARIFPath("out", "acme/.github"); err != nil || p != filepath.Join("out", "acme", ".github.sarif") {
		t.Errorf("SARIFPath(acme/.github) = %s, %v", p, err)
	}
}

func TestRulesHash(t *testing.T) {
	base := RulesHash("1.0.0", [][]byte{[]byte("a")}, "inline-allow=true", "max-file-size=0")
	if RulesHash("1.0.0", [][]byte{[]byte("a")}, "max-file-size=0", "inline-allow=true") != base {
		t.Error("option order changes the hash")
	}
	for _, other := range []string{
		RulesHash("1.0.1", [][]byte{[]byte("a")}, "inline-allow=true", "max-file-size=0"),
		RulesHash("1.0.0", [][]byte{[]byte("b")}, "inline-allow=true", "max-file-size=0"),
		RulesHash("1.0.0", [][]byte{[]byte("a"), nil}, "inline-allow=true", "max-file-size=0"),
		RulesHash("1.0.0", [][]byte{[]byte("a")}, "inline-allow=false", "max-file-size=0"),
	} {
		if other == base {
			t.Error("a change left the hash unchanged")
		}
	}
}
