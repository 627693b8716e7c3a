package notify

import (
	"fmt"
	"strconv"
	"strings"
)

// Slack's limits on Block Kit.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
)

type slackText struct {
	Type string `json:"type"` // "mrkdwn" or "plain_text"
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

// slackPayload is the body of an incoming-webhook message: text is the
// fallback (notifications, receivers that ignore blocks), blocks the
// layout.
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackEscape escapes the three characters Slack's mrkdwn treats as
// control characters, which also defuses <!channel> and <@user>.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackCode shows s as inline code; mrkdwn has no escape for a backtick.
func slackCode(s string) string {
	return "`" + strings.ReplaceAll(slackEscape(s), "`", "'") + "`"
}

func mrkdwn(s string) *slackText { return &slackText{Type: "mrkdwn", Text: s} }

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// slackMessage builds the webhook body for m.
func slackMessage(m Message) slackPayload {
	blocks := []slackBlock{{
		Type: "header",
		Text: &slackText{Type: "plain_text", Text: cut(subject(m), slackHeaderMax)},
	}}
	if w := clean(m.What); w != "" {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(cut("*What leaked:* "+slackEscape(w), slackSectionMax))})
	}
	var fields []slackText
	for _, f := range credentialFields(m) {
		v := slackCode(f[1])
		if f[0] == "Credential" || f[0] == "Severity" {
			v = slackEscape(f[1])
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: cut("*"+f[0]+"*\n"+v, slackFieldMax)})
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields[:min(len(fields), slackFieldsMax)]})

	var where []string
	for i, l := range m.Locations {
		if i == maxLocations {
			where = append(where, fmt.Sprintf("• …and %d more", len(m.Locations)-maxLocations))
			break
		}
		where = append(where, "• "+slackLocation(l))
	}
	if len(where) == 0 {
		where = []string{"• (no location given)"}
	}
	blocks = append(blocks, slackSection("*Where it was found*", where))

	var did []string
	for i, a := range m.Actions {
		if i == maxActions {
			did = append(did, fmt.Sprintf("• …and %d more steps", len(m.Actions)-maxActions))
			break
		}
		line := "• " + when(a.At) + " — *" + slackEscape(clean(a.Step)) + "*"
		if o := clean(a.Outcome); o != "" {
			line += ": " + slackEscape(o)
		}
		did = append(did, line)
	}
	if len(did) == 0 {
		did = []string{"• Nothing yet."}
	}
	blocks = append(blocks, slackSection("*What leakstop did*", did))

	var must []string
	for i, t := range todo(m) {
		if i == maxTodo {
			break
		}
		must = append(must, strconv.Itoa(i+1)+". "+slackEscape(t))
	}
	blocks = append(blocks, slackSection("*What you must do*", must))
	blocks = append(blocks, slackBlock{Type: "context", Elements: []slackText{
		{Type: "mrkdwn", Text: "Sent by leakstop. Notifications never contain the secret itself."},
	}})
	return slackPayload{Text: slackEscape(RenderText(m)), Blocks: blocks}
}

// slackSection is a titled list, cut at whole lines to fit a section.
func slackSection(title string, lines []string) slackBlock {
	text := title
	for i, l := range lines {
		next := text + "\n" + l
		if len([]rune(next)) > slackSectionMax-20 {
			text += fmt.Sprintf("\n…and %d more", len(lines)-i)
			break
		}
		text = next
	}
	return slackBlock{Type: "section", Text: mrkdwn(text)}
}

func slackLocation(l Location) string {
	var parts []string
	if r := clean(l.Repo); r != "" {
		parts = append(parts, slackCode(r))
	}
	if c := clean(l.Commit); c != "" {
		parts = append(parts, "at commit "+slackCode(c))
	}
	if p := clean(l.Path); p != "" {
		s := "in " + slackCode(p)
		if l.Line > 0 {
			s += " line " + strconv.Itoa(l.Line)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = append(parts, "(unknown place)")
	}
	s := strings.Join(parts, " ")
	if u := safeURL(l.URL); u != "" {
		s += " <" + strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(u) + "|view>"
	}
	return s
}
