// Package policy decides what a scan looks for and what it reports: the
// rules in force (the embedded ones, a repository's RulesFile, --rules and
// --rules-extend), the fingerprints an ignore file (report.IgnoreFileName)
// lists, a baseline of known findings, inline leakstop:allow comments, and
// for a proposal — a pull request or a merge group — "trust only the base
// commit": the proposal's own RulesFile, ignore file and inline allows do
// not count until they are merged. Every front end ("leakstop scan", the
// pre-commit hook, the GitHub Action) goes through Load and Filter, so they
// apply the same policy to the same content.
package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakstop/leakstop/internal/gitcmd"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/rules"
)

// Options say where the policy comes from.
type Options struct {
	// Dir is the directory the repository's RulesFile and ignore file are
	// read from: the top of the scanned tree ("" is the current one).
	Dir string
	// Rules is a rules file replacing the embedded rules (--rules; added
	// to them when it says [extend] default = true).
	Rules string
	// RulesExtend is a rules file added to the rules in use
	// (--rules-extend, the Action's rules input); when set, the
	// repository's RulesFile is not read.
	RulesExtend string
	// IgnoreFile overrides Dir's ignore file.
	IgnoreFile string
	// Baseline is an earlier JSON report: the findings it holds are known.
	Baseline string
	// Proposal, when set, is a change proposed for a base commit whose
	// own configuration is not trusted.
	Proposal *Proposal
	// Log says what is read from where (nil: quiet); Warn reports what
	// could not be read but does not stop the run (nil: quiet).
	Log, Warn func(format string, a ...any)
}

// Proposal is a change under review: the commits of Head not in Base. Its
// RulesFile and ignore file are read from Base, and an inline allow
// counts only on a line that Base already has, so that a change that
// leaks a credential cannot silence its own finding.
type Proposal struct {
	Base, Head string
	// Noun names it for people: "pull request", "merge group".
	Noun string
	// Git is the repository holding both commits; Worktree is its checkout
	// (of Head), read when a finding's blob is not known.
	Git      gitcmd.Repo
	Worktree string
}

// Policy is the policy in force for one scan.
type Policy struct {
	// Rules is the rule set to detect with.
	Rules *rules.Set
	// RulesFiles names the rules files added to the embedded rules.
	RulesFiles []string
	// Ignore lists the fingerprints not to report (never nil).
	Ignore *Ignore
	// Baseline holds the known findings (nil: none).
	Baseline *Baseline
	// Base is the commit the repository's files were read from, "" for
	// the working tree.
	Base string
	// Notes say what of a proposal's own configuration is not in force.
	Notes []string

	proposal *Proposal
	// proposed is the ignore file as the proposal leaves it: a finding it
	// lists but Ignore does not is still reported, with a note.
	proposed *Ignore
}

// Proposal is the proposal whose configuration is not trusted (nil: the
// working tree's configuration is in force).
func (p *Policy) Proposal() *Proposal { return p.proposal }

func (o *Options) logf(format string, a ...any) {
	if o.Log != nil {
		o.Log(format, a...)
	}
}

func (o *Options) warnf(format string, a ...any) {
	if o.Warn != nil {
		o.Warn(format, a...)
	}
}

// Load reads the policy. For a proposal, its commits must be in the
// local repository.
func Load(ctx context.Context, o Options) (*Policy, error) {
	p := &Policy{proposal: o.Proposal}
	if o.Proposal != nil {
		p.Base = o.Proposal.Base
	}
	var replace, extend *RulesSource
	var err error
	if o.Rules != "" {
		if replace, err = ReadRules(o.Rules); err != nil {
			return nil, err
		}
	}
	switch {
	case o.RulesExtend != "":
		if extend, err = ReadRules(o.RulesExtend); err != nil {
			return nil, err
		}
	case o.Proposal != nil:
		if extend, err = p.proposalRules(ctx, &o); err != nil {
			return nil, err
		}
	default:
		extend, err = ReadRules(filepath.Join(o.Dir, RulesFile))
		if errors.Is(err, fs.ErrNotExist) {
			extend, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if extend != nil {
		o.logf("adding the rules of %s", extend.Name)
		p.RulesFiles = append(p.RulesFiles, extend.Name)
	}
	if p.Rules, err = ResolveRules(replace, extend); err != nil {
		return nil, err
	}
	if err := p.loadIgnore(ctx, &o); err != nil {
		return nil, err
	}
	if o.Baseline != "" {
		if p.Baseline, err = LoadBaseline(o.Baseline); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// proposalRules reads RulesFile from the base commit, and notes when the
// proposal changes it: its rules (or the rules it disables) are not in
// force yet.
func (p *Policy) proposalRules(ctx context.Context, o *Options) (*RulesSource, error) {
	pr := o.Proposal
	data, ok, err := pr.Git.FileAt(ctx, pr.Base, RulesFile)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var src *RulesSource
	if ok {
		src = &RulesSource{Name: gitcmd.Short(pr.Base) + ":" + RulesFile, Data: data}
	}
	hd, hok, err := pr.Git.FileAt(ctx, pr.Head, RulesFile)
	switch {
	case err != nil:
		o.warnf("the %s's %s cannot be read (%v); the base commit's is used", pr.Noun, RulesFile, err)
	case hok != ok || !bytes.Equal(hd, data):
		note := fmt.Sprintf("This %s changes %s: its rules take effect once a maintainer merges it; until then the base commit's are used.",
			pr.Noun, RulesFile)
		p.Notes = append(p.Notes, note)
		o.logf("%s", note)
	}
	return src, nil
}

// loadIgnore reads the ignore file in force and, for a proposal, the one
// it proposes.
func (p *Policy) loadIgnore(ctx context.Context, o *Options) error {
	pr := o.Proposal
	if pr == nil || o.IgnoreFile != "" {
		load, path := LoadIgnoreFile, o.IgnoreFile
		if path == "" {
			load, path = LoadIgnore, filepath.Join(o.Dir, report.IgnoreFileName)
		}
		ig, err := load(path)
		if err != nil {
			return err
		}
		p.Ignore = ig
		return nil
	}
	p.Ignore = &Ignore{entries: map[string]IgnoreEntry{}}
	data, ok, err := pr.Git.FileAt(ctx, pr.Base, report.IgnoreFileName)
	if err != nil {
		return fmt.Errorf("read ignore file: %w", err)
	}
	if ok {
		if p.Ignore, err = ParseIgnore(bytes.NewReader(data), gitcmd.Short(pr.Base)+":"+report.IgnoreFileName); err != nil {
			return err
		}
	}
	// The proposal's own file is only read to explain findings; a broken
	// one is the proposal's problem, not the run's.
	hd, hok, err := pr.Git.FileAt(ctx, pr.Head, report.IgnoreFileName)
	switch {
	case err != nil:
		o.warnf("the %s's %s cannot be read: %v", pr.Noun, report.IgnoreFileName, err)
	case hok:
		ig, err := ParseIgnore(bytes.NewReader(hd), gitcmd.Short(pr.Head)+":"+report.IgnoreFileName)
		if err != nil {
			o.warnf("the %s's %s: %v", pr.Noun, report.IgnoreFileName, err)
		} else {
			p.proposed = ig
		}
	}
	return nil
}

// IgnoreFrom names the ignore file in force for people: its path, or
// COMMIT:.leakstopignore for a proposal's base.
func (p *Policy) IgnoreFrom() string {
	if p.Ignore != nil && p.Ignore.Path != "" {
		return p.Ignore.Path
	}
	if p.Base != "" {
		return gitcmd.Short(p.Base) + ":" + report.IgnoreFileName
	}
	return report.IgnoreFileName
}

// NotInBaseError is a file a proposal's run needs from the base commit
// that the base commit does not have.
type NotInBaseError struct {
	Path, Base, Noun string
}

func (e *NotInBaseError) Error() string {
	return fmt.Sprintf("%s is not in the base commit %s; for a %s it is read from there", e.Path, gitcmd.Short(e.Base), e.Noun)
}

// TrustedFile returns the file to use for path, a file the run acts on
// (the revoker configuration, which names the sinks that receive new
// secrets), and a function that removes it when it is a copy. For a nil
// proposal, or for a path outside root (the checkout: written by the
// workflow itself), it is path. Else it is a private temporary copy of
// the base commit's version: a proposal must not choose where secrets go.
// A file the base commit lacks is a *NotInBaseError.
func (pr *Proposal) TrustedFile(ctx context.Context, root, path string) (string, func(), error) {
	nothing := func() {}
	rel, err := filepath.Rel(root, path)
	if pr == nil || err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path, nothing, nil
	}
	data, ok, err := pr.Git.FileAt(ctx, pr.Base, filepath.ToSlash(rel))
	if err != nil {
		return "", nothing, fmt.Errorf("read %s at the base commit: %w", filepath.ToSlash(rel), err)
	}
	if !ok {
		return "", nothing, &NotInBaseError{Path: filepath.ToSlash(rel), Base: pr.Base, Noun: pr.Noun}
	}
	f, err := os.CreateTemp("", "leakstop-config-*.toml")
	if err != nil {
		return "", nothing, fmt.Errorf("copy %s from the base commit: %w", filepath.ToSlash(rel), err)
	}
	remove := func() { os.Remove(f.Name()) }
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		remove()
		return "", nothing, fmt.Errorf("copy %s from the base commit: %w", filepath.ToSlash(rel), werr)
	}
	return f.Name(), remove, nil
}
