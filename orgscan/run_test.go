package orgscan

import "testing"

// A repository the queue failed (a lease overrun) is failed in the
// report too, with the queue's reason, even when the scan state still
// holds an earlier successful scan; a generic reason is made specific.
func TestMergeQueueFailures(t *testing.T) {
	rep := &OrgReport{
		Failed: []RepoFail{{ID: 2, FullName: "acme/b", Reason: "not scanned"}, {ID: 3, FullName: "acme/c", Reason: "mirror: 404"}},
		Repos:  []RepoState{{ID: 1, FullName: "acme/a", Status: "ok"}, {ID: 2, FullName: "acme/b", Status: "failed"}, {ID: 3, FullName: "acme/c", Status: "failed"}},
	}
	rr := RoundResult{ID: "r1",
		Repos:  []Repo{{ID: 1, FullName: "acme/a"}, {ID: 2, FullName: "acme/b"}, {ID: 3, FullName: "acme/c"}},
		Failed: map[int64]string{1: "scan did not finish within the lease", 2: "worker died", 3: "other"}}
	mergeQueueFailures(rep, rr)
	if rep.ExitCode() != 2 || rep.Summary.Failed != 3 {
		t.Fatalf("exit %d, %d failed, want 2 and 3", rep.ExitCode(), rep.Summary.Failed)
	}
	got := map[int64]string{}
	for _, f := range rep.Failed {
		got[f.ID] = f.Reason
	}
	want := map[int64]string{1: "scan did not finish within the lease", 2: "worker died", 3: "mirror: 404"}
	for id, r := range want {
		if got[id] != r {
			t.Errorf("repo %d: reason %q, want %q", id, got[id], r)
		}
	}
	if rep.Repos[0].Status != "failed" {
		t.Errorf("acme/a status %q, want failed", rep.Repos[0].Status)
	}
}
