package rules

import (
	"strings"
	"testing"
)

func TestPublishedExamples(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Published) == 0 {
		t.Fatal("the default rules list no published example credentials")
	}
	g := NewGenerator(3)
	v, err := g.Expand("{{token}}")
	if err != nil {
		t.Fatal(err)
	}
	if def.IsPublishedExample(v) || def.IsPublishedExample("") {
		t.Error("a generated token is a published example")
	}
	// an extension adds to the list; a value's fingerprint never depends
	// on a rule or an identifier
	ext, err := Parse("ext.toml", []byte("[published_examples]\nfingerprints = [\""+ExampleFingerprint(v)+"\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(def, ext)
	if err != nil {
		t.Fatal(err)
	}
	if !merged.IsPublishedExample(v) || len(merged.Published) != len(def.Published)+1 {
		t.Errorf("merged list: %d entries, value listed %v", len(merged.Published), merged.IsPublishedExample(v))
	}
	// a value listed by mistake is refused, without quoting it
	_, err = Parse("bad.toml", []byte("\n[published_examples]\nfingerprints = [\""+v+"\"]\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.toml:3: published_examples: a fingerprint is not 64") || strings.Contains(err.Error(), v) {
		t.Errorf("a value in the list: %v", err)
	}
}
