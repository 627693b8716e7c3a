// Package rules loads leakstop's detection rules: a TOML file is decoded
// into raw structs, then validated and compiled into a Set the scanner runs.
// Every problem is reported as FILE:LINE: rule "id": what is wrong.
package rules

import (
	"github.com/leakstop/leakstop/credential"
	"regexp"
	"strings"
)

// Kind says what a rule's match is.
type Kind string

const (
	// Identifier rules match the public half of a credential (a SID).
	Identifier Kind = "identifier"
	// Secret rules match the secret half (a token or key secret).
	Secret Kind = "secret"
)

// SecretGroup is the name of the regex group that holds the matched value.
const SecretGroup = "secret"

// Rule is one compiled, validated detection rule.
type Rule struct {
	ID          string
	Description string
	Kind        Kind
	Regex       *regexp.Regexp
	// Group is the index of the "secret" submatch in Regex.
	Group int
	// MinRun, when > 0, is the shortest run of ASCII letters and digits
	// that any value of this rule is: content without such a run cannot
	// match. 0 when the value may hold other characters.
	MinRun int
	// Keywords are lower-case literals; a rule runs only near one of them,
	// unless Near is set.
	Keywords []string
	// Entropy is the minimum Shannon entropy (bits per byte) of the value.
	Entropy float64
	// Near names an identifier rule: this rule runs only within the window
	// of that identifier's matches, and needs no keywords.
	Near string
	// Boundary requires the value not to touch a letter or digit on either
	// side, so a 32-character run inside a longer one never matches.
	Boundary bool
	// ReportUnpaired reports a secret of this rule even when no identifier
	// can be paired with it.
	ReportUnpaired bool
	// Names is the id of the name model that judges the name this rule's
	// values sit under; "" for none.
	Names     string
	Allowlist Allowlist
	Examples  []string
	Counter   []string
	// Source says where the rule was defined, for messages.
	Source Pos
}

// Pair joins an identifier rule with secret rules into a credential.
type Pair struct {
	ID          string
	Description string
	// Credential is the kind of credential: "auth-token" or "api-key".
	Credential credential.Kind
	Identifier string
	Secrets    []string
	// Window is how many lines apart an identifier and a secret may stand
	// in one file and still pair by proximity.
	Window int
	// CrossFile lets a secret with no identifier in its own file pair with
	// identifiers in other files of the same snapshot.
	CrossFile bool
	Examples  []string
	Counter   []string
	Source    Pos
}

// Allowlist drops matches: by regex on the value, by stopword contained in
// the value, or by regex on the path.
type Allowlist struct {
	Regexes   []*regexp.Regexp
	Stopwords []string
	Paths     []*regexp.Regexp
}

// AllowsValue reports whether v is allowed (not a finding).
func (a *Allowlist) AllowsValue(v string) bool {
	lv := strings.ToLower(v)
	for _, s := range a.Stopwords {
		if strings.Contains(lv, s) {
			return true
		}
	}
	for _, re := range a.Regexes {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// AllowsPath reports whether findings in path are allowed.
func (a *Allowlist) AllowsPath(path string) bool {
	for _, re := range a.Paths {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// Pos is a place in a rules file.
type Pos struct {
	File string
	Line int
}

// Set is a complete, compiled rule set.
type Set struct {
	Rules []*Rule
	Pairs []*Pair
	// Allowlist applies to every rule.
	Allowlist Allowlist
	// TestMarkers label a credential as Twilio test credentials when they
	// match near it.
	TestMarkers []*regexp.Regexp
	// Names are the name models rules refer to.
	Names []*NameModel
	// Published holds the ExampleFingerprint of each published example
	// credential: findings of one are not reported (see
	// IsPublishedExample).
	Published map[string]bool

	byID map[string]*Rule
}

// NameModel returns the name model with id, or nil.
func (s *Set) NameModel(id string) *NameModel {
	for _, m := range s.Names {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Rule returns the rule with id, or nil.
func (s *Set) Rule(id string) *Rule { return s.byID[id] }

// PairFor returns the pairs that use rule id as identifier or secret.
func (s *Set) PairFor(id string) []*Pair {
	var out []*Pair
	for _, p := range s.Pairs {
		if p.Identifier == id {
			out = append(out, p)
			continue
		}
		for _, sid := range p.Secrets {
			if sid == id {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// NewSet builds a Set from already compiled parts (used to run one rule on
// its own, and by tests). It does not re-validate.
func NewSet(rs []*Rule, pairs []*Pair, allow Allowlist, markers []*regexp.Regexp, names []*NameModel) *Set {
	s := &Set{Rules: rs, Pairs: pairs, Allowlist: allow, TestMarkers: markers, Names: names, byID: map[string]*Rule{}}
	for _, r := range rs {
		s.byID[r.ID] = r
	}
	return s
}
