package policy

import (
	"fmt"
	"os"

	"github.com/leakstop/leakstop/rules"
)

// RulesFile is a repository's own rules file: when it is at the top of
// the scanned tree (for a proposal: in its base commit), its rules are
// added to those in use, as --rules-extend adds a file's, unless an
// explicit extension (--rules-extend, the Action's rules input) takes its
// place. "leakstop scan", the pre-commit hook and the GitHub Action all
// read it.
const RulesFile = ".leakstop.toml"

// RulesSource is a rules file's content and the name it goes by in
// messages.
type RulesSource struct {
	Name string
	Data []byte
}

// ReadRules reads the rules file at path.
func ReadRules(path string) (*RulesSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return &RulesSource{Name: path, Data: data}, nil
}

// ResolveRules builds the rule set: the embedded defaults, or replace
// (added to the defaults when it says [extend] default = true), then each
// of extend in turn on top. A nil source is skipped.
func ResolveRules(replace *RulesSource, extend ...*RulesSource) (*rules.Set, error) {
	set, err := rules.Default()
	if err != nil {
		return nil, err
	}
	if replace != nil {
		f, err := rules.Parse(replace.Name, replace.Data)
		if err != nil {
			return nil, err
		}
		if f.ExtendDefault {
			if set, err = rules.Merge(set, f); err != nil {
				return nil, err
			}
		} else {
			set = f.Set
		}
	}
	for _, e := range extend {
		if e == nil {
			continue
		}
		f, err := rules.Parse(e.Name, e.Data)
		if err != nil {
			return nil, err
		}
		if set, err = rules.Merge(set, f); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// LoadRules is ResolveRules of files: rulesPath replaces the defaults
// (see ResolveRules), extendPath is added; "" is none.
func LoadRules(rulesPath, extendPath string) (*rules.Set, error) {
	var replace, extend *RulesSource
	var err error
	if rulesPath != "" {
		if replace, err = ReadRules(rulesPath); err != nil {
			return nil, err
		}
	}
	if extendPath != "" {
		if extend, err = ReadRules(extendPath); err != nil {
			return nil, err
		}
	}
	return ResolveRules(replace, extend)
}
