package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
)

// TestVerifyAndRevoke: Verify and Revoke run the revoker on findings in
// memory, as scan --verify and --revoke and the Action's verify and revoke
// inputs do (was cmd/leakstop's TestActionHooks).
func TestVerifyAndRevoke(t *testing.T) {
	fake := twiliotest.NewServer(t)
	sid, leaked := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	otherSID, otherTok := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "other"})
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink")
	config := filepath.Join(dir, "leakstop.toml")
	cfg := fmt.Sprintf(`state = %q
grace_period = "0s"

[[accounts]]
sid = %q
sinks = ["file"]

[[sinks]]
name = "file"
type = "command"
command = ["sh", "-c", %q]
`, filepath.Join(dir, "state.db"), sid, "cat > "+sink)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	finding := func(sid string, tok secret.Value) scanner.Finding {
		return scanner.Finding{RuleID: "twilio-auth-token", Credential: "auth-token", Identifier: sid, Secret: tok,
			Fingerprint: scanner.Fingerprint("twilio-auth-token", sid, tok.Reveal()), Confidence: scanner.High,
			Locations: []scanner.Location{{Path: "prod.env", Line: 2, Column: 19, EndColumn: 51}}}
	}
	var stderr bytes.Buffer
	o := RevokerOptions{Config: config, TwilioAPI: fake.URL(), Diag: &stderr}
	ctx := context.Background()

	fs := []scanner.Finding{finding(sid, leaked), finding(otherSID, otherTok)}
	if err := Verify(ctx, o, fs); err != nil {
		t.Fatal(err)
	}
	if fs[0].Verification != "live" || fs[0].VerifiedAt.IsZero() || fs[1].Verification != "live" {
		t.Fatalf("verify: %q %v / %q", fs[0].Verification, fs[0].VerifiedAt, fs[1].Verification)
	}

	fs = []scanner.Finding{finding(sid, leaked), finding(otherSID, otherTok)}
	var b bytes.Buffer
	err := Revoke(ctx, o, revoker.ModePlan, fs, &b, "text")
	out := b.String()
	if !errors.Is(err, ErrFindings) || !strings.Contains(out, "decision: rotate") || !strings.Contains(out, "decision: report") || fs[0].Verification != "live" {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if !fake.Authenticates(sid, leaked) {
		t.Fatal("the plan rotated")
	}

	b.Reset()
	// Live credentials of an account not configured are findings.
	err = Revoke(ctx, o, revoker.ModeApply, fs, &b, "text")
	out = b.String()
	if !errors.Is(err, ErrFindings) || !strings.Contains(out, "outcome: rotated") || !strings.Contains(out, "outcome: reported") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	primary, _ := fake.Tokens(sid)
	if b, _ := os.ReadFile(sink); fake.Authenticates(sid, leaked) || string(b) != primary.Reveal() || !fake.Authenticates(otherSID, otherTok) {
		t.Fatal("apply did not rotate the owned token into the sink, or touched the other account")
	}
	for _, s := range []string{out, stderr.String()} {
		for _, v := range []secret.Value{leaked, otherTok, primary} {
			if strings.Contains(s, v.Reveal()) {
				t.Fatal("a secret in the output")
			}
		}
	}
}
