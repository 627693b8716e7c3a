package hook

import "fmt"

// ScopeKind is what a hook run scanned.
type ScopeKind int

// The scopes of a hook run.
const (
	// ScopeStaged is the index: what the next commit adds.
	ScopeStaged ScopeKind = iota
	// ScopeFiles is the files a hook framework passed ("pre-commit run
	// --files", "--all-files"), as they are in the work tree.
	ScopeFiles
	// ScopeRange is the commits of Range ("pre-commit run --from-ref A
	// --to-ref B").
	ScopeRange
	// ScopePush is the commits of a push (pre-push): Range, or the history
	// of Ref when the remote has none of it.
	ScopePush
)

// Scope says what a hook run scanned, for its messages.
type Scope struct {
	Kind ScopeKind
	// Range is "FROM..TO" for ScopeRange and a ScopePush of a range.
	Range string
	// Ref is the local ref pushed (ScopePush), Remote the remote's ref.
	Ref, Remote string
}

// Blocked is what the run refused: "commit blocked", "push blocked", or
// "check failed" where nothing is being committed or pushed.
func (s Scope) Blocked() string {
	switch s.Kind {
	case ScopeStaged:
		return "commit blocked"
	case ScopePush:
		return "push blocked"
	}
	return "check failed"
}

// Where says where the credentials are, after "a Twilio credential is".
func (s Scope) Where() string {
	switch s.Kind {
	case ScopeFiles:
		return "in the files checked"
	case ScopeRange:
		return "in the commits " + s.Range
	case ScopePush:
		if s.Range != "" {
			return fmt.Sprintf("in the commits being pushed (%s)", s.Range)
		}
		return fmt.Sprintf("in the history of %s, which the remote does not have yet", s.Ref)
	}
	return "staged for this commit"
}

// Skip is the deliberate way past the check, "" when it is not a gate.
func (s Scope) Skip() string {
	switch s.Kind {
	case ScopeStaged:
		return "git commit --no-verify"
	case ScopePush:
		return "git push --no-verify"
	}
	return ""
}

func (s Scope) fix() string {
	rotate := "  - If it was ever shared (pushed, pasted, sent), rotate it in the Twilio\n" +
		"    Console: removing it from files does not revoke it.\n"
	switch s.Kind {
	case ScopeFiles:
		return "  - Take the secret out of the file (read it from the environment or a secret\n" +
			"    store). If the file was committed, the secret is in the history too.\n" + rotate
	case ScopeRange, ScopePush:
		return "  - It is committed: take it out of the file and rewrite the commits that\n" +
			"    hold it (git commit --amend, git rebase -i) before they are pushed.\n" +
			"  - Rotate it in the Twilio Console if it was ever shared: rewriting history\n" +
			"    does not revoke it.\n"
	}
	return "  - Take the secret out of the file (read it from the environment or a secret\n" +
		"    store), then stage the file again: git add FILE\n" +
		"  - It has not been committed. If it was ever shared (pushed, pasted, sent),\n" +
		"    rotate it in the Twilio Console: removing it from files does not revoke it.\n"
}
