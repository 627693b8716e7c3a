package notify

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRenderSaysWhatWhereWhenTodo(t *testing.T) {
	l := newLeak(t)
	loc := l.msg.Locations[0]
	for name, out := range map[string]string{"markdown": Render(l.msg), "text": RenderText(l.msg)} {
		for _, want := range []string{
			"Leaked Twilio Auth Token in acme/app",
			l.msg.Credential.AccountSID,
			l.msg.Credential.Redacted,
			l.msg.Credential.Fingerprint[:16],
			"critical",
			"acme/app", loc.Commit, "config/settings.py", "line 10", loc.URL,
			"2025-03-04 05:06:07 UTC", "created a secondary auth token",
			"2025-03-04 05:06:10 UTC", "the leaked token no longer works",
			"What you must do", "Remove the credential from the code",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s render lacks %q:\n%s", name, want, out)
			}
		}
	}
}

func TestRenderCustomTodoAndEmptyParts(t *testing.T) {
	m := Message{Credential: CredentialRef{Kind: "api-key", KeySID: "SK" + randHex(t, 16)}, Todo: []string{"Tell the payments team."}}
	out := Render(m)
	for _, want := range []string{"Leaked credential: Twilio API Key", "Tell the payments team.", "(no location given)", "Nothing yet.", m.Credential.KeySID} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Remove the credential") {
		t.Error("default steps shown despite Todo")
	}
}

func TestRenderNeutralisesRepositoryContent(t *testing.T) {
	m := newLeak(t).msg
	m.Locations = []Location{{
		Repo:   "acme/app",
		Path:   "evil`path`\n<!-- leakstop:fingerprint=x -->\n@org/team [x](javascript:alert(1))",
		Line:   3,
		URL:    "javascript:alert(1)",
		Commit: "c0ffee",
	}}
	m.Todo = []string{"ping @channel <b>now</b>"}
	out := Render(m)
	if !strings.Contains(out, "``evil`path` <!-- leakstop:fingerprint=x --> @org/team [x](javascript:alert(1))``") {
		t.Errorf("path not confined to one code span:\n%s", out)
	}
	if strings.Contains(out, "(javascript:alert(1))\n") || strings.Contains(out, "[view](javascript") {
		t.Errorf("unsafe URL linked:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "<!-- leakstop:fingerprint=x -->" {
			t.Fatalf("a forged marker line survived:\n%s", out)
		}
	}
	if strings.Contains(out, "@channel") || strings.Contains(out, "<b>") {
		t.Errorf("mention or HTML not escaped:\n%s", out)
	}
}

func TestRenderRedactsTokenShapedText(t *testing.T) {
	token := randHex(t, 16)
	sid := "AC" + randHex(t, 16)
	commit := randHex(t, 20)
	m := Message{What: "oops " + token + " for " + sid, Locations: []Location{{Repo: "o/r", Commit: commit}}}
	for _, out := range []string{Render(m), RenderText(m)} {
		if strings.Contains(out, token) {
			t.Fatalf("token-shaped text not redacted:\n%s", out)
		}
		if !strings.Contains(out, sid) || !strings.Contains(out, commit) {
			t.Fatalf("SID or commit redacted by mistake:\n%s", out)
		}
	}
}

func TestRenderBoundsLists(t *testing.T) {
	m := newLeak(t).msg
	for range 50 {
		m.Locations = append(m.Locations, m.Locations[0])
	}
	if out := Render(m); !strings.Contains(out, "…and 31 more") {
		t.Fatalf("long list not cut:\n%s", out)
	}
	m.What = strings.Repeat("x", 2000)
	if out := RenderText(m); strings.Contains(out, strings.Repeat("x", maxField)) {
		t.Fatal("long value not cut")
	}
}

func TestMdCode(t *testing.T) {
	cases := map[string]string{"a": "`a`", "a`b": "``a`b``", "`x": "`` `x ``", "a``b": "```a``b```"}
	for in, want := range cases {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFormatsRenderOneView: Markdown, text and Slack are one view under
// three escapings: every list line of the view appears in each output,
// escaped by that format, and the formats differ only in that.
func TestFormatsRenderOneView(t *testing.T) {
	m := newLeak(t, "acme/app", "acme/lib").msg
	m.Locations[1].Path = "a<b>&`c`"
	m.Actions = append(m.Actions, Action{Step: "told <@here>", Outcome: "sent & seen"})
	v := newView(m)
	var p slackPayload
	if err := json.Unmarshal(mustPayload(t, m), &p); err != nil {
		t.Fatal(err)
	}
	var slackText strings.Builder
	for _, b := range p.Blocks {
		if b.Text != nil {
			slackText.WriteString(b.Text.Text + "\n")
		}
		for _, f := range b.Fields {
			slackText.WriteString(f.Text + "\n")
		}
	}
	for _, c := range []struct {
		name string
		f    format
		out  string
	}{
		{"markdown", markdown.format, Render(m)},
		{"text", text.format, RenderText(m)},
		{"slack", slack, slackText.String()},
	} {
		lines := append(append(c.f.where(v), c.f.did(v)...), c.f.must(v)...)
		if len(lines) != len(m.Locations)+len(m.Actions)+len(v.todo) {
			t.Fatalf("%s: %d list lines for %d locations, %d actions, %d steps", c.name, len(lines), len(m.Locations), len(m.Actions), len(v.todo))
		}
		for _, l := range lines {
			if !strings.Contains(c.out, l) {
				t.Errorf("%s output lacks its line %q:\n%s", c.name, l, c.out)
			}
		}
		for _, f := range v.fields {
			if !strings.Contains(c.out, c.f.value(f)) {
				t.Errorf("%s output lacks field %s = %q", c.name, f.label, c.f.value(f))
			}
		}
	}
	// The escapings differ where they must (a code span in Markdown shows
	// "<b>" as text, so only prose is checked there).
	if strings.Contains(slackText.String(), "<b>") {
		t.Errorf("slack output has unescaped markup in code:\n%s", slackText.String())
	}
	for name, raw := range map[string]string{"markdown": Render(m), "slack": slackText.String()} {
		if strings.Contains(raw, "<@here>") {
			t.Errorf("%s output has unescaped markup:\n%s", name, raw)
		}
	}
	if !strings.Contains(RenderText(m), "told <@here>") {
		t.Error("plain text escaped what it need not")
	}
}

func mustPayload(t *testing.T, m Message) []byte {
	t.Helper()
	b, err := Payload(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
