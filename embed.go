// Package leakstop holds what the whole module shares at its root: the
// default rules file, embedded in every binary.
package leakstop

import _ "embed"

// DefaultRules is the content of rules.toml at the repository root: the
// rules leakstop uses when no --rules file replaces them.
//
//go:embed rules.toml
var DefaultRules []byte

// DefaultRulesName is how errors in the embedded rules name the file.
const DefaultRulesName = "rules.toml (embedded)"
