package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/internal/githubtest"
)

// TestNoSecretAnywhere renders, marshals and sends notifications about a
// generated credential and checks that the credential appears nowhere:
// not in renderings, bodies, headers, paths or errors.
func TestNoSecretAnywhere(t *testing.T) {
	l := newLeak(t, "acme/app", "acme/lib")
	token := l.token.Reveal()

	// A careless caller lets the token slip into free text too; the
	// renderers' safety net must catch an auth-token-shaped value.
	careless := l.msg
	careless.Subject = "leak of " + token
	careless.What = "token " + token + " leaked"
	careless.Todo = []string{"rotate " + token}
	careless.Actions = append([]Action(nil), l.msg.Actions...)
	careless.Actions[0].Outcome = "verified " + token
	careless.Locations = append([]Location(nil), l.msg.Locations...)
	careless.Locations[0].Path = "secrets/" + token + ".txt"

	var outputs []string
	add := func(what string, b []byte) { outputs = append(outputs, what+": "+string(b)) }

	for _, m := range []Message{l.msg, careless} {
		add("Render", []byte(Render(m)))
		add("RenderText", []byte(RenderText(m)))
		p, err := Payload(m)
		if err != nil {
			t.Fatal(err)
		}
		add("Payload", p)
		j, _ := json.Marshal(m)
		if m.What == l.msg.What { // the careful message only: these print fields verbatim
			add("json", j)
			add("fmt", fmt.Appendf(nil, "%v %+v %#v", m, m, m))
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("notify", "message", m)
			add("slog", logged.Bytes())
		}

		// Webhook: success, then a failing receiver, whose error we keep.
		key := []byte(randHex(t, 16))
		ok := newReceiver(t)
		w := newTestWebhook(t, WebhookConfig{URL: ok.hookURL(t), Key: key})
		if err := w.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		bad := newReceiver(t, status(http.StatusBadRequest))
		wb := newTestWebhook(t, WebhookConfig{URL: bad.hookURL(t), Key: key})
		if err := wb.Notify(context.Background(), m); err == nil {
			t.Fatal("no error from a 400")
		} else {
			add("webhook error", []byte(err.Error()))
		}
		for _, r := range append(ok.requests(), bad.requests()...) {
			add("webhook body", r.body)
			add("webhook headers", fmt.Appendf(nil, "%v", r.header))
		}

		// GitHub issue: create, comment, and a failure.
		gh := githubtest.New(t)
		n := newTestIssue(t, gh, GitHubIssueConfig{})
		for range 2 {
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		gh.InjectFault(githubtest.Fault{Kind: githubtest.Status, Status: http.StatusUnprocessableEntity, Method: "POST"})
		if err := n.Notify(context.Background(), m); err == nil {
			t.Fatal("no error from a 422")
		} else {
			add("issue error", []byte(err.Error()))
		}
		for _, r := range gh.Requests() {
			add("github request", fmt.Appendf(nil, "%s %s?%s %v %s", r.Method, r.Path, r.RawQuery, r.Header, r.Body))
		}
		for _, repo := range []string{"app", "lib"} {
			for _, is := range gh.Issues("acme", repo) {
				add("issue", []byte(is.Title+"\n"+is.Body))
				for _, c := range is.Comments {
					add("comment", []byte(c.Body))
				}
			}
		}
	}

	if len(outputs) < 20 {
		t.Fatalf("only %d outputs checked", len(outputs))
	}
	for _, out := range outputs {
		for i := 0; i+8 <= len(token); i++ {
			if strings.Contains(out, token[i:i+8]) {
				t.Fatalf("a piece of the secret leaked in %.60s…", out)
			}
		}
	}
	// The careless text was redacted, not dropped.
	if !strings.Contains(Render(careless), "token [REDACTED] leaked") {
		t.Fatalf("careless What not redacted as expected:\n%s", Render(careless))
	}
}
