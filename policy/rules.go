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

// ReadRules reads the rules file at path; anything but a regular file is
// refused before it is opened (see CheckRegular).
func ReadRules(path string) (*RulesSource, error) {
	if err := CheckRegular("rules file", path); err != nil {
		return nil, err
	}
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
	from := ""
	if replace != nil {
		from = replace.Name
		f, err := rules.Parse(replace.Name, replace.Data)
		if err != nil {
			return nil, err
		}
		if !f.ExtendDefault && len(f.Disabled) > 0 {
			return nil, &rules.Error{File: replace.Name, Line: f.DisabledLine, Rule: f.Disabled[0],
				Msg: "disabled, but this file replaces the default rules (add default = true to [extend] to build on them)"}
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
		from = e.Name
		f, err := rules.Parse(e.Name, e.Data)
		if err != nil {
			return nil, err
		}
		if set, err = rules.Merge(set, f); err != nil {
			return nil, err
		}
	}
	if len(set.Rules) == 0 {
		return nil, &NoRulesError{File: from}
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

// NoRulesError is a rule set with no rules: a scan with it would find
// nothing and pass, so it is refused.
type NoRulesError struct {
	// File is the rules file that left no rules.
	File string
}

func (e *NoRulesError) Error() string {
	return fmt.Sprintf("%s: no rules: a scan with zero rules finds nothing (give at least one [[rules]], or [extend] default = true)", e.File)
}

// NotRegularError is an input file that is not a regular file (a FIFO, a
// device, a directory, a socket): refused before it is opened, since
// opening a FIFO blocks until someone writes to it.
type NotRegularError struct {
	What, Path string
	Mode       os.FileMode
}

func (e *NotRegularError) Error() string {
	kind := "not a regular file"
	switch {
	case e.Mode&os.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case e.Mode.IsDir():
		kind = "a directory"
	case e.Mode&os.ModeDevice != 0:
		kind = "a device"
	case e.Mode&os.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Sprintf("%s %s is %s, not a regular file", e.What, e.Path, kind)
}

// CheckRegular returns an error unless path is a regular file (or a
// symbolic link to one), without opening it; what names the input
// ("rules file", "baseline"). A missing file is an error wrapping
// fs.ErrNotExist.
func CheckRegular(what, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return &NotRegularError{What: what, Path: path, Mode: st.Mode()}
	}
	return nil
}
