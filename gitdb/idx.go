package gitdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

// packIndex is the part of a .idx file the scan needs.
type packIndex struct {
	n int
	// names holds n sorted 20-byte object names.
	names []byte
	// offsets[i] is the pack offset of names[i].
	offsets []int64
}

func (x *packIndex) name(i int) (h plumbing.Hash) {
	copy(h[:], x.names[20*i:20*i+20])
	return h
}

// find returns the index of h, or -1.
func (x *packIndex) find(h plumbing.Hash) int {
	i := sort.Search(x.n, func(i int) bool { return bytes.Compare(x.names[20*i:20*i+20], h[:]) >= 0 })
	if i < x.n && bytes.Equal(x.names[20*i:20*i+20], h[:]) {
		return i
	}
	return -1
}

// parseIdx decodes a version 2 pack index.
func parseIdx(b []byte) (*packIndex, error) {
	if len(b) < 8+256*4+40 || !bytes.Equal(b[:4], []byte{0xff, 't', 'O', 'c'}) || binary.BigEndian.Uint32(b[4:8]) != 2 {
		return nil, errors.New("not a version 2 pack index")
	}
	fan := b[8 : 8+256*4]
	n := int(binary.BigEndian.Uint32(fan[255*4:]))
	pos := 8 + 256*4
	need := pos + n*20 + n*4 + n*4 + 40
	if len(b) < need {
		return nil, errors.New("truncated pack index")
	}
	x := &packIndex{n: n, names: b[pos : pos+n*20], offsets: make([]int64, n)}
	pos += n*20 + n*4 // names, CRCs
	small := b[pos : pos+n*4]
	large := b[pos+n*4 : len(b)-40]
	for i := range n {
		o := binary.BigEndian.Uint32(small[4*i:])
		if o&0x80000000 == 0 {
			x.offsets[i] = int64(o)
			continue
		}
		k := int(o & 0x7fffffff)
		if len(large) < 8*(k+1) {
			return nil, errors.New("bad large offset in pack index")
		}
		x.offsets[i] = int64(binary.BigEndian.Uint64(large[8*k:]))
	}
	return x, nil
}
