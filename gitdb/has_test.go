package gitdb

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestHas: objects are found in packs and loose, without being read;
// an object the repository lacks is not.
func TestHas(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "packed\n")
	r.commit("one")
	packed := r.git("rev-parse", "HEAD:a.txt")
	r.git("repack", "-q", "-a", "-d")
	r.write("b.txt", "loose\n")
	r.commit("two")
	loose := r.git("rev-parse", "HEAD:b.txt")
	db := r.open()
	for _, c := range []struct {
		id   string
		want bool
	}{
		{packed, true},
		{loose, true},
		{r.git("rev-parse", "HEAD"), true},
		{objectID("blob", []byte("never committed\n")), false},
	} {
		got, err := db.Has(plumbing.NewHash(c.id))
		if err != nil || got != c.want {
			t.Errorf("Has(%s) = %v, %v; want %v", c.id, got, err, c.want)
		}
	}
}
