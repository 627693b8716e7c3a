// Package pipeline is leakstop's one scan pipeline: resolve the policy
// (rules, ignore file, baseline, inline allows, a proposal's base-commit
// trust), build the detector, scan a source, filter, hand the findings to
// the revoker when asked (verify, plan, apply) and write the reports.
// "leakstop scan", the pre-commit hook and the GitHub Action are front
// ends of Run; a new one only says what to scan and where the reports go.
//
// The bridge from findings to the revoker is here too (LeaksOf, Verify,
// Revoke, Resume, OpenRevoker) with the classification of its outcomes
// into exit statuses (PlanExit, ResultExit).
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
)

// SourceKind is what a Source reads.
type SourceKind int

// The kinds of source.
const (
	// SourceAuto is, when Path is the top of a git work tree, its
	// history and what is not committed (staged, modified, untracked and
	// not ignored); with git options, what they say. When Path is below
	// the top of a work tree, the same of the enclosing repository,
	// limited to Path (noted). Otherwise the files under Path.
	SourceAuto SourceKind = iota
	// SourceFiles is the files under Path (a file or a directory), even
	// in a git work tree.
	SourceFiles
	// SourceStdin is Stdin.
	SourceStdin
	// SourceGit is the repository at Path, as Git says: its history, a
	// range, a branch, or the staged index.
	SourceGit
	// SourceNothing scans nothing (an event that adds no content).
	SourceNothing
	// SourcePaths is the files named in Paths (relative to Path), as one
	// snapshot: what a hook framework passes (see scanner.PathsSource).
	SourcePaths
)

// Source is what Run scans.
type Source struct {
	Kind SourceKind
	// Path is the file, directory or repository.
	Path string
	// Stdin, named StdinName in findings, is read for SourceStdin.
	Stdin     io.Reader
	StdinName string
	// Paths are the files of SourcePaths.
	Paths []string
	// Git narrows a git scan (its Options are Run's); with SourceAuto,
	// setting any of it when Path is not a repository is an error.
	Git scanner.GitOptions
}

func (s Source) hasGitOptions() bool {
	g := s.Git
	return g.Range != "" || !g.Revs.IsZero() || g.Staged || g.IndexFile != "" || !g.Since.IsZero() || g.Branch != "" || g.AllObjects || g.AllLocations
}

// RevokeMode is what Run does with the revoker.
type RevokeMode int

// The revoker steps.
const (
	RevokeNone RevokeMode = iota
	// RevokeVerify checks each credential against Twilio (read-only).
	RevokeVerify
	// RevokePlan verifies and says what would be rotated.
	RevokePlan
	// RevokeApply rotates the live credentials of the configured accounts.
	RevokeApply
)

// RevokeStep is the revoker step of a run.
type RevokeStep struct {
	Mode    RevokeMode
	Options RevokerOptions
	// SkipWhenClean leaves the revoker alone when nothing is reported.
	SkipWhenClean bool
}

// Output is one report a run writes, to Path (atomically) or else to W.
type Output struct {
	Format  report.Format
	Path    string
	W       io.Writer
	Options report.Options
}

// Options are everything Run needs.
type Options struct {
	Source Source
	Policy policy.Options
	// MaxFileSize and Workers bound the scan (0: the scanner's defaults:
	// no size limit, GOMAXPROCS workers).
	MaxFileSize int64
	Workers     int
	// SkipUnreadable scans on past files and folders that cannot be read
	// (warned and counted) instead of failing.
	SkipUnreadable bool
	// Warn receives what was skipped or could not be read (nil: quiet).
	Warn func(msg string)
	// Trace receives the timing of a git scan's phases (nil: none).
	Trace io.Writer
	// Revoke is the revoker step, after filtering and before the reports,
	// so that they carry the verification.
	Revoke RevokeStep
	// Reports are written last; Target names the scanned thing in them.
	Reports []Output
	Target  string
}

// Result is what a run found and did.
type Result struct {
	policy.Filtered
	// Policy is the policy that was in force.
	Policy *policy.Policy
	Stats  scanner.Stats
	Notes  []string
	// Scope says what was scanned ("history of 129 commits + working
	// tree (3 modified, 1 untracked)").
	Scope string
	// InlineAllowed counts the locations of a proposal left out for an
	// inline allow already on the base commit's line.
	InlineAllowed int
	// RevokeOutput is the revoker's plan or result (text), to be shown
	// after the reports; RevokeErr is its outcome: nil, ErrFindings
	// (a credential may still be live), or an error wrapping
	// ErrRevokeFailed or saying why the revoker could not run.
	RevokeOutput []byte
	RevokeErr    error
}

// Run scans o.Source under the policy of o.Policy, filters, runs the
// revoker step and writes the reports. Any error means the scan cannot be
// trusted; findings are in the Result (see ErrFindings for the exit
// status), and so is the revoker's outcome.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Policy.Warn == nil && o.Warn != nil {
		o.Policy.Warn = func(format string, a ...any) { o.Warn(fmt.Sprintf(format, a...)) }
	}
	pol, err := policy.Load(ctx, o.Policy)
	if err != nil {
		return nil, err
	}
	res := &Result{Policy: pol}
	scan := func(warn func(string), opts ...scanner.DetectorOption) (*scanned, error) {
		d, err := scanner.NewDetector(pol.Rules, opts...)
		if err != nil {
			return nil, err
		}
		return scanSource(ctx, d, o.Source, scanner.Options{MaxFileSize: o.MaxFileSize, Workers: o.Workers,
			SkipUnreadable: o.SkipUnreadable, Warn: warn, Trace: o.Trace})
	}
	sr, err := scan(o.Warn)
	if err != nil {
		return nil, err
	}
	findings := sr.Findings
	var inlineAdded map[string]bool
	if !pol.HonoursInlineAllows() && o.Source.Kind != SourceNothing {
		// A proposal cannot allow its own leak inline: scan again with
		// inline allows disabled (see policy.InlineAllowed).
		all, err := scan(func(string) {}, scanner.WithInlineAllow(false)) // the first scan said it all
		if err != nil {
			return nil, err
		}
		ia := pol.InlineAllowed(ctx, findings, all.Findings, func(format string, a ...any) {
			if o.Warn != nil {
				o.Warn(fmt.Sprintf(format, a...))
			}
		})
		findings, inlineAdded, res.InlineAllowed = ia.Findings, ia.Added, ia.Kept
	}
	res.Filtered = pol.Filter(findings, inlineAdded)
	res.Stats, res.Notes, res.Scope = sr.Stats, sr.Notes, sr.scope

	rv := o.Revoke
	if rv.Mode != RevokeNone && !(rv.SkipWhenClean && len(res.Findings) == 0) {
		switch rv.Mode {
		case RevokeVerify:
			if err := Verify(ctx, rv.Options, res.Findings); err != nil {
				return nil, err
			}
		default:
			mode := revoker.ModePlan
			if rv.Mode == RevokeApply {
				mode = revoker.ModeApply
			}
			var out bytes.Buffer
			res.RevokeErr = Revoke(ctx, rv.Options, mode, res.Findings, &out, "text")
			res.RevokeOutput = out.Bytes()
		}
	}

	rep := report.Report{Findings: res.Findings, Stats: res.Stats, Notes: res.Notes, Target: o.Target, Scope: res.Scope,
		PublishedExamples: len(res.Published)}
	for _, out := range o.Reports {
		if err := writeReport(out, rep); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// writeReport writes one report: to its file atomically, or to its writer.
func writeReport(o Output, rep report.Report) error {
	if o.Path != "" {
		return report.WriteFile(o.Path, o.Format, rep, o.Options)
	}
	if o.W == nil {
		return errors.New("write report: no file and no writer")
	}
	return report.Write(o.W, o.Format, rep, o.Options)
}
