package ghaction

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Context is what the runner tells the action through GITHUB_* variables.
type Context struct {
	EventName  string // GITHUB_EVENT_NAME
	EventPath  string // GITHUB_EVENT_PATH
	Workspace  string // GITHUB_WORKSPACE: the checkout
	Repository string // GITHUB_REPOSITORY: owner/name
	SHA        string // GITHUB_SHA
	APIURL     string // GITHUB_API_URL
	ServerURL  string // GITHUB_SERVER_URL
	Output     string // GITHUB_OUTPUT file
	Summary    string // GITHUB_STEP_SUMMARY file
	RunnerTemp string // RUNNER_TEMP
}

// ReadContext reads the GITHUB_* variables through getenv (main passes
// os.Getenv), with defaults for local runs.
func ReadContext(getenv func(string) string) Context {
	c := Context{
		EventName:  getenv("GITHUB_EVENT_NAME"),
		EventPath:  getenv("GITHUB_EVENT_PATH"),
		Workspace:  getenv("GITHUB_WORKSPACE"),
		Repository: getenv("GITHUB_REPOSITORY"),
		SHA:        getenv("GITHUB_SHA"),
		APIURL:     strings.TrimRight(getenv("GITHUB_API_URL"), "/"),
		ServerURL:  strings.TrimRight(getenv("GITHUB_SERVER_URL"), "/"),
		Output:     getenv("GITHUB_OUTPUT"),
		Summary:    getenv("GITHUB_STEP_SUMMARY"),
		RunnerTemp: getenv("RUNNER_TEMP"),
	}
	return c.withDefaults()
}

// withDefaults fills what a local run leaves unset.
func (c Context) withDefaults() Context {
	if c.Workspace == "" {
		c.Workspace = "."
	}
	if c.APIURL == "" {
		c.APIURL = "https://api.github.com"
	}
	if c.ServerURL == "" {
		c.ServerURL = "https://github.com"
	}
	return c
}

// Event is the part of a webhook payload the action reads.
type Event struct {
	PullRequest *PullRequest `json:"pull_request"`
	// push
	Before  string `json:"before"`
	After   string `json:"after"`
	Ref     string `json:"ref"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`
	// merge_group
	MergeGroup *struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
	} `json:"merge_group"`
	Repository struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

// PullRequest is the pull_request object of a payload.
type PullRequest struct {
	Number  int `json:"number"`
	Commits int `json:"commits"`
	Head    struct {
		SHA string `json:"sha"`
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		SHA string `json:"sha"`
		Ref string `json:"ref"`
	} `json:"base"`
}

// ReadEvent reads the payload at path; an empty path is an empty event.
func ReadEvent(path string) (*Event, error) {
	ev := &Event{}
	if path == "" {
		return ev, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("read event %s: %w", path, err)
	}
	return ev, nil
}

// ScopeKind is what a run scans.
type ScopeKind int

const (
	// ScopeNothing: the event adds no content (a deleted branch).
	ScopeNothing ScopeKind = iota
	// ScopeRange: the commits of Head not in Base.
	ScopeRange
	// ScopeNewBranch: a new branch: the commits of Head not on the
	// default branch (Base is its name), or Head's whole history when
	// there is no other branch to compare with.
	ScopeNewBranch
	// ScopeHistory: every branch and tag, all history.
	ScopeHistory
)

// Scope says what a run scans.
type Scope struct {
	Kind       ScopeKind
	Base, Head string
	// PR is the pull request number (0 when not a pull request).
	PR int
	// Commits is the payload's commit count, a hint for fetch depth.
	Commits int
	// DefaultBranch is the repository's default branch (new branches).
	DefaultBranch string
	// Proposal is true when Head is proposed for Base and not yet on it
	// (pull_request, pull_request_target, merge_group): the repository's
	// .leakstopignore and .leakstop.toml are then read from Base, so that
	// the change under scan cannot silence its own findings (unless the
	// trust-pr-config input says otherwise).
	Proposal bool
	// Describe says it for people.
	Describe string
}

var zeroSHA = strings.Repeat("0", 40)

func isZero(sha string) bool { return strings.Trim(sha, "0") == "" }

// validSHA reports whether s is a full hexadecimal object id (SHA-1 or
// SHA-256): what the payload must hold before it reaches a git command.
func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validBranch reports whether s is a plausible branch name to put in a
// refspec: no option-like start, no refspec or revision syntax.
func validBranch(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(":~^?*[\\", r) {
			return false
		}
	}
	return true
}

// ScopeFor decides what to scan for an event.
func ScopeFor(name string, ev *Event) (Scope, error) {
	switch name {
	case "pull_request", "pull_request_target":
		pr := ev.PullRequest
		if pr == nil || pr.Number <= 0 {
			return Scope{}, fmt.Errorf("%s event without a pull request", name)
		}
		if !validSHA(pr.Base.SHA) || !validSHA(pr.Head.SHA) {
			return Scope{}, fmt.Errorf("%s event: pull request base.sha and head.sha must be commit ids", name)
		}
		return Scope{Kind: ScopeRange, Base: pr.Base.SHA, Head: pr.Head.SHA, PR: pr.Number, Commits: pr.Commits, Proposal: true,
			Describe: fmt.Sprintf("pull request #%d: the commits of %s not in %s", pr.Number, short(pr.Head.SHA), short(pr.Base.SHA))}, nil
	case "merge_group":
		mg := ev.MergeGroup
		if mg == nil || !validSHA(mg.BaseSHA) || !validSHA(mg.HeadSHA) {
			return Scope{}, fmt.Errorf("merge_group event: base_sha and head_sha must be commit ids")
		}
		return Scope{Kind: ScopeRange, Base: mg.BaseSHA, Head: mg.HeadSHA, Proposal: true,
			Describe: fmt.Sprintf("merge group: the commits of %s not in %s", short(mg.HeadSHA), short(mg.BaseSHA))}, nil
	case "push":
		if ev.Deleted || (ev.After != "" && isZero(ev.After)) {
			return Scope{Kind: ScopeNothing, Describe: "push that deleted a branch: nothing to scan"}, nil
		}
		if !validSHA(ev.After) {
			return Scope{}, fmt.Errorf("push event: after must be a commit id")
		}
		if ev.Before == "" || isZero(ev.Before) {
			def := ev.Repository.DefaultBranch
			s := Scope{Kind: ScopeNewBranch, Head: ev.After}
			if validBranch(def) && ev.Ref != "refs/heads/"+def {
				s.DefaultBranch = def
				s.Describe = fmt.Sprintf("new branch: the commits of %s not on %s", short(ev.After), def)
			} else {
				s.Describe = fmt.Sprintf("new branch: the whole history of %s", short(ev.After))
			}
			return s, nil
		}
		if !validSHA(ev.Before) {
			return Scope{}, fmt.Errorf("push event: before must be a commit id")
		}
		s := Scope{Kind: ScopeRange, Base: ev.Before, Head: ev.After,
			Describe: fmt.Sprintf("push: the commits of %s not in %s", short(ev.After), short(ev.Before))}
		if validBranch(ev.Repository.DefaultBranch) {
			s.DefaultBranch = ev.Repository.DefaultBranch
		}
		return s, nil
	}
	// schedule, workflow_dispatch and anything else: all of it.
	what := name
	if what == "" {
		what = "no event"
	}
	return Scope{Kind: ScopeHistory, Describe: fmt.Sprintf("%s: the whole history (every branch and tag)", what)}, nil
}

// proposalNoun names what a Proposal scope scans, for people.
func (s Scope) proposalNoun() string {
	if s.PR > 0 {
		return "pull request"
	}
	return "merge group"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
