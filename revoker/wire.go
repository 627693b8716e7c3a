package revoker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/revoker/notify"
	"github.com/leakstop/leakstop/revoker/sink"
)

// Factories build sinks and notifiers from their configuration; getenv
// reads the variables the configuration names (tokens, webhook URLs).
type Factories struct {
	Sink     func(ctx context.Context, c SinkConfig, getenv func(string) string) (Sink, error)
	Notifier func(ctx context.Context, c NotifierConfig, getenv func(string) string) (Notifier, error)
}

// DefaultFactories build the real sinks (GitHub Actions secrets, commands)
// and notifiers (webhook, GitHub issues).
func DefaultFactories() Factories {
	return Factories{Sink: newSink, Notifier: newNotifier}
}

// Build makes every configured sink and notifier, keyed by name. One that
// cannot be built (a token not set, say) is left out and its error
// returned, joined with the others; a plan still runs and shows the
// rotations it blocks.
func (c Config) Build(ctx context.Context, f Factories, getenv func(string) string) (map[string]Sink, map[string]Notifier, error) {
	sinks, notifiers := map[string]Sink{}, map[string]Notifier{}
	var errs []error
	for _, sc := range c.Sinks {
		s, err := f.Sink(ctx, sc, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("build sink %q: %w", sc.Name, err))
			continue
		}
		sinks[sc.Name] = s
	}
	for _, nc := range c.Notifiers {
		n, err := f.Notifier(ctx, nc, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("build notifier %q: %w", nc.Name, err))
			continue
		}
		notifiers[nc.Name] = n
	}
	return sinks, notifiers, errors.Join(errs...)
}

func newSink(_ context.Context, c SinkConfig, getenv func(string) string) (Sink, error) {
	switch c.Type {
	case SinkGitHubSecret:
		client, err := githubClient(c.TokenEnv, c.APIURL, getenv)
		if err != nil {
			return nil, err
		}
		return sink.NewGitHubSecret(client, sink.GitHubSecretConfig{
			Owner: c.Owner, Repo: c.Repo, Name: c.Secret, KeySIDName: c.KeySIDSecret,
			Visibility: c.Visibility, SelectedRepositoryIDs: c.SelectedRepositoryIDs,
		})
	case SinkCommand:
		return sink.NewCommand(sink.CommandConfig{
			Argv: c.Command, Timeout: time.Duration(c.Timeout), Dir: c.Dir, Env: c.Env,
			CleanEnv: c.CleanEnv, Newline: c.Newline, Label: c.Name,
		})
	}
	return nil, fmt.Errorf("unknown sink type %q", c.Type)
}

func newNotifier(_ context.Context, c NotifierConfig, getenv func(string) string) (Notifier, error) {
	switch c.Type {
	case NotifierWebhook:
		u := strings.TrimSpace(getenv(c.URLEnv))
		if u == "" {
			return nil, fmt.Errorf("%s is not set (it holds the webhook URL)", c.URLEnv)
		}
		var key []byte
		if c.KeyEnv != "" {
			k := getenv(c.KeyEnv)
			if k == "" {
				return nil, fmt.Errorf("%s is not set (it holds the webhook signing key)", c.KeyEnv)
			}
			key = []byte(k)
		}
		return notify.NewWebhook(notify.WebhookConfig{URL: u, Key: key, Name: "webhook:" + c.Name})
	case NotifierGitHubIssue:
		client, err := githubClient(c.TokenEnv, c.APIURL, getenv)
		if err != nil {
			return nil, err
		}
		repo := c.Repo
		if c.Owner != "" && repo != "" && !strings.Contains(repo, "/") {
			repo = c.Owner + "/" + repo
		}
		return notify.NewGitHubIssue(client, notify.GitHubIssueConfig{Repo: repo, Labels: c.Labels, Assignees: c.Assignees})
	}
	return nil, fmt.Errorf("unknown notifier type %q", c.Type)
}

func githubClient(tokenEnv, apiURL string, getenv func(string) string) (*github.Client, error) {
	if tokenEnv == "" {
		tokenEnv = "GITHUB_TOKEN"
	}
	tok := strings.TrimSpace(getenv(tokenEnv))
	if tok == "" {
		return nil, fmt.Errorf("%s is not set (it holds the GitHub token)", tokenEnv)
	}
	client := github.NewClient(nil).WithAuthToken(tok)
	if apiURL != "" {
		c, err := client.WithEnterpriseURLs(apiURL, apiURL)
		if err != nil {
			return nil, fmt.Errorf("GitHub API URL: %w", err)
		}
		client = c
	}
	return client, nil
}
