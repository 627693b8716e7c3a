package gitdb

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestLargeBlobsStreamed: with SetLargeBlobStream, the loose blobs
// over the size come as streams holding exactly their content (hashing
// to their id), each once; smaller ones come whole as before.
func TestLargeBlobsStreamed(t *testing.T) {
	r := newTestRepo(t)
	r.write("small.txt", "small\n")
	r.write("big.txt", strings.Repeat("0123456789abcdef\n", 4096))
	r.write("big2.bin", strings.Repeat("\x00\x01xyz", 20000))
	r.commit("one")
	t.Run("loose", func(t *testing.T) { checkLargeStreamed(t, r.open()) })
	// Packed whole (no delta, no delta's base): streamed from the pack.
	r.git("gc", "-q")
	t.Run("packed", func(t *testing.T) { checkLargeStreamed(t, r.open()) })
}

func checkLargeStreamed(t *testing.T, db *DB) {
	var mu sync.Mutex
	whole, streamed := map[string]int{}, map[string]int{}
	db.SetLargeBlobStream(1000, func(h Hash, rd io.Reader, size int64) error {
		data, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if int64(len(data)) != size || objectID("blob", data) != h.String() {
			t.Errorf("streamed blob %s: %d bytes (want %d), content hashes to %s", h, len(data), size, objectID("blob", data))
		}
		mu.Lock()
		streamed[h.String()]++
		mu.Unlock()
		return nil
	})
	err := db.EachBlob(context.Background(), 2, func(h Hash, data []byte) {
		if int64(len(data)) > 1000 {
			t.Errorf("blob %s of %d bytes passed whole", h, len(data))
		}
		mu.Lock()
		whole[h.String()]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(streamed) != 2 || len(whole) != 1 {
		t.Fatalf("streamed %v, whole %v: want the two large blobs streamed and the small one whole", streamed, whole)
	}
	for id, n := range streamed {
		if n != 1 {
			t.Errorf("blob %s streamed %d times", id, n)
		}
	}
}
