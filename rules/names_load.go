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
	line := c.pos.Table("names", i)
	fieldLine := func(key string) int { return c.pos.Key("names", i, key) }
	if rn.ID == "" {
		c.errf(line, fmt.Sprintf("names #%d", i+1), "missing id")
		return nil
	}
	if !idPattern.MatchString(rn.ID) {
		c.errf(line, rn.ID, "id must be lower-case letters, digits, '.', '_' or '-'")
	}
	m := &NameModel{ID: rn.ID, Description: rn.Description, Source: Pos{File: c.name, Line: line}}
	words := func(key string, list []string, seq, whole bool) []*namePattern {
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
	for _, ex := range []struct {
		class NameClass
		key   string
		names []string
	}{
		{NameOwner, "owner_examples", rn.OwnerExamples}, {NameFits, "fits_examples", rn.FitsExamples},
		{NameOther, "other_examples", rn.OtherExamples}, {NameNone, "none_examples", rn.NoneExamples},
	} {
		src := Pos{File: c.name, Line: fieldLine(ex.key)}
		for _, n := range ex.names {
			m.Examples = append(m.Examples, NameExample{Name: n, Class: ex.class, Source: src})
		}
	}
	slices.SortStableFunc(m.Examples, func(a, b NameExample) int { return int(a.Class) - int(b.Class) })
	if len(rn.OwnerExamples) == 0 || len(rn.OtherExamples) == 0 {
		c.errf(line, rn.ID, "a name model needs owner_examples and other_examples")
	}
	return m
}

// namePattern is one word pattern as written, compiled.
type namePattern struct {
	Text string
	re   matcher
}

func (c *compiler) namePatterns(id string, line int, key string, list []string, seq, whole bool) []*namePattern {
	var out []*namePattern
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
			out = append(out, &namePattern{Text: p, re: re})
		}
	}
	return out
}

func compiledOf(ps []*namePattern) []matcher {
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
		cp.Examples = slices.Clone(m.Examples)
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
		have.Examples = append(have.Examples, e.Examples...)
	}
	return out
}
