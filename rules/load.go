package rules

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/leakstop/leakstop"
	"github.com/leakstop/leakstop/internal/tomlpos"
)

// Error is one problem in a rules file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Rule string // rule or pair id, "" when the problem is not in one
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File is one parsed rules file.
type File struct {
	Set *Set
	// ExtendDefault is true when the file asks to be added to the defaults.
	ExtendDefault bool
	// Disabled lists ids of the base set this file removes.
	Disabled []string
	// Name is the file's name in messages; DisabledLine is the line of
	// its disabled key (0: unknown).
	Name         string
	DisabledLine int
}

// Default compiles the embedded default rules.
func Default() (*Set, error) {
	f, err := Parse(leakstop.DefaultRulesName, leakstop.DefaultRules)
	if err != nil {
		return nil, err
	}
	return f.Set, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// maxRegexLen bounds user regexes; RE2 runs in linear time but compiling a
// huge program still costs memory.
const maxRegexLen = 4096

// Parse decodes and compiles the rules file data, named name in messages.
// All problems found are returned together (errors.Join of *Error).
func Parse(name string, data []byte) (*File, error) {
	var raw rawFile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Msg: "invalid TOML: " + pe.Message}
		}
		return nil, &Error{File: name, Msg: "invalid rules file: " + err.Error()}
	}
	pos := tomlpos.New(data)
	c := compiler{name: name, pos: pos}
	for _, k := range md.Undecoded() {
		key := k.String()
		c.errf(c.pos.Anywhere(k[len(k)-1]), "", "unknown key %q", key)
	}
	if raw.Version != 0 && raw.Version != 1 {
		c.errf(pos.Anywhere("version"), "", "unsupported version %d (this leakstop reads version 1)", raw.Version)
	}
	set := &Set{byID: map[string]*Rule{}}
	set.Allowlist = c.allowlist(raw.Allowlist, "", pos.Table("allowlist", 0))
	set.Published = c.published(raw.Published)
	for _, m := range raw.TestCreds.Markers {
		if re := c.regex(m, "", pos.Table("test_credentials", 0), "test_credentials marker"); re != nil {
			set.TestMarkers = append(set.TestMarkers, re)
		}
	}
	for i, rn := range raw.Names {
		if m := c.names(rn, i); m != nil {
			if set.NameModel(m.ID) != nil {
				c.errf(m.Source.Line, m.ID, "duplicate name model id")
				continue
			}
			set.Names = append(set.Names, m)
		}
	}
	for i, rr := range raw.Rules {
		if r := c.rule(rr, i); r != nil {
			if _, dup := set.byID[r.ID]; dup {
				c.errf(r.Source.Line, r.ID, "duplicate rule id")
				continue
			}
			set.byID[r.ID] = r
			set.Rules = append(set.Rules, r)
		}
	}
	for i, rp := range raw.Pairs {
		if p := c.pair(rp, i); p != nil {
			set.Pairs = append(set.Pairs, p)
		}
	}
	if len(c.errs) == 0 {
		c.link(set)
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return &File{Set: set, ExtendDefault: raw.Extend.Default, Disabled: raw.Extend.Disabled,
		Name: name, DisabledLine: pos.Key("extend", 0, "disabled")}, nil
}

// Merge returns base with ext's rules added: a rule or pair with the id of
// one in base replaces it; ids listed in disabled are dropped from base.
// Disabling an id base does not have is an error (*Error, naming the
// file, the line and the id): a misspelt id would leave on a rule its
// author means to be off, or hide that the base changed.
func Merge(base *Set, ext *File) (*Set, error) {
	drop := map[string]bool{}
	var unknown []error
	for _, id := range ext.Disabled {
		if !base.has(id) {
			unknown = append(unknown, &Error{File: ext.Name, Line: ext.DisabledLine, Rule: id,
				Msg: "disabled, but the rules it extends have no rule or pair with this id"})
		}
		drop[id] = true
	}
	if len(unknown) > 0 {
		return nil, errors.Join(unknown...)
	}
	out := &Set{byID: map[string]*Rule{}}
	over := map[string]bool{}
	for _, r := range ext.Set.Rules {
		over[r.ID] = true
	}
	for _, r := range base.Rules {
		if !drop[r.ID] && !over[r.ID] {
			out.Rules = append(out.Rules, r)
		}
	}
	out.Rules = append(out.Rules, ext.Set.Rules...)
	overP := map[string]bool{}
	for _, p := range ext.Set.Pairs {
		overP[p.ID] = true
	}
	for _, p := range base.Pairs {
		if !drop[p.ID] && !overP[p.ID] {
			out.Pairs = append(out.Pairs, p)
		}
	}
	out.Pairs = append(out.Pairs, ext.Set.Pairs...)
	// A near rule exists only for its pair: disabling the pair drops it.
	kept := out.Rules[:0]
	for _, r := range out.Rules {
		if r.Near != "" && !drop[r.ID] && len(out.PairFor(r.ID)) == 0 && !over[r.ID] {
			continue
		}
		kept = append(kept, r)
	}
	out.Rules = kept
	for _, r := range out.Rules {
		out.byID[r.ID] = r
	}
	out.Allowlist = Allowlist{
		Regexes:   append(append([]*regexp.Regexp{}, base.Allowlist.Regexes...), ext.Set.Allowlist.Regexes...),
		Stopwords: append(append([]string{}, base.Allowlist.Stopwords...), ext.Set.Allowlist.Stopwords...),
		Paths:     append(append([]*regexp.Regexp{}, base.Allowlist.Paths...), ext.Set.Allowlist.Paths...),
	}
	out.TestMarkers = append(append([]*regexp.Regexp{}, base.TestMarkers...), ext.Set.TestMarkers...)
	out.Names = mergeNames(base.Names, ext.Set.Names)
	out.Published = mergePublished(base.Published, ext.Set.Published)
	c := compiler{name: "merged rules"}
	c.link(out)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return out, nil
}

// has reports whether s has a rule or a pair with this id.
func (s *Set) has(id string) bool {
	if s.Rule(id) != nil {
		return true
	}
	for _, p := range s.Pairs {
		if p.ID == id {
			return true
		}
	}
	return false
}

type compiler struct {
	name string
	pos  tomlpos.Index
	errs []error
}

func (c *compiler) errf(line int, rule, format string, a ...any) {
	c.errs = append(c.errs, &Error{File: c.name, Line: line, Rule: rule, Msg: fmt.Sprintf(format, a...)})
}

// errAt reports a problem found in a rule or pair defined at pos (which may
// be in another file than the one being compiled, after a merge).
func (c *compiler) errAt(pos Pos, rule, format string, a ...any) {
	c.errs = append(c.errs, &Error{File: pos.File, Line: pos.Line, Rule: rule, Msg: fmt.Sprintf(format, a...)})
}

func (c *compiler) regex(expr, rule string, line int, what string) *regexp.Regexp {
	if len(expr) > maxRegexLen {
		c.errf(line, rule, "%s is longer than %d bytes", what, maxRegexLen)
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = string(se.Code)
		}
		c.errf(line, rule, "%s does not compile: %s", what, msg)
		return nil
	}
	return re
}

func (c *compiler) allowlist(ra rawAllowlist, rule string, line int) Allowlist {
	var a Allowlist
	for _, e := range ra.Regexes {
		if re := c.regex(e, rule, line, "allowlist regex"); re != nil {
			a.Regexes = append(a.Regexes, re)
		}
	}
	for _, e := range ra.Paths {
		if re := c.regex(e, rule, line, "allowlist path"); re != nil {
			a.Paths = append(a.Paths, re)
		}
	}
	for _, s := range ra.Stopwords {
		if s == "" {
			c.errf(line, rule, "empty stopword")
			continue
		}
		a.Stopwords = append(a.Stopwords, strings.ToLower(s))
	}
	return a
}

func (c *compiler) rule(rr rawRule, i int) *Rule {
	line := c.pos.Table("rules", i)
	fieldLine := func(key string) int { return c.pos.Key("rules", i, key) }
	id := rr.ID
	if id == "" {
		c.errf(line, fmt.Sprintf("#%d", i+1), "missing id")
		return nil
	}
	if !idPattern.MatchString(id) {
		c.errf(fieldLine("id"), id, "id must be lower-case letters, digits, '.', '_' or '-'")
	}
	r := &Rule{
		ID: id, Description: rr.Description, Kind: Kind(rr.Kind), Entropy: rr.Entropy,
		Near: rr.Near, Boundary: true, ReportUnpaired: rr.ReportUnpaired, Names: rr.Names,
		Examples: rr.Examples, Counter: rr.CounterExamples,
		Source: Pos{File: c.name, Line: line},
	}
	if rr.Boundary != nil {
		r.Boundary = *rr.Boundary
	}
	switch r.Kind {
	case Identifier, Secret:
	case "":
		c.errf(line, id, "missing kind (identifier or secret)")
	default:
		c.errf(fieldLine("kind"), id, "kind %q is not identifier or secret", rr.Kind)
	}
	if rr.Regex == "" {
		c.errf(line, id, "missing regex")
	} else if re := c.regex(rr.Regex, id, fieldLine("regex"), "regex"); re != nil {
		r.Regex = re
		r.Group = re.SubexpIndex(SecretGroup)
		if r.Group < 0 {
			c.errf(fieldLine("regex"), id, "regex has no (?P<secret>...) group")
		}
		if n, alnum := secretShape(rr.Regex); alnum && n > 0 {
			r.MinRun = n
		}
		if re.MatchString("") {
			c.errf(fieldLine("regex"), id, "regex matches the empty string")
		}
	}
	if math.IsNaN(rr.Entropy) || rr.Entropy < 0 || rr.Entropy > 8 {
		c.errf(fieldLine("entropy"), id, "entropy must be between 0 and 8 bits")
	}
	for _, k := range rr.Keywords {
		if strings.TrimSpace(k) == "" {
			c.errf(fieldLine("keywords"), id, "empty keyword")
			continue
		}
		r.Keywords = append(r.Keywords, strings.ToLower(k))
	}
	if len(r.Keywords) == 0 && r.Near == "" {
		c.errf(line, id, "needs keywords, or near = an identifier rule")
	}
	if r.Near != "" && r.Kind == Identifier {
		c.errf(fieldLine("near"), id, "near is for secret rules")
	}
	if r.Names != "" && r.Kind == Identifier {
		c.errf(fieldLine("names"), id, "names is for secret rules")
	}
	if r.ReportUnpaired && r.Kind == Identifier {
		c.errf(fieldLine("report_unpaired"), id, "report_unpaired is for secret rules")
	}
	r.Allowlist = c.allowlist(rr.Allowlist, id, line)
	if len(rr.Examples) == 0 {
		c.errf(line, id, "needs at least one example")
	}
	for _, ex := range append(append([]string{}, rr.Examples...), rr.CounterExamples...) {
		if _, err := Expand(ex, nil); err != nil {
			c.errf(line, id, "example: %v", err)
		}
	}
	return r
}

func (c *compiler) pair(rp rawPair, i int) *Pair {
	line := c.pos.Table("pairs", i)
	if rp.ID == "" {
		c.errf(line, fmt.Sprintf("pair #%d", i+1), "missing id")
		return nil
	}
	p := &Pair{
		ID: rp.ID, Description: rp.Description, Credential: credential.Kind(rp.Credential),
		Identifier: rp.Identifier, Secrets: rp.Secrets, Window: rp.Window, CrossFile: true,
		Examples: rp.Examples, Counter: rp.CounterExamples, Source: Pos{File: c.name, Line: line},
	}
	if rp.CrossFile != nil {
		p.CrossFile = *rp.CrossFile
	}
	if !idPattern.MatchString(p.ID) {
		c.errf(line, p.ID, "id must be lower-case letters, digits, '.', '_' or '-'")
	}
	if p.Credential == "" {
		c.errf(line, p.ID, "missing credential (e.g. auth-token, api-key)")
	}
	if p.Window < 0 || p.Window > 200 {
		c.errf(c.pos.Key("pairs", i, "window"), p.ID, "window must be 0..200 lines")
	}
	if p.Identifier == "" || len(p.Secrets) == 0 {
		c.errf(line, p.ID, "a pair needs identifier and secrets")
	}
	for _, ex := range append(append([]string{}, rp.Examples...), rp.CounterExamples...) {
		if _, err := Expand(ex, nil); err != nil {
			c.errf(line, p.ID, "example: %v", err)
		}
	}
	return p
}

// link checks references between rules, pairs and name models.
func (c *compiler) link(s *Set) {
	for _, r := range s.Rules {
		if r.Names != "" && s.NameModel(r.Names) == nil {
			c.errAt(r.Source, r.ID, "names = %q: no such name model", r.Names)
		}
		if r.Near == "" {
			continue
		}
		n := s.byID[r.Near]
		switch {
		case n == nil:
			c.errAt(r.Source, r.ID, "near = %q: no such rule", r.Near)
		case n.Kind != Identifier:
			c.errAt(r.Source, r.ID, "near = %q: not an identifier rule", r.Near)
		case len(s.PairFor(r.ID)) == 0:
			c.errAt(r.Source, r.ID, "a near rule must be a secret of some pair")
		}
	}
	seen := map[string]bool{}
	for _, p := range s.Pairs {
		if seen[p.ID] || s.byID[p.ID] != nil {
			c.errAt(p.Source, p.ID, "duplicate id")
		}
		seen[p.ID] = true
		if r := s.byID[p.Identifier]; r == nil {
			c.errAt(p.Source, p.ID, "identifier %q: no such rule", p.Identifier)
		} else if r.Kind != Identifier {
			c.errAt(p.Source, p.ID, "identifier %q: rule is not of kind identifier", p.Identifier)
		}
		for _, sid := range p.Secrets {
			if r := s.byID[sid]; r == nil {
				c.errAt(p.Source, p.ID, "secret %q: no such rule", sid)
			} else if r.Kind != Secret {
				c.errAt(p.Source, p.ID, "secret %q: rule is not of kind secret", sid)
			} else if r.Near != "" && r.Near != p.Identifier {
				c.errAt(p.Source, p.ID, "secret %q is near %q, not this pair's identifier", sid, r.Near)
			}
		}
	}
}
