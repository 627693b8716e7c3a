package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/scanner"
)

// SARIF 2.1.0 as GitHub code scanning accepts it.
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	srcRoot      = "%SRCROOT%"
	// Partial fingerprint keys. The finding key is the credential's
	// content fingerprint: the same wherever and whenever it is found.
	// The location key adds the file (not the line or commit), so that
	// one credential in two files is two alerts, each stable when lines
	// move.
	fingerprintKey         = "leakstopFingerprint/v1"
	locationFingerprintKey = "leakstopLocation/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	Invocations        []sarifInvocation           `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	ColumnKind         string                      `json:"columnKind"`
	Properties         map[string]any              `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name            string      `json:"name"`
	InformationURI  string      `json:"informationUri"`
	Version         string      `json:"version,omitempty"`
	SemanticVersion string      `json:"semanticVersion,omitempty"`
	Rules           []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	ShortDescription     sarifText          `json:"shortDescription"`
	FullDescription      sarifText          `json:"fullDescription"`
	Help                 sarifMultiText     `json:"help"`
	HelpURI              string             `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
	Properties           sarifRuleProps     `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifMultiText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags []string `json:"tags"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	ID               *int                  `json:"id,omitempty"`
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
	Message          *sarifText            `json:"message,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           sarifRegion      `json:"region"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
	// ByteOffset and ByteLength locate a secret in binary content.
	ByteOffset *int64 `json:"byteOffset,omitempty"`
	ByteLength int    `json:"byteLength,omitempty"`
}

func writeSARIF(w io.Writer, r Report, o Options) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:            ToolName,
			InformationURI:  InformationURI,
			Version:         SemVer(o.ToolVersion),
			SemanticVersion: SemVer(o.ToolVersion),
			Rules:           []sarifRule{},
		}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Results:     []sarifResult{},
		// leakstop counts columns in bytes, which SARIF cannot say; for the
		// ASCII lines credentials stand on, code points are the same.
		ColumnKind: "unicodeCodePoints",
	}
	for _, n := range r.Notes {
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications,
			sarifNotification{Level: "note", Message: sarifText{Text: n}})
	}
	if base := rootURI(o.Root); base != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{srcRoot: {URI: base}}
	}
	if r.Target != "" || o.Root != "" {
		run.Properties = map[string]any{"target": r.Target, "root": o.Root}
	}
	ruleIndex := map[string]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		idx, ok := ruleIndex[f.RuleID]
		if !ok {
			idx = len(run.Tool.Driver.Rules)
			ruleIndex[f.RuleID] = idx
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(f))
		}
		seen := map[string]int{}
		for j := range f.Locations {
			run.Results = append(run.Results, sarifResultFor(f, &f.Locations[j], idx, seen, o))
		}
	}
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifRuleFor(f *scanner.Finding) sarifRule {
	l := labelsFor(f)
	short := f.Description
	if short == "" {
		short = "Leaked " + l.credential
	}
	full := fmt.Sprintf("A leaked %s: the %s with its %s. Anyone who reads it can use the Twilio account — send messages and place calls at its expense, and read its data — until the credential is rotated.", l.credential, l.secret, l.identifier)
	if k := f.Credential; k != credential.AuthToken && k != credential.APIKey {
		full = fmt.Sprintf("A leaked %s. Anyone who reads it can use it until it is rotated.", l.credential)
	}
	if f.Identifier == "" {
		full = fmt.Sprintf("A leaked %s, found without its %s. The %s is not secret and is easy to find — often in the same project — so treat the %s as exposed until it is rotated.", l.secret, l.identifier, l.identifier, l.secret)
	}
	rotate, rotateMD := rotationHelp(f.Credential)
	allow := fmt.Sprintf("If the value is not a live credential (a fixture, or Twilio test credentials), allow it: add the fingerprint from the alert to %s at the repository root, with a comment saying why:", IgnoreFileName)
	ignoreLine := "FINGERPRINT  # test fixture, not a live credential"
	text := full + "\n\nHow to fix: " + rotate + "\n\n" + allow + "\n\n    " + ignoreLine + "\n"
	md := "**" + full + "**\n\n### How to fix\n\n" + rotateMD + "\n\n### How to allow\n\n" + allow + "\n\n```\n" + ignoreLine + "\n```\n"
	return sarifRule{
		ID:                   f.RuleID,
		Name:                 ruleName(f.RuleID),
		ShortDescription:     sarifText{Text: short},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifMultiText{Text: text, Markdown: md},
		HelpURI:              InformationURI,
		DefaultConfiguration: sarifConfiguration{Level: "error"},
		Properties:           sarifRuleProps{Tags: []string{"security", "secret"}},
	}
}

// rotationHelp says how to cut off a leaked credential, as text and
// markdown. Deleting the file is never enough: git history and clones keep
// the secret.
func rotationHelp(kind credential.Kind) (text, markdown string) {
	const history = "Removing the secret from the file is not enough: it stays in git history, forks and clones."
	switch kind {
	case credential.AuthToken:
		steps := []string{
			"In the Twilio Console, open Account > API keys & tokens and request a secondary Auth Token.",
			"Deploy the secondary token everywhere the account's Auth Token is used.",
			"Promote the secondary token to primary: this revokes the leaked token at once.",
			"Check the account's usage and logs for activity you do not recognise.",
		}
		return strings.Join(steps, " ") + " " + history, numbered(steps) + "\n\n" + history
	case credential.APIKey:
		steps := []string{
			"In the Twilio Console, open Account > API keys & tokens and create a new API key.",
			"Deploy the new key SID and secret everywhere the leaked key is used.",
			"Delete the leaked API key: this revokes its secret at once.",
			"Check the account's usage and logs for activity you do not recognise.",
		}
		return strings.Join(steps, " ") + " " + history, numbered(steps) + "\n\n" + history
	}
	steps := []string{
		"Rotate the credential in the Twilio Console and deploy the new one.",
		"Revoke the leaked one.",
	}
	return strings.Join(steps, " ") + " " + history, numbered(steps) + "\n\n" + history
}

func numbered(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%d. %s", i+1, s)
	}
	return b.String()
}

// ruleName turns "twilio-auth-token" into "TwilioAuthToken".
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ' ' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func sarifResultFor(f *scanner.Finding, loc *scanner.Location, ruleIdx int, seen map[string]int, o Options) sarifResult {
	l := labelsFor(f)
	level := o.level(f)
	remark := o.Remarks[f.Fingerprint].Text
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s: %s %s", l.credential, l.secret, f.Secret.String())
	if f.Identifier != "" {
		fmt.Fprintf(&msg, " for %s %s", l.identifier, f.Identifier)
	} else {
		fmt.Fprintf(&msg, " (no %s found with it)", l.identifier)
	}
	if loc.Encoding != "" {
		fmt.Fprintf(&msg, ", %s-encoded", loc.Encoding)
	}
	fmt.Fprintf(&msg, ". Confidence %s.", f.Confidence)
	if f.IsTestCredential() {
		msg.WriteString(" Twilio test credentials: a note, not a failure.")
	}
	if v := verificationText(f); v != "" {
		fmt.Fprintf(&msg, " Twilio verification: %s.", v)
	}
	if c := loc.Commit; c != nil {
		fmt.Fprintf(&msg, " Committed in %s (%s).", shortHash(c.Hash), tipText(c))
	}
	if remark != "" {
		fmt.Fprintf(&msg, " %s.", capitalize(remark))
	}
	fmt.Fprintf(&msg, " Fingerprint %s.", f.Fingerprint)

	// The ordinal tells apart two places of one credential in one file
	// without using their lines.
	key := loc.Path + "\x00" + loc.Encoding
	ordinal := seen[key]
	seen[key]++
	res := sarifResult{
		RuleID:    f.RuleID,
		RuleIndex: ruleIdx,
		Level:     level,
		Message:   sarifText{Text: msg.String()},
		Locations: []sarifLocation{{PhysicalLocation: physicalLocation(loc.Path, loc.Line, max(loc.Column, 1), loc.EndColumn)}},
		PartialFingerprints: map[string]string{
			fingerprintKey:         f.Fingerprint,
			locationFingerprintKey: locationFingerprint(f.Fingerprint, loc.Path, loc.Encoding, ordinal),
		},
		Properties: map[string]any{
			"credential": f.Credential,
			"confidence": f.Confidence.String(),
			"test":       f.Test,
		},
	}
	if loc.State != "" {
		res.Properties["state"] = loc.State
	}
	if loc.Binary {
		off := loc.Offset
		res.Properties["binary"] = true
		res.Properties["byteOffset"] = off
		res.Locations[0].PhysicalLocation.Region.ByteOffset = &off
		res.Locations[0].PhysicalLocation.Region.ByteLength = max(loc.EndColumn-loc.Column, 1)
	}
	if loc.Encoding != "" {
		res.Properties["encoding"] = loc.Encoding
	}
	if remark != "" {
		res.Properties["remark"] = remark
	}
	if f.Verification != "" {
		res.Properties["verification"] = f.Verification
		if !f.VerifiedAt.IsZero() {
			res.Properties["verifiedAt"] = f.VerifiedAt.UTC().Format(time.RFC3339)
		}
	}
	if loc.IdentifierPath != "" && loc.IdentifierLine > 0 {
		id := 1
		res.RelatedLocations = []sarifLocation{{
			ID:               &id,
			PhysicalLocation: physicalLocation(loc.IdentifierPath, loc.IdentifierLine, 0, 0),
			Message:          &sarifText{Text: l.identifier + " " + f.Identifier},
		}}
	}
	if c := loc.Commit; c != nil {
		res.Properties["commit"] = c.Hash
		res.Properties["commitAuthor"] = c.Author
		res.Properties["commitDate"] = c.Date
		res.Properties["commitSummary"] = c.Summary
		res.Properties["atTips"] = append([]string{}, c.AtTips...)
		res.Properties["historyOnly"] = len(c.AtTips) == 0
		if loc.Blob != "" {
			res.Properties["blob"] = loc.Blob
		}
	}
	return res
}

func locationFingerprint(fp, path, encoding string, ordinal int) string {
	h := sha256.New()
	h.Write([]byte("leakstop-location-v1\x00"))
	for _, s := range []string{fp, path, encoding, strconv.Itoa(ordinal)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	// 40 digits, not 32: a 32-digit hex run next to a SID in a committed
	// SARIF file would look like an Auth Token to leakstop itself.
	return hex.EncodeToString(h.Sum(nil)[:20])
}

// physicalLocation builds a SARIF location that code scanning accepts:
// lines and columns are at least 1, and the region is never empty. A
// column of 0 (unknown, as for an identifier's place) leaves the columns
// out: the region is the whole line.
func physicalLocation(path string, line, col, endCol int) sarifPhysicalLocation {
	uri, base := artifactURI(path)
	reg := sarifRegion{StartLine: max(line, 1)}
	if col > 0 {
		reg.StartColumn = col
		reg.EndColumn = max(endCol, col+1)
	}
	return sarifPhysicalLocation{
		ArtifactLocation: sarifArtifactLoc{URI: uri, URIBaseID: base},
		Region:           reg,
	}
}

// artifactURI turns a location path into a URI reference: relative paths
// (the usual case) are relative to %SRCROOT%; absolute ones (a single file
// named on the command line) become file: URIs.
func artifactURI(p string) (uri, base string) {
	if p == "" {
		return "unknown", srcRoot
	}
	if abs := absoluteSlashPath(p); abs != "" {
		return "file://" + escapePath(abs, true), ""
	}
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	return escapePath(p, false), srcRoot
}

// absoluteSlashPath returns p as a slash path with a leading slash if it is
// absolute ("/etc/x", "C:/x" → "/C:/x"), else "".
func absoluteSlashPath(p string) string {
	switch {
	case strings.HasPrefix(p, "/"):
		return p
	case len(p) >= 3 && p[1] == ':' && (p[2] == '/' || p[2] == '\\') && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z'):
		return "/" + strings.ReplaceAll(p, `\`, "/")
	}
	return ""
}

// escapePath percent-encodes every byte of a slash path but unreserved
// characters (RFC 3986) and the slashes, so the result is a valid
// relative reference whatever the file name holds: no scheme (a colon in
// the first segment), query, fragment, space or control character.
// Colons are kept in absolute paths (a drive letter: /C:/src).
func escapePath(p string, absolute bool) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/', c == ':' && absolute:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

// rootURI is the file: URI of the directory that relative paths start
// from, ending in a slash as SARIF requires of a base URI: the scan root
// when it is a directory, the working directory when it is a single file
// (whose path is as named on the command line); "" for stdin or when
// there is no root.
func rootURI(root string) string {
	if root == "" || root == "-" {
		return ""
	}
	info, err := os.Stat(root)
	if err != nil {
		return ""
	}
	if !info.IsDir() {
		root = "."
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return ""
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/src → /C:/src
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return "file://" + escapePath(p, true)
}

var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// SemVer returns v as SemVer 2.0: "v1.2.3" → "1.2.3"; a version that
// is not one ("dev", "(devel)", a commit) becomes a pre-release of 0.0.0
// ("0.0.0-dev"), so that driver.version is always a semantic version.
func SemVer(v string) string {
	v = strings.TrimPrefix(v, "v")
	if semverRE.MatchString(v) {
		return v
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	pre := strings.Trim(b.String(), ".")
	for strings.Contains(pre, "..") {
		pre = strings.ReplaceAll(pre, "..", ".")
	}
	// A numeric identifier must not have a leading zero: prefix each.
	parts := strings.Split(pre, ".")
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") == "" {
			parts[i] = "x" + p
		}
	}
	out := "0.0.0-" + strings.Join(parts, ".")
	if pre == "" || !semverRE.MatchString(out) {
		return "0.0.0-unknown"
	}
	return out
}
