package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// This file holds the published example credentials: values Twilio itself
// publishes as examples (its SDKs' test suites, its API reference), which
// are copied into countless projects' tests and are known not to be live.
// A rules file lists them under [published_examples] as fingerprints only
// (ExampleFingerprint), never as values.

// ExampleFingerprint is the fingerprint of a published example secret:
// SHA-256 of a domain prefix and the secret, in hex. It depends on the
// secret alone — not on the rule that found it, nor on the identifier it
// was paired with — so that the list holds whichever way a scan finds the
// value (paired, unpaired, under any rule). It is unkeyed on purpose: the
// values are public, and a keyed hash could not be listed in rules.toml.
func ExampleFingerprint(secret string) string {
	h := sha256.Sum256([]byte("leakstop-published-example-v1\x00" + secret))
	return hex.EncodeToString(h[:])
}

// IsPublishedExample reports whether secret is one of the set's published
// example credentials.
func (s *Set) IsPublishedExample(secret string) bool {
	if len(s.Published) == 0 || secret == "" {
		return false
	}
	return s.Published[ExampleFingerprint(secret)]
}

var exampleFingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

type rawPublished struct {
	// Fingerprints are ExampleFingerprint values.
	Fingerprints []string `toml:"fingerprints"`
}

// published checks and collects a file's published example fingerprints.
func (c *compiler) published(rp rawPublished) map[string]bool {
	if len(rp.Fingerprints) == 0 {
		return nil
	}
	out := map[string]bool{}
	line := c.pos.Key("published_examples", 0, "fingerprints")
	for _, fp := range rp.Fingerprints {
		if !exampleFingerprintRE.MatchString(fp) {
			// Never quote it: it may be a value pasted in by mistake.
			c.errf(line, "", "published_examples: a fingerprint is not 64 lower-case hex digits (list fingerprints, never values)")
			continue
		}
		out[fp] = true
	}
	return out
}

// mergePublished is the union of two fingerprint sets.
func mergePublished(a, b map[string]bool) map[string]bool {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
