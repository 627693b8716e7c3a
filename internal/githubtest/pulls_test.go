package githubtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

func draft(path string, line int, side, body string) *github.DraftReviewComment {
	c := &github.DraftReviewComment{Path: &path, Body: &body, Line: &line}
	if side != "" {
		c.Side = &side
	}
	return c
}

func TestReviews(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()
	head := randomHex(t, 20)
	n := s.AddPullRequest("o", "r", PullRequest{HeadSHA: head, Diff: map[string]DiffLines{
		"a.go": {Right: []int{3, 4, 5}, Left: []int{3}},
	}})

	if _, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n+1, &github.PullRequestReviewRequest{}); statusOf(err) != http.StatusNotFound {
		t.Fatalf("unknown PR: %v", err)
	}
	bad := map[string]*github.DraftReviewComment{
		"no path":       draft("", 3, "RIGHT", "b"),
		"line 0":        draft("a.go", 0, "RIGHT", "b"),
		"no side":       draft("a.go", 3, "", "b"),
		"bad side":      draft("a.go", 3, "UP", "b"),
		"no body":       draft("a.go", 3, "RIGHT", ""),
		"path not diff": draft("b.go", 3, "RIGHT", "b"),
		"line not diff": draft("a.go", 9, "RIGHT", "b"),
		"left not diff": draft("a.go", 4, "LEFT", "b"),
		"start after ln": func() *github.DraftReviewComment {
			d := draft("a.go", 4, "RIGHT", "b")
			d.StartLine = github.Int(5)
			return d
		}(),
	}
	for name, d := range bad {
		_, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
			CommitID: &head, Event: github.String("COMMENT"), Comments: []*github.DraftReviewComment{d}})
		if statusOf(err) != http.StatusUnprocessableEntity {
			t.Errorf("%s: err = %v, want 422", name, err)
		}
	}
	_, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		CommitID: github.String("0000"), Event: github.String("COMMENT"), Comments: []*github.DraftReviewComment{draft("a.go", 3, "RIGHT", "b")}})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("wrong commit: err = %v", err)
	}

	rv, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		CommitID: &head, Event: github.String("COMMENT"),
		Comments: []*github.DraftReviewComment{draft("a.go", 4, "RIGHT", "first"), draft("a.go", 3, "LEFT", "second")}})
	if err != nil || rv.GetState() != "COMMENTED" {
		t.Fatalf("review = %v %v", rv, err)
	}
	// A pending review's comments are not listed.
	if _, _, err := c.PullRequests.CreateReview(ctx, "o", "r", n, &github.PullRequestReviewRequest{
		Comments: []*github.DraftReviewComment{draft("a.go", 5, "RIGHT", "pending")}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.PullRequests.ListComments(ctx, "o", "r", n, nil)
	if err != nil || len(got) != 2 || got[0].GetBody() != "first" || got[0].GetLine() != 4 || got[1].GetSide() != "LEFT" ||
		got[0].GetCommitID() != head || got[0].GetPullRequestReviewID() != rv.GetID() {
		t.Fatalf("comments = %v %v", got, err)
	}
	if len(s.ReviewComments("o", "r", n)) != 3 || len(s.Reviews("o", "r", n)) != 2 {
		t.Fatal("accessors disagree")
	}
	pr, _, err := c.PullRequests.Get(ctx, "o", "r", n)
	if err != nil || pr.GetHead().GetSHA() != head {
		t.Fatalf("pr = %v %v", pr, err)
	}
}
