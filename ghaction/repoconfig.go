package ghaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// repoConfig is the repository's configuration a run uses: the rules
// added to the embedded ones and the fingerprints to ignore.
//
// On a proposal (a pull request or a merge group) both come from the base
// commit, not from the checkout: the checkout holds the proposal itself,
// and a change that leaks a credential must not be able to silence its
// own finding by listing its fingerprint in .leakstopignore or by
// disabling rules in .leakstop.toml. The trust-pr-config input reads them
// from the checkout again; an explicit rules input is the workflow's
// choice and is read as it is.
type repoConfig struct {
	// rulesName names rulesData in messages; rulesData is nil when only
	// the embedded rules apply.
	rulesName string
	rulesData []byte
	// ignore is the ignore file in force (nil: none).
	ignore *report.Ignore
	// base is the commit the files came from, "" for the checkout.
	base string
	// proposed is .leakstopignore as the proposal leaves it, when base is
	// set: a finding it lists but ignore does not is still reported, with
	// a note that the entry takes effect once merged.
	proposed *report.Ignore
	// notes say what of the proposal's own configuration is not used yet.
	notes []string
}

// loadRepoConfig reads the rules and ignore files for the run; the
// commits of a proposal's scope must be in the local repository.
func loadRepoConfig(ctx context.Context, in Inputs, ws string, scope Scope, g *gitRepo,
	logf, warnf func(string, ...any)) (*repoConfig, error) {
	c := &repoConfig{}
	fromBase := scope.Proposal && !in.TrustPRConfig
	noun := scope.proposalNoun()
	switch {
	case fromBase:
		c.base = scope.Base
		logf("reading %s and %s from the base commit %s, not from the %s (input trust-pr-config: false)",
			ignoreFileName, RulesFile, short(scope.Base), noun)
	case scope.Proposal:
		logf("trust-pr-config: reading %s and %s from the checkout, as the %s leaves them", ignoreFileName, RulesFile, noun)
	}

	// Rules: the input, else the repository's conventional file.
	switch {
	case in.Rules != "":
		p := in.Rules
		if !filepath.IsAbs(p) {
			p = filepath.Join(ws, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read rules: %w", err)
		}
		c.rulesName, c.rulesData = p, data
		logf("adding the rules of %s (input rules)", relTo(ws, p))
	case fromBase:
		data, ok, err := g.fileAt(ctx, scope.Base, RulesFile)
		if err != nil {
			return nil, fmt.Errorf("read rules: %w", err)
		}
		if ok {
			c.rulesName, c.rulesData = short(scope.Base)+":"+RulesFile, data
			logf("adding the rules of %s", c.rulesName)
		}
		// Say so when the proposal's own file differs: its rules (or the
		// rules it disables) are not in force yet.
		hd, hok, err := g.fileAt(ctx, scope.Head, RulesFile)
		switch {
		case err != nil:
			warnf("the %s's %s cannot be read (%v); the base commit's is used", noun, RulesFile, err)
		case hok != ok || !bytes.Equal(hd, data):
			note := fmt.Sprintf("This %s changes %s: its rules take effect once a maintainer merges it; until then the base commit's are used.",
				noun, RulesFile)
			c.notes = append(c.notes, note)
			logf("%s", note)
		}
	default:
		p := filepath.Join(ws, RulesFile)
		data, err := os.ReadFile(p)
		switch {
		case err == nil:
			c.rulesName, c.rulesData = p, data
			logf("adding the rules of %s", relTo(ws, p))
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read rules: %w", err)
		}
	}

	// Ignores.
	if !fromBase {
		ig, err := report.LoadIgnore(filepath.Join(ws, ignoreFileName))
		if err != nil {
			return nil, err
		}
		c.ignore = ig
		return c, nil
	}
	data, ok, err := g.fileAt(ctx, scope.Base, ignoreFileName)
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	if ok {
		if c.ignore, err = report.ParseIgnore(bytes.NewReader(data), short(scope.Base)+":"+ignoreFileName); err != nil {
			return nil, err
		}
	}
	// The proposal's own file is only read to explain findings; a broken
	// one is the proposal's problem, not the run's.
	hd, hok, err := g.fileAt(ctx, scope.Head, ignoreFileName)
	switch {
	case err != nil:
		warnf("the %s's %s cannot be read: %v", noun, ignoreFileName, err)
	case hok:
		p, err := report.ParseIgnore(bytes.NewReader(hd), short(scope.Head)+":"+ignoreFileName)
		if err != nil {
			warnf("the %s's %s: %v", noun, ignoreFileName, err)
		} else {
			c.proposed = p
		}
	}
	return c, nil
}

// revokerConfigAt returns the revoker configuration file to use, and a
// function that removes it when it is a copy. For a proposal (unless
// trust-pr-config), a configuration inside the checkout is read from the
// base commit into a private temporary file; one outside the checkout
// (written by the workflow itself) is used as is.
func revokerConfigAt(ctx context.Context, in Inputs, ws string, scope Scope, g *gitRepo, path string,
	logf func(string, ...any)) (string, func(), error) {
	nothing := func() {}
	rel, err := filepath.Rel(ws, path)
	if !scope.Proposal || in.TrustPRConfig || err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path, nothing, nil
	}
	data, ok, err := g.fileAt(ctx, scope.Base, filepath.ToSlash(rel))
	if err != nil {
		return "", nothing, fmt.Errorf("read the revoker configuration at the base commit: %w", err)
	}
	if !ok {
		return "", nothing, fmt.Errorf("input config: %s is not in the base commit %s; for a %s it is read from there (input trust-pr-config: true reads the checkout's)",
			filepath.ToSlash(rel), short(scope.Base), scope.proposalNoun())
	}
	f, err := os.CreateTemp("", "leakstop-config-*.toml")
	if err != nil {
		return "", nothing, fmt.Errorf("write the revoker configuration: %w", err)
	}
	remove := func() { os.Remove(f.Name()) }
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		remove()
		return "", nothing, fmt.Errorf("write the revoker configuration: %w", werr)
	}
	logf("revoker configuration %s read from the base commit %s", filepath.ToSlash(rel), short(scope.Base))
	return f.Name(), remove, nil
}

// pending returns the fingerprints of findings (those left after the
// ignore file in force) that the proposal's own .leakstopignore lists.
func (c *repoConfig) pending(findings []scanner.Finding) map[string]bool {
	out := map[string]bool{}
	if c.proposed == nil {
		return out
	}
	for _, f := range findings {
		if c.proposed.Has(f.Fingerprint) {
			out[f.Fingerprint] = true
		}
	}
	return out
}

// pendingNote says why a finding that the proposal's own .leakstopignore
// lists is still reported.
func pendingNote(scope Scope) string {
	return "allowed by a " + ignoreFileName + " entry that this " + scope.proposalNoun() +
		" adds: it takes effect once a maintainer merges it"
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
