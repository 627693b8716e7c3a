package githubtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestIssuesAndComments(t *testing.T) {
	s := New(t)
	c := s.Client()
	ctx := context.Background()

	if _, _, err := c.Issues.Create(ctx, "o", "r", &github.IssueRequest{Body: github.String("b")}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("missing title: %v", err)
	}
	for i := range 5 {
		labels := []string{"security"}
		if i%2 == 0 {
			labels = append(labels, "leaked-credential")
		}
		if _, _, err := c.Issues.Create(ctx, "o", "r", &github.IssueRequest{Title: github.String("t"), Labels: &labels}); err != nil {
			t.Fatal(err)
		}
	}
	s.AddPullRequest("o", "r", PullRequest{HeadSHA: "h"})
	s.CloseIssue("o", "r", 1)

	list, _, err := c.Issues.ListByRepo(ctx, "o", "r", &github.IssueListByRepoOptions{Labels: []string{"leaked-credential", "security"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].GetNumber() != 5 || list[1].GetNumber() != 3 {
		t.Fatalf("open labelled issues = %v", numbers(list))
	}
	all, _, err := c.Issues.ListByRepo(ctx, "o", "r", &github.IssueListByRepoOptions{State: "all", Direction: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0].GetNumber() != 1 || !all[5].IsPullRequest() {
		t.Fatalf("all = %v", numbers(all))
	}

	// Pagination follows Link headers.
	var pages [][]int
	opt := &github.IssueListByRepoOptions{State: "all", ListOptions: github.ListOptions{PerPage: 4}}
	for {
		got, resp, err := c.Issues.ListByRepo(ctx, "o", "r", opt)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, numbers(got))
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(pages) != 2 || len(pages[0]) != 4 || len(pages[1]) != 2 {
		t.Fatalf("pages = %v", pages)
	}

	if _, _, err := c.Issues.CreateComment(ctx, "o", "r", 3, &github.IssueComment{Body: github.String(" ")}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("empty comment: %v", err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "o", "r", 99, &github.IssueComment{Body: github.String("x")}); statusOf(err) != http.StatusNotFound {
		t.Fatalf("missing issue: %v", err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "o", "r", 3, &github.IssueComment{Body: github.String("hello")}); err != nil {
		t.Fatal(err)
	}
	comments, _, err := c.Issues.ListComments(ctx, "o", "r", 3, nil)
	if err != nil || len(comments) != 1 || comments[0].GetBody() != "hello" {
		t.Fatalf("comments = %v %v", comments, err)
	}
	if got := s.Issues("o", "r"); len(got) != 5 || len(got[2].Comments) != 1 || got[0].State != "closed" {
		t.Fatalf("Issues = %+v", got)
	}
	if _, _, err := c.Issues.Edit(ctx, "o", "r", 5, &github.IssueRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	if got := s.Issues("o", "r")[4].State; got != "closed" {
		t.Fatalf("state after edit = %s", got)
	}
}

func numbers(list []*github.Issue) []int {
	var out []int
	for _, is := range list {
		out = append(out, is.GetNumber())
	}
	return out
}
