package rules

import "strings"

// matcher is a compiled word pattern.
type matcher interface{ MatchString(string) bool }

// NameClass is what the name a value sits under says it is.
type NameClass int

const (
	// NameNone: the value has no name (a positional argument, URL user
	// information, a bare value on a line).
	NameNone NameClass = iota
	// NameFits: a name that says "a credential" and nothing that rules
	// the model's owner out (AUTH_TOKEN, apiSecret, --password).
	NameFits
	// NameOwner: a name that says the model's owner (TWILIO_AUTH_TOKEN).
	NameOwner
	// NameOther: a name that says something else: an identifier, a hash,
	// a version, another vendor's or a framework's secret.
	NameOther
)

func (c NameClass) String() string {
	switch c {
	case NameFits:
		return "fits"
	case NameOwner:
		return "owner"
	case NameOther:
		return "other"
	}
	return "none"
}

// NameModel classifies the names values sit under (keys, attributes,
// flags, column headers, labels on log lines, keyword arguments). A name
// is split into lower-case words (camelCase, snake_case, kebab-case,
// dots, spaces; digits stay with the letters before them) and decided by
// the classes of its words, so names never seen before are classified
// too:
//
//   - a word sequence of Other anywhere in the name: NameOther (trace_id,
//     twilio_request_id, sentry.release_sha);
//   - a word of Owner: NameOwner (TWILIO_AUTH_TOKEN);
//   - the whole name a Foreign sequence: NameOther (SECRET_KEY);
//   - a word that is neither Secret nor Context: NameOther, as the word
//     names whose secret it is (stripe_webhook_secret, APP_KEY);
//   - otherwise NameFits.
type NameModel struct {
	ID          string
	Description string
	// Owner, Secret and Context match single words.
	Owner, Secret, Context []matcher
	// Other matches word sequences anywhere in the name, Foreign the
	// whole name; both are written with "_" between words.
	Other, Foreign []matcher
	// Examples are names and the class each must get.
	Examples []NameExample
	Source   Pos
}

// NameExample is a name and the class a model must give it.
type NameExample struct {
	Name   string
	Class  NameClass
	Source Pos // the [[names]] table that gave it
}

// Words splits a name into lower-case words.
func Words(name string) []string {
	var out []string
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			w := strings.ToLower(name[start:end])
			if strings.Trim(w, "0123456789") != "" {
				out = append(out, w)
			}
		}
		start = -1
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			if start >= 0 && isDigit(name[i-1]) {
				flush(i)
			}
		case c >= 'A' && c <= 'Z':
			if start >= 0 {
				p := name[i-1]
				if p >= 'a' && p <= 'z' || isDigit(p) ||
					p >= 'A' && p <= 'Z' && i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z' {
					flush(i)
				}
			}
		case isDigit(c):
		default:
			flush(i)
			continue
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(name))
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Classify returns the class of name.
func (m *NameModel) Classify(name string) NameClass {
	return m.ClassifyWords(Words(name))
}

// ClassifyWords returns the class of a name already split into words.
func (m *NameModel) ClassifyWords(words []string) NameClass {
	if len(words) == 0 {
		return NameNone
	}
	joined := "_" + strings.Join(words, "_") + "_"
	for _, re := range m.Other {
		if re.MatchString(joined) {
			return NameOther
		}
	}
	owner, unknown, said := false, false, false
	for _, w := range words {
		switch {
		case matchAny(m.Owner, w):
			owner, said = true, true
		case m.Known(w):
			said = true
		case len(w) > 1:
			// A one-letter name (t, s) says nothing.
			unknown, said = true, true
		}
	}
	if !said {
		return NameNone
	}
	if owner {
		return NameOwner
	}
	for _, re := range m.Foreign {
		if re.MatchString(joined) {
			return NameOther
		}
	}
	if unknown {
		return NameOther
	}
	return NameFits
}

// Known reports whether w is a word of the model: owner, secret or
// context, or part of an Other sequence on its own.
func (m *NameModel) Known(w string) bool {
	if matchAny(m.Owner, w) || matchAny(m.Secret, w) || matchAny(m.Context, w) {
		return true
	}
	for _, re := range m.Other {
		if re.MatchString("_" + w + "_") {
			return true
		}
	}
	return false
}

func matchAny(res []matcher, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
