package notify

import (
	"fmt"
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

// slack is the format of Slack's mrkdwn.
var slack = format{
	text:   slackEscape,
	code:   slackCode,
	strong: func(s string) string { return "*" + s + "*" },
	link: func(u string) string {
		return " <" + strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(u) + "|view>"
	},
}

// slackMessage builds the webhook body for m.
func slackMessage(m Message) slackPayload {
	v := newView(m)
	blocks := []slackBlock{{
		Type: "header",
		Text: &slackText{Type: "plain_text", Text: cut(v.subject, slackHeaderMax)},
	}}
	if v.what != "" {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(cut(slack.strong(titleWhat+":")+" "+slack.text(v.what), slackSectionMax))})
	}
	var fields []slackText
	for _, f := range v.fields {
		fields = append(fields, slackText{Type: "mrkdwn", Text: cut(slack.strong(f.label)+"\n"+slack.value(f), slackFieldMax)})
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields[:min(len(fields), slackFieldsMax)]})
	bullets := func(lines []string) []string {
		for i, l := range lines {
			lines[i] = "• " + l
		}
		return lines
	}
	blocks = append(blocks,
		slackSection(slack.strong(titleWhere), bullets(slack.where(v))),
		slackSection(slack.strong(titleDid), bullets(slack.did(v))),
		slackSection(slack.strong(titleTodo), slack.must(v)),
		slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: footer}}},
	)
	return slackPayload{Text: slackEscape(text.render(v)), Blocks: blocks}
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
