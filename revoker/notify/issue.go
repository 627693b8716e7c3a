package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
)

// Labels of a leakstop issue. MarkerLabel is always among them: the
// notifier finds its earlier issues by it.
const (
	MarkerLabel   = "leaked-credential"
	SecurityLabel = "security"
)

// maxIssuePages bounds the search for an earlier issue (100 per page).
const maxIssuePages = 10

// GitHubIssueConfig says where issues go.
type GitHubIssueConfig struct {
	// Repo ("owner/repo"), when set, receives every issue; by default each
	// repository where the leak was found gets its own.
	Repo string
	// Labels for a new issue; default security and leaked-credential.
	// MarkerLabel is added when missing.
	Labels []string
	// Assignees of a new issue.
	Assignees []string
	// Retry bounds the retries on rate limits; the zero value is the
	// defaults.
	Retry ghretry.Policy
}

// GitHubIssue opens an issue about a leak in the repository where it was
// found. The body carries a marker, <!-- leakstop:fingerprint=FP -->; when
// an open issue with the credential's marker exists, the notifier comments
// on it instead of opening another. The token needs the repo scope (issues:
// write for fine-grained tokens); labels are set only with push access.
type GitHubIssue struct {
	client *github.Client
	cfg    GitHubIssueConfig
	mu     sync.Mutex // one notification at a time, so two cannot both open an issue
}

var _ Notifier = (*GitHubIssue)(nil)

// NewGitHubIssue checks cfg and returns the notifier.
func NewGitHubIssue(client *github.Client, cfg GitHubIssueConfig) (*GitHubIssue, error) {
	if client == nil {
		return nil, errors.New("new GitHub issue notifier: no client")
	}
	if cfg.Repo != "" {
		owner, repo, ok := parseRepo(cfg.Repo)
		if !ok {
			return nil, fmt.Errorf("new GitHub issue notifier: repository %q is not owner/repo", cfg.Repo)
		}
		cfg.Repo = owner + "/" + repo
	}
	if len(cfg.Labels) == 0 {
		cfg.Labels = []string{SecurityLabel, MarkerLabel}
	}
	labels := []string{}
	for _, l := range slices.Concat(cfg.Labels, []string{MarkerLabel}) {
		if l = strings.TrimSpace(l); l != "" && !containsFold(labels, l) {
			labels = append(labels, l)
		}
	}
	cfg.Labels = labels
	cfg.Assignees = append([]string(nil), cfg.Assignees...)
	return &GitHubIssue{client: client, cfg: cfg}, nil
}

// Name is "github-issue", or "github-issue:OWNER/REPO" with a fixed
// repository.
func (g *GitHubIssue) Name() string {
	if g.cfg.Repo != "" {
		return "github-issue:" + g.cfg.Repo
	}
	return "github-issue"
}

// Marker is the HTML comment that ties an issue to a credential's
// fingerprint; "" when the fingerprint is empty.
func Marker(fingerprint string) string {
	fp := markerUnsafe.ReplaceAllString(fingerprint, "")
	if fp == "" {
		return ""
	}
	return "<!-- leakstop:fingerprint=" + fp + " -->"
}

var markerUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.:+=/-]`)

// Notify opens or updates an issue in each repository concerned. Each
// issue lists only its own repository's locations, so that one
// repository's issue does not name another (perhaps private) one.
func (g *GitHubIssue) Notify(ctx context.Context, m Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	targets, err := g.targets(m)
	if err != nil {
		return fmt.Errorf("notify %s: %w", g.Name(), err)
	}
	var errs []error
	for _, t := range targets {
		if err := g.notifyRepo(ctx, t.owner, t.repo, t.msg); err != nil {
			errs = append(errs, fmt.Errorf("notify %s in %s/%s: %w", g.Name(), t.owner, t.repo, err))
		}
	}
	return errors.Join(errs...)
}

type issueTarget struct {
	owner, repo string
	msg         Message
}

// targets lists the repositories to file in, each with its message.
func (g *GitHubIssue) targets(m Message) ([]issueTarget, error) {
	if g.cfg.Repo != "" {
		owner, repo, _ := strings.Cut(g.cfg.Repo, "/")
		return []issueTarget{{owner: owner, repo: repo, msg: m}}, nil
	}
	var out []issueTarget
	index := map[string]int{}
	for _, l := range m.Locations {
		owner, repo, ok := parseRepo(l.Repo)
		if !ok {
			continue
		}
		key := strings.ToLower(owner + "/" + repo)
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			mm := m
			mm.Locations = nil
			out = append(out, issueTarget{owner: owner, repo: repo, msg: mm})
		}
		out[i].msg.Locations = append(out[i].msg.Locations, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no GitHub repository among the message's locations")
	}
	return out, nil
}

func (g *GitHubIssue) notifyRepo(ctx context.Context, owner, repo string, m Message) error {
	marker := Marker(m.Credential.Fingerprint)
	body := Render(m)
	if marker != "" {
		existing, err := g.findIssue(ctx, owner, repo, marker)
		if err != nil {
			return err
		}
		if existing != 0 {
			comment := "leakstop has news about this credential.\n\n" + body
			err := g.cfg.Retry.Do(ctx, false, func(ctx context.Context) (*github.Response, error) {
				_, resp, err := g.client.Issues.CreateComment(ctx, owner, repo, existing, &github.IssueComment{Body: &comment})
				return resp, err
			})
			if err != nil {
				return fmt.Errorf("comment on issue %d: %w", existing, err)
			}
			return nil
		}
		body = marker + "\n" + body
	}
	title := cut(subject(m), 200)
	req := &github.IssueRequest{Title: &title, Body: &body, Labels: &g.cfg.Labels}
	if len(g.cfg.Assignees) > 0 {
		req.Assignees = &g.cfg.Assignees
	}
	err := g.cfg.Retry.Do(ctx, false, func(ctx context.Context) (*github.Response, error) {
		_, resp, err := g.client.Issues.Create(ctx, owner, repo, req)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("create issue: %w", err)
	}
	return nil
}

// findIssue returns the number of an open issue whose body has marker on
// a line of its own, or 0.
func (g *GitHubIssue) findIssue(ctx context.Context, owner, repo, marker string) (int, error) {
	opts := &github.IssueListByRepoOptions{
		State:       "open",
		Labels:      []string{MarkerLabel},
		ListOptions: github.ListOptions{PerPage: 100},
	}
	for range maxIssuePages {
		var list []*github.Issue
		var resp *github.Response
		err := g.cfg.Retry.Do(ctx, true, func(ctx context.Context) (*github.Response, error) {
			var err error
			list, resp, err = g.client.Issues.ListByRepo(ctx, owner, repo, opts)
			return resp, err
		})
		if err != nil {
			return 0, fmt.Errorf("list issues: %w", err)
		}
		for _, is := range list {
			if is.IsPullRequest() {
				continue
			}
			for _, line := range strings.Split(is.GetBody(), "\n") {
				if strings.TrimSpace(line) == marker {
					return is.GetNumber(), nil
				}
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, nil
}

// repoPart is a GitHub owner or repository name.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// parseRepo reads "owner/repo", "host/owner/repo", "https://host/owner/repo",
// "git@host:owner/repo.git" and the like.
func parseRepo(s string) (owner, repo string, ok bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if at := strings.Index(s, "@"); at >= 0 && at < strings.IndexByte(s+"/", '/') {
			s = s[at+1:]
		}
		_, s, _ = strings.Cut(s, "/") // the host
	} else if at, colon := strings.Index(s, "@"), strings.Index(s, ":"); at >= 0 && colon > at {
		s = s[colon+1:] // git@host:owner/repo
	}
	s = strings.TrimSuffix(strings.Trim(s, "/"), ".git")
	parts := strings.Split(s, "/")
	if len(parts) == 3 && strings.Contains(parts[0], ".") {
		parts = parts[1:] // github.com/owner/repo
	}
	if len(parts) != 2 || !repoPart.MatchString(parts[0]) || !repoPart.MatchString(parts[1]) ||
		parts[1] == "." || parts[1] == ".." || parts[0] == "." || parts[0] == ".." {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}
