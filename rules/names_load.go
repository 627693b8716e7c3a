package rules

import (
	"fmt"
	"slices"
	"strings"
)

// names compiles one [[names]] table. Word patterns are anchored: a
// single-word pattern matches a whole word, a sequence pattern (words
// joined by "_") whole words of the name.
func (c *compiler) names(rn rawNames, i int) *NameModel {
	line := c.pos.headerLine("names", i)
	fieldLine := func(key string) int { return c.pos.fieldLine("names", i, key) }
	if rn.ID == "" {
		c.errf(line, fmt.Sprintf("names #%d", i+1), "missing id")
		return nil
	}
	if !idPattern.MatchString(rn.ID) {
		c.errf(line, rn.ID, "id must be lower-case letters, digits, '.', '_' or '-'")
	}
	m := &NameModel{ID: rn.ID, Description: rn.Description, Source: Pos{File: c.name, Line: line}, Examples: map[NameClass][]string{}}
	words := func(key string, list []string, seq, whole bool) []*NameModelPattern {
		return c.namePatterns(rn.ID, fieldLine(key), key, list, seq, whole)
	}
	m.Owner = compiledOf(words("owner", rn.Owner, false, false))
	m.Secret = compiledOf(words("secret", rn.Secret, false, false))
	m.Context = compiledOf(words("context", rn.Context, false, false))
	m.Other = compiledOf(words("other", rn.Other, true, false))
	m.Foreign = compiledOf(words("foreign", rn.Foreign, true, true))
	if len(m.Owner) == 0 {
		c.errf(line, rn.ID, "a name model needs owner words")
	}
	if len(m.Secret) == 0 {
		c.errf(line, rn.ID, "a name model needs secret words")
	}
	m.Examples[NameOwner] = rn.OwnerExamples
	m.Examples[NameFits] = rn.FitsExamples
	m.Examples[NameOther] = rn.OtherExamples
	m.Examples[NameNone] = rn.NoneExamples
	if len(rn.OwnerExamples) == 0 || len(rn.OtherExamples) == 0 {
		c.errf(line, rn.ID, "a name model needs owner_examples and other_examples")
	}
	return m
}

// NameModelPattern is one word pattern as written, compiled.
type NameModelPattern struct {
	Text string
	re   matcher
}

func (c *compiler) namePatterns(id string, line int, key string, list []string, seq, whole bool) []*NameModelPattern {
	var out []*NameModelPattern
	for _, p := range list {
		if strings.TrimSpace(p) == "" {
			c.errf(line, id, "empty %s pattern", key)
			continue
		}
		if p != strings.ToLower(p) && !strings.Contains(p, `\`) {
			c.errf(line, id, "%s pattern %q: names are matched in lower case", key, p)
			continue
		}
		if !seq && strings.Contains(p, "_") {
			c.errf(line, id, "%s pattern %q: one word, no '_' (names are split into words at '_')", key, p)
			continue
		}
		expr := "^(?:" + p + ")$"
		switch {
		case whole:
			expr = "^_(?:" + p + ")_$"
		case seq:
			expr = "_(?:" + p + ")_"
		}
		if re := c.regex(expr, id, line, key+" pattern"); re != nil {
			out = append(out, &NameModelPattern{Text: p, re: re})
		}
	}
	return out
}

func compiledOf(ps []*NameModelPattern) []matcher {
	out := make([]matcher, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.re)
	}
	return out
}

// mergeNames returns base's models with ext's added: a model with the id
// of one in base extends it (its words and examples are added).
func mergeNames(base, ext []*NameModel) []*NameModel {
	out := make([]*NameModel, 0, len(base)+len(ext))
	for _, m := range base {
		cp := *m
		cp.Examples = map[NameClass][]string{}
		for k, v := range m.Examples {
			cp.Examples[k] = slices.Clone(v)
		}
		out = append(out, &cp)
	}
	for _, e := range ext {
		var have *NameModel
		for _, m := range out {
			if m.ID == e.ID {
				have = m
			}
		}
		if have == nil {
			out = append(out, e)
			continue
		}
		have.Owner = append(slices.Clip(have.Owner), e.Owner...)
		have.Secret = append(slices.Clip(have.Secret), e.Secret...)
		have.Context = append(slices.Clip(have.Context), e.Context...)
		have.Other = append(slices.Clip(have.Other), e.Other...)
		have.Foreign = append(slices.Clip(have.Foreign), e.Foreign...)
		for k, v := range e.Examples {
			have.Examples[k] = append(have.Examples[k], v...)
		}
	}
	return out
}
