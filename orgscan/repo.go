package orgscan

import (
	"context"
	"time"
)

// Repo is one repository of an organisation, as the GitHub API lists it.
// ID is GitHub's id: it survives renames and transfers, so the state and
// the cache key on it, never on the name.
type Repo struct {
	ID            int64     `json:"id"`
	Owner         string    `json:"owner"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	CloneURL      string    `json:"clone_url"`
	DefaultBranch string    `json:"default_branch,omitempty"`
	PushedAt      time.Time `json:"pushed_at"`
	Fork          bool      `json:"fork,omitempty"`
	Archived      bool      `json:"archived,omitempty"`
	Private       bool      `json:"private,omitempty"`
	// SizeKB is GitHub's size of the repository in KiB; 0 for an empty
	// repository.
	SizeKB int `json:"size_kb"`
}

// TokenSource gives the token for GitHub API calls and git fetches: a
// fixed token (GITHUB_TOKEN) or a GitHub App installation token, renewed
// before it expires. A token is never logged, stored or put in a URL or
// on a command line.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}
