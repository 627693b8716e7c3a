package revoker

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the plan as indented JSON. Secrets appear only redacted.
func (p Plan) WriteJSON(w io.Writer) error { return writeJSON(w, p) }

// WriteText writes the plan for people.
func (p Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "leakstop plan (mode %s): %d credential(s)\n", p.Mode, len(p.Items))
	for i, it := range p.Items {
		b.WriteByte('\n')
		writeItemHead(&b, i, it)
		fmt.Fprintf(&b, "    decision: %s", it.Decision)
		if it.Reason != "" {
			fmt.Fprintf(&b, " — %s", it.Reason)
		}
		b.WriteByte('\n')
		for j, s := range it.Steps {
			fmt.Fprintf(&b, "      %d. %s\n", j+1, s)
		}
	}
	if p.Mode != ModeApply && p.count(DecisionRotate, DecisionResume, DecisionRetry) > 0 {
		b.WriteString("\nNothing was changed. Run again with --apply (or set mode = \"apply\") to rotate.\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

func (p Plan) count(decisions ...string) int {
	n := 0
	for _, it := range p.Items {
		for _, d := range decisions {
			if it.Decision == d {
				n++
			}
		}
	}
	return n
}

// WriteJSON writes the result as indented JSON. Secrets appear only redacted.
func (r Result) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// WriteText writes the result for people.
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "leakstop %s: %d credential(s)\n", r.Mode, len(r.Items))
	for i, it := range r.Items {
		b.WriteByte('\n')
		writeItemHead(&b, i, it)
		fmt.Fprintf(&b, "    outcome: %s", it.Outcome)
		if it.RotationID != "" {
			fmt.Fprintf(&b, " (rotation %s, state %s)", it.RotationID, it.State)
		}
		b.WriteByte('\n')
		if it.Reason != "" {
			fmt.Fprintf(&b, "    why: %s\n", it.Reason)
		}
		if it.LeakedRole != "" {
			fmt.Fprintf(&b, "    leaked token was the %s\n", it.LeakedRole)
		}
		if it.NewKeySID != "" {
			fmt.Fprintf(&b, "    replacement key: %s\n", it.NewKeySID)
		}
		if it.Error != "" {
			fmt.Fprintf(&b, "    error: %s\n", it.Error)
		}
		for _, a := range it.Actions {
			fmt.Fprintf(&b, "    - %s %s: %s\n", a.At.UTC().Format(time.TimeOnly), a.Step, a.Outcome)
		}
		for _, wn := range it.Warnings {
			fmt.Fprintf(&b, "    warning: %s\n", wn)
		}
		for _, t := range it.Todo {
			fmt.Fprintf(&b, "    todo: %s\n", t)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// Count returns how many items have one of the outcomes.
func (r Result) Count(outcomes ...string) int {
	n := 0
	for _, it := range r.Items {
		for _, o := range outcomes {
			if it.Outcome == o {
				n++
			}
		}
	}
	return n
}

// OK reports whether nothing failed or was left unfinished.
func (r Result) OK() bool {
	return r.Count(OutcomeFailed, OutcomeIncomplete, OutcomeNeedsInput, OutcomeBusy) == 0
}

func writeItemHead(b *strings.Builder, i int, it Item) {
	id := it.KeySID
	if id == "" {
		id = it.AccountSID
	}
	fmt.Fprintf(b, "[%d] %s %s", i+1, it.Kind, dash(id))
	if it.Kind == KindAPIKey && it.AccountSID != "" {
		fmt.Fprintf(b, " (account %s)", it.AccountSID)
	}
	if it.AccountName != "" {
		fmt.Fprintf(b, " %q", it.AccountName)
	}
	if it.Secret != "" {
		fmt.Fprintf(b, " secret %s", it.Secret)
	}
	b.WriteByte('\n')
	if it.Verification != "" {
		fmt.Fprintf(b, "    verification: %s", it.Verification)
		if it.Detail != "" {
			fmt.Fprintf(b, " (%s)", it.Detail)
		}
		b.WriteByte('\n')
	}
	owned := "no — report only"
	if it.Owned {
		owned = "yes"
	}
	fmt.Fprintf(b, "    owned account: %s\n", owned)
	for _, l := range it.Locations {
		fmt.Fprintf(b, "    found: %s\n", formatLocation(l))
	}
}

func formatLocation(l Location) string {
	var parts []string
	if l.Repo != "" {
		parts = append(parts, l.Repo)
	}
	p := l.Path
	if l.Line > 0 {
		p = fmt.Sprintf("%s:%d", p, l.Line)
	}
	if p != "" {
		parts = append(parts, p)
	}
	if l.Commit != "" {
		c := l.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		parts = append(parts, "@"+c)
	}
	if l.URL != "" {
		parts = append(parts, l.URL)
	}
	return strings.Join(parts, " ")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

type locationJSON struct {
	Repo   string `json:"repo,omitempty"`
	Commit string `json:"commit,omitempty"`
	Path   string `json:"path,omitempty"`
	Line   int    `json:"line,omitempty"`
	URL    string `json:"url,omitempty"`
}

type actionJSON struct {
	Step    string    `json:"step"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
}

// MarshalJSON writes locations and actions with snake_case keys like the
// rest of the item (their types, from package notify, have no tags).
func (it Item) MarshalJSON() ([]byte, error) {
	type plain Item
	out := struct {
		plain
		Locations []locationJSON `json:"locations,omitempty"`
		Actions   []actionJSON   `json:"actions,omitempty"`
	}{plain: plain(it)}
	for _, l := range it.Locations {
		out.Locations = append(out.Locations, locationJSON(l))
	}
	for _, a := range it.Actions {
		out.Actions = append(out.Actions, actionJSON(a))
	}
	return json.Marshal(out)
}
