package ghaction

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/internal/ghretry"
	"github.com/leakstop/leakstop/scanner"
)

// Limits that keep one review within what GitHub accepts and people read.
const (
	maxReviewComments = 50
	maxBodyEntries    = 50
)

// markerRE matches the HTML comment that marks a finding leakstop has
// posted, in a review comment or a review body.
var markerRE = regexp.MustCompile(`<!-- leakstop:finding fp=([0-9a-f]{16,128}) path=(\S+) line=(\d+) -->`)

func marker(fp, path string, line int) string {
	return fmt.Sprintf("<!-- leakstop:finding fp=%s path=%s line=%d -->", fp, url.PathEscape(path), line)
}

// postedKey identifies one finding in one file: a credential is commented
// once per file, however its lines move between pushes.
func postedKey(fp, path string) string { return fp + "\x00" + path }

// reviewItem is one finding at one path of the pull request.
type reviewItem struct {
	f      *scanner.Finding
	loc    scanner.Location
	inDiff bool
	// pending is the note of a finding that the pull request's own
	// configuration would silence ("" for the others).
	pending string
}

// Reviewer posts one review per run on a pull request.
type Reviewer struct {
	Client      *github.Client
	Owner, Repo string
	Number      int
	// CommitID is the pull request's head commit: comments are placed on
	// its lines.
	CommitID string
	// Retry is the rate-limit policy (a zero MaxWait is ActionMaxWait),
	// Clock its clock: nil fields are the real ones.
	Retry ghretry.Policy
	Clock ghretry.Clock
	Log   func(format string, a ...any)
	// Pending maps the fingerprints that the pull request's own
	// configuration would silence (a .leakstopignore entry, an inline
	// leakstop:allow) but the base commit's does not to the note they
	// are posted with.
	Pending map[string]string
	// place says where a proposal's findings stand: one that a later
	// commit removed is listed in the body, never on a line.
	place placement
}

// ReviewResult says what Review did.
type ReviewResult struct {
	// Comments were placed on lines, BodyEntries listed in the review body
	// (their lines are not in the diff), Skipped already posted before.
	Comments, BodyEntries, Skipped int
	// Posted is false when there was nothing new to say.
	Posted bool
	// FellBack is true when GitHub refused a comment's place and every
	// finding went into the body instead.
	FellBack bool
}

// Review posts one review (event COMMENT) with a comment per finding on a
// line of the diff, and a body entry for the others. diff holds, for each
// changed path, the lines of the new version that the diff shows. Findings
// that earlier runs already posted (as their markers say) are not posted
// again.
func (r *Reviewer) Review(ctx context.Context, findings []scanner.Finding, diff map[string]map[int]bool) (ReviewResult, error) {
	var res ReviewResult
	posted, err := r.posted(ctx)
	if err != nil {
		return res, err
	}
	var items []reviewItem
	for i := range findings {
		f := &findings[i]
		byPath := map[string]*reviewItem{}
		var order []string
		for _, loc := range f.Locations {
			if loc.Line < 1 || loc.Path == "" {
				continue
			}
			in := diff[loc.Path][loc.Line] && r.place.of(f.Fingerprint) != removedLater
			cur, ok := byPath[loc.Path]
			switch {
			case !ok:
				byPath[loc.Path] = &reviewItem{f: f, loc: loc, inDiff: in}
				order = append(order, loc.Path)
			case in && !cur.inDiff:
				cur.loc, cur.inDiff = loc, true
			}
		}
		for _, p := range order {
			it := byPath[p]
			if posted[postedKey(f.Fingerprint, p)] {
				res.Skipped++
				continue
			}
			it.pending = r.Pending[f.Fingerprint]
			items = append(items, *it)
		}
	}
	if len(items) == 0 {
		return res, nil
	}
	var inline, body []reviewItem
	for _, it := range items {
		if it.inDiff && len(inline) < maxReviewComments {
			inline = append(inline, it)
		} else {
			body = append(body, it)
		}
	}
	err = r.create(ctx, findings, inline, body)
	var er *github.ErrorResponse
	if len(inline) > 0 && errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity {
		// A line GitHub does not take as part of the diff: say it all in
		// the body rather than lose it.
		r.Log("GitHub refused a review comment's place (%s); posting every finding in the review body", er.Message)
		res.FellBack = true
		body = append(slices.Clone(inline), body...)
		inline = nil
		err = r.create(ctx, findings, nil, body)
	}
	if err != nil {
		return res, fmt.Errorf("post the pull request review: %w", err)
	}
	res.Posted, res.Comments, res.BodyEntries = true, len(inline), len(body)
	return res, nil
}

func (r *Reviewer) create(ctx context.Context, findings []scanner.Finding, inline, body []reviewItem) error {
	req := &github.PullRequestReviewRequest{
		CommitID: github.String(r.CommitID),
		Event:    github.String("COMMENT"),
		Body:     github.String(reviewBody(findings, len(inline), body, r.place)),
	}
	for _, it := range inline {
		req.Comments = append(req.Comments, &github.DraftReviewComment{
			Path: github.String(it.loc.Path),
			Line: github.Int(it.loc.Line),
			Side: github.String("RIGHT"),
			Body: github.String(commentBody(it)),
		})
	}
	return r.retry(ctx, false, func(ctx context.Context) (*github.Response, error) {
		_, resp, err := r.Client.PullRequests.CreateReview(ctx, r.Owner, r.Repo, r.Number, req)
		return resp, err
	})
}

// posted reads the markers of the review comments and review bodies
// already on the pull request.
func (r *Reviewer) posted(ctx context.Context) (map[string]bool, error) {
	seen := map[string]bool{}
	add := func(text string) {
		for _, m := range markerRE.FindAllStringSubmatch(text, -1) {
			if p, err := url.PathUnescape(m[2]); err == nil {
				seen[postedKey(m[1], p)] = true
			}
		}
	}
	opts := &github.PullRequestListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var page []*github.PullRequestComment
		var next int
		err := r.retry(ctx, true, func(ctx context.Context) (*github.Response, error) {
			var resp *github.Response
			var err error
			page, resp, err = r.Client.PullRequests.ListComments(ctx, r.Owner, r.Repo, r.Number, opts)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("list the pull request's review comments: %w", err)
		}
		for _, c := range page {
			add(c.GetBody())
		}
		if next == 0 {
			break
		}
		opts.Page = next
	}
	lopts := &github.ListOptions{PerPage: 100}
	for {
		var page []*github.PullRequestReview
		var next int
		err := r.retry(ctx, true, func(ctx context.Context) (*github.Response, error) {
			var resp *github.Response
			var err error
			page, resp, err = r.Client.PullRequests.ListReviews(ctx, r.Owner, r.Repo, r.Number, lopts)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("list the pull request's reviews: %w", err)
		}
		for _, rv := range page {
			add(rv.GetBody())
		}
		if next == 0 {
			break
		}
		lopts.Page = next
	}
	return seen, nil
}

// commentBody is one review comment: the finding, redacted, with how to
// rotate it and how to allow a false positive.
func commentBody(it reviewItem) string {
	f := it.f
	l := labelsFor(f.Credential)
	var b strings.Builder
	b.WriteString(marker(f.Fingerprint, it.loc.Path, it.loc.Line) + "\n")
	fmt.Fprintf(&b, "**leakstop: leaked %s** (confidence %s)", l.credential, f.Confidence)
	if f.Test {
		b.WriteString(" — looks like Twilio test credentials")
	}
	b.WriteString("\n\n")
	if it.pending != "" {
		fmt.Fprintf(&b, "> %s. Until then it is reported and counts in this check.\n\n", capitalize(mdNote(it.pending)))
	}
	if f.Identifier != "" {
		fmt.Fprintf(&b, "- %s: %s\n", l.identifier, code(f.Identifier))
	} else {
		fmt.Fprintf(&b, "- %s: none found\n", l.identifier)
	}
	fmt.Fprintf(&b, "- %s: %s (redacted)\n", l.secret, code(f.Secret.String()))
	fmt.Fprintf(&b, "- Fingerprint: %s\n", code(f.Fingerprint))
	if c := it.loc.Commit; c != nil && c.Hash != "" {
		fmt.Fprintf(&b, "- Added in commit %s\n", code(c.Hash))
	}
	b.WriteString("\n**How to fix:** rotate it.\n\n")
	b.WriteString(numbered(rotationSteps(f.Credential)))
	b.WriteString("\n" + historyNote + "\n\n")
	if it.pending == "" {
		b.WriteString(allowHelp(f.Fingerprint))
	}
	return b.String()
}

// reviewBody sums the findings up and lists those that could not be
// commented on their line.
func reviewBody(findings []scanner.Finding, inline int, body []reviewItem, pl placement) string {
	var b strings.Builder
	n := len(findings)
	fmt.Fprintf(&b, "### leakstop: %d Twilio credential%s in this pull request\n\n", n, plural(n))
	if inline > 0 {
		fmt.Fprintf(&b, "%d %s commented on the line that holds it.", inline, pick(inline, "is", "are"))
		if len(body) > 0 {
			b.WriteString(" ")
		}
	}
	if len(body) > 0 {
		fmt.Fprintf(&b, "%s not on a line of this pull request's diff:", pluralWord(len(body), "This one is", "These are"))
	}
	b.WriteString("\n\n")
	if n := pl.count(preExisting); n > 0 {
		fmt.Fprintf(&b, "%d pre-existing credential%s already on the base branch %s not listed here (see the job summary): this pull request does not add %s.\n\n",
			n, plural(n), pick(n, "is", "are"), pick(n, "it", "them"))
	}
	for i, it := range body {
		if i == maxBodyEntries {
			fmt.Fprintf(&b, "- … and %d more: see the job summary and the code scanning alerts.\n", len(body)-i)
			break
		}
		f := it.f
		l := labelsFor(f.Credential)
		fmt.Fprintf(&b, "- %s **%s** %s", marker(f.Fingerprint, it.loc.Path, it.loc.Line), l.credential, code(f.Secret.String()))
		if f.Identifier != "" {
			fmt.Fprintf(&b, " with %s", code(f.Identifier))
		}
		fmt.Fprintf(&b, " at %s line %d", mdText(it.loc.Path), it.loc.Line)
		if c := it.loc.Commit; c != nil && c.Hash != "" {
			fmt.Fprintf(&b, " (commit %s)", code(short(c.Hash)))
		}
		if pl.of(f.Fingerprint) == removedLater {
			b.WriteString(" — **" + mdText(pl.remark(f.Fingerprint)) + "**")
		}
		fmt.Fprintf(&b, " — fingerprint %s", code(f.Fingerprint))
		if it.pending != "" {
			b.WriteString(" — " + mdNote(it.pending))
		}
		b.WriteString("\n")
	}
	if len(body) > 0 {
		b.WriteString("\n**How to fix:** rotate each credential.\n\n")
		seen := map[credential.Kind]bool{}
		for _, it := range body {
			c := it.f.Credential
			if seen[c] {
				continue
			}
			seen[c] = true
			fmt.Fprintf(&b, "%s:\n\n%s\n", labelsFor(c).credential, numbered(rotationSteps(c)))
		}
		b.WriteString(historyNote + "\n\n")
		b.WriteString(allowHelp("FINGERPRINT"))
	}
	return b.String()
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func pluralWord(n int, one, many string) string { return pick(n, one, many) }

// parseDiffLines reads a unified diff (git diff) and returns, for each
// path of the new version, the line numbers its hunks show: the lines a
// review comment can be placed on (side RIGHT).
func parseDiffLines(diff string) map[string]map[int]bool {
	out := map[string]map[int]bool{}
	var cur map[int]bool
	header := false // between "diff --git" and the first hunk: "+++ " names the file
	for _, line := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			cur, header = nil, true
		case header && strings.HasPrefix(line, "+++ "):
			// git ends the name with a tab when it holds a space.
			p := strings.TrimSuffix(strings.TrimPrefix(line, "+++ "), "\t")
			if strings.HasPrefix(p, `"`) {
				if u, err := strconv.Unquote(p); err == nil {
					p = u
				}
			}
			if p == "/dev/null" || !strings.HasPrefix(p, "b/") {
				cur = nil
				continue
			}
			p = strings.TrimPrefix(p, "b/")
			if out[p] == nil {
				out[p] = map[int]bool{}
			}
			cur = out[p]
		case strings.HasPrefix(line, "@@ "):
			header = false
			if cur == nil {
				continue
			}
			// @@ -a,b +c,d @@
			f := strings.Fields(line)
			if len(f) < 3 || !strings.HasPrefix(f[2], "+") {
				continue
			}
			start, count := f[2][1:], "1"
			if s, c, ok := strings.Cut(start, ","); ok {
				start, count = s, c
			}
			s, err1 := strconv.Atoi(start)
			c, err2 := strconv.Atoi(count)
			if err1 != nil || err2 != nil {
				continue
			}
			for l := s; l < s+c; l++ {
				cur[l] = true
			}
		}
	}
	return out
}

// ActionMaxWait is the Action's longest single wait for a rate limit:
// shorter than ghretry's default, as a job has a time limit.
const ActionMaxWait = 10 * time.Minute

// retry runs call under r's retry policy, with the Action's MaxWait
// unless r sets one.
func (r *Reviewer) retry(ctx context.Context, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	p := r.Retry
	if p.MaxWait <= 0 {
		p.MaxWait = ActionMaxWait
	}
	return p.DoWith(ctx, r.Clock, idempotent, call)
}
