package notify

import (
	"os"
	"strings"
	"testing"
)

// TestGitHubRetryInStepWithSink checks that ghretry.go here and in
// revoker/sink stay the same code.
func TestGitHubRetryInStepWithSink(t *testing.T) {
	norm := func(path, pkg, other string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Skipf("read %s: %v", path, err)
		}
		s := strings.Replace(string(b), "package "+pkg+"\n", "package X\n", 1)
		return strings.Replace(s, "revoker/"+other+"/ghretry.go", "revoker/OTHER/ghretry.go", 1)
	}
	here := norm("ghretry.go", "notify", "sink")
	there := norm("../sink/ghretry.go", "sink", "notify")
	if here != there {
		t.Fatal("revoker/notify/ghretry.go and revoker/sink/ghretry.go differ: change both")
	}
}
