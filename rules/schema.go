package rules

// This file holds stage one of loading: the raw shape of a rules file as
// TOML decodes it, before anything is checked.

type rawFile struct {
	Version   int          `toml:"version"`
	Extend    rawExtend    `toml:"extend"`
	Allowlist rawAllowlist `toml:"allowlist"`
	TestCreds rawTestCreds `toml:"test_credentials"`
	Names     []rawNames   `toml:"names"`
	Rules     []rawRule    `toml:"rules"`
	Pairs     []rawPair    `toml:"pairs"`
	Published rawPublished `toml:"published_examples"`
}

type rawExtend struct {
	// Default, when true, adds this file's rules to the embedded defaults
	// instead of replacing them.
	Default bool `toml:"default"`
	// Disabled lists rule or pair ids of the base set to drop.
	Disabled []string `toml:"disabled"`
}

type rawAllowlist struct {
	Description string   `toml:"description"`
	Regexes     []string `toml:"regexes"`
	Stopwords   []string `toml:"stopwords"`
	Paths       []string `toml:"paths"`
}

type rawTestCreds struct {
	// Markers are regexes; a credential whose lines or file match one is
	// labelled a Twilio test credential.
	Markers []string `toml:"markers"`
}

type rawRule struct {
	ID              string       `toml:"id"`
	Description     string       `toml:"description"`
	Kind            string       `toml:"kind"`
	Regex           string       `toml:"regex"`
	Keywords        []string     `toml:"keywords"`
	Entropy         float64      `toml:"entropy"`
	Near            string       `toml:"near"`
	Boundary        *bool        `toml:"boundary"`
	Names           string       `toml:"names"`
	ReportUnpaired  bool         `toml:"report_unpaired"`
	Allowlist       rawAllowlist `toml:"allowlist"`
	Examples        []string     `toml:"examples"`
	CounterExamples []string     `toml:"counter_examples"`
}

type rawPair struct {
	ID              string   `toml:"id"`
	Description     string   `toml:"description"`
	Credential      string   `toml:"credential"`
	Identifier      string   `toml:"identifier"`
	Secrets         []string `toml:"secrets"`
	Window          int      `toml:"window"`
	CrossFile       *bool    `toml:"cross_file"`
	Examples        []string `toml:"examples"`
	CounterExamples []string `toml:"counter_examples"`
}

// rawNames is a name model: lists of word patterns, and names with the
// class each must get.
type rawNames struct {
	ID            string   `toml:"id"`
	Description   string   `toml:"description"`
	Owner         []string `toml:"owner"`
	Secret        []string `toml:"secret"`
	Context       []string `toml:"context"`
	Other         []string `toml:"other"`
	Foreign       []string `toml:"foreign"`
	OwnerExamples []string `toml:"owner_examples"`
	FitsExamples  []string `toml:"fits_examples"`
	OtherExamples []string `toml:"other_examples"`
	NoneExamples  []string `toml:"none_examples"`
}
