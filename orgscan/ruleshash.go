package orgscan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// RulesHash is a RepoScanner.RulesHash: a hash of everything that
// decides a blob's hits — the rules files' contents in the order they
// apply (the embedded default, leakstop.DefaultRules, when it applies),
// leakstop's version (a new detector may find more), and the detector
// options that change hits, as "name=value" strings. Any change makes
// every repository a full rescan and starts a new known-clean set.
func RulesHash(version string, rulesFiles [][]byte, options ...string) string {
	h := sha256.New()
	h.Write([]byte("leakstop-org-rules-v1\x00"))
	h.Write([]byte(version))
	for _, f := range rulesFiles {
		fmt.Fprintf(h, "\x00file %d\x00", len(f))
		h.Write(f)
	}
	opts := slices.Clone(options)
	slices.Sort(opts)
	for _, o := range opts {
		fmt.Fprintf(h, "\x00option %d\x00%s", len(o), o)
	}
	return hex.EncodeToString(h.Sum(nil))
}
