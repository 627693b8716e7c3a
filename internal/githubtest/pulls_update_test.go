package githubtest

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestUpdatePullRequest(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()
	first, second := randomHex(t, 20), randomHex(t, 20)
	n := s.AddPullRequest("o", "r", PullRequest{HeadSHA: first, Diff: map[string]DiffLines{"a.go": {Right: []int{1}}}})
	if _, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		CommitID: &first, Event: github.String("COMMENT"), Comments: []*github.DraftReviewComment{draft("a.go", 1, "RIGHT", "x")}}); err != nil {
		t.Fatal(err)
	}
	s.UpdatePullRequest("o", "r", n, second, map[string]DiffLines{"b.go": {Right: []int{2}}})
	if _, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		CommitID: &first, Event: github.String("COMMENT"), Body: github.String("b")}); err == nil {
		t.Fatal("old head accepted")
	}
	if _, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		CommitID: &second, Event: github.String("COMMENT"), Comments: []*github.DraftReviewComment{draft("b.go", 2, "RIGHT", "y")}}); err != nil {
		t.Fatal(err)
	}
	if got := s.ReviewComments("o", "r", n); len(got) != 2 {
		t.Fatalf("comments = %+v", got)
	}
}
