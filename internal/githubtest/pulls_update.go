package githubtest

// UpdatePullRequest changes a registered pull request as a new push
// would: its head commit and, when diff is not nil, the diff that review
// comments must land in. Reviews and comments already posted stay. It
// fails the test when the pull request is not registered.
func (s *Server) UpdatePullRequest(owner, repo string, number int, headSHA string, diff map[string]DiffLines) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.repo(owner, repo).pulls[number]
	if pr == nil {
		s.t.Fatalf("githubtest: update pull request: no pull request %d in %s/%s", number, owner, repo)
		return
	}
	pr.HeadSHA = headSHA
	if diff != nil {
		pr.Diff = diff
	}
}
