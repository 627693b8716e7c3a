package gitdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// Pack object types.
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

// packObj is one object of a pack, in offset order.
type packObj struct {
	off int64
	// data is where the compressed data starts.
	data int64
	size int64
	// name is the index into packIndex names.
	name int32
	// base is the index (in offset order) of the delta base, -1 for a
	// whole object, -2 for a ref delta whose base is outside the pack.
	base int32
	typ  uint8
}

// pack is one mapped pack file.
type pack struct {
	path string
	data []byte
	idx  *packIndex
	objs []packObj
	// extBase holds the base names of ref deltas with outside bases.
	extBase map[int32]plumbing.Hash
	// children lists, per object, the objects that are deltas of it, as
	// ranges into kids.
	kidStart []int32
	kids     []int32
	unmap    func() error
	// cache holds delta bases of point reads (objects.go).
	cacheMu   sync.Mutex
	cache     map[int64]cachedBase
	cacheSize int
}

// openPackIndex maps a pack and reads its index, without parsing the
// object headers: enough for point reads.
func openPackIndex(packPath string) (*pack, error) {
	idxPath := strings.TrimSuffix(packPath, ".pack") + ".idx"
	idxData, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, err
	}
	idx, err := parseIdx(idxData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	data, unmap, err := mapFile(packPath)
	if err != nil {
		return nil, err
	}
	if len(data) < 32 || !bytes.Equal(data[:4], []byte("PACK")) {
		_ = unmap()
		return nil, fmt.Errorf("%s: %w: bad header", packPath, ErrCorrupt)
	}
	return &pack{path: packPath, data: data, idx: idx, unmap: unmap}, nil
}

// openPack maps a pack, reads its index and parses every object header:
// what a full scan needs.
func openPack(packPath string) (*pack, error) {
	p, err := openPackIndex(packPath)
	if err != nil {
		return nil, err
	}
	if err := p.parse(); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", packPath, err)
	}
	// Parsing read a header on nearly every page of the pack: release
	// them, or the whole pack stays resident through the scan.
	dropPages(p.data)
	return p, nil
}

func (p *pack) close() {
	if p.unmap != nil {
		_ = p.unmap()
		p.unmap = nil
	}
}

// parse reads every object header and builds the delta graph.
func (p *pack) parse() error {
	d := p.data
	if len(d) < 12+20 || !bytes.Equal(d[:4], []byte("PACK")) {
		return fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint32(d[4:8]); v != 2 && v != 3 {
		return fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	if n := int(binary.BigEndian.Uint32(d[8:12])); n != p.idx.n {
		return fmt.Errorf("%w: %d objects, index says %d", ErrCorrupt, n, p.idx.n)
	}
	n := p.idx.n
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return int(p.idx.offsets[a] - p.idx.offsets[b]) })
	p.objs = make([]packObj, n)
	for i, ni := range order {
		off := p.idx.offsets[ni]
		hd, err := p.header(off)
		if err != nil {
			return err
		}
		o := packObj{off: off, data: hd.data, size: hd.size, name: ni, base: -1, typ: hd.typ}
		switch hd.typ {
		case objOfsDelta:
			j, ok := slices.BinarySearchFunc(p.objs[:i], hd.baseOff, func(o packObj, t int64) int {
				return int(o.off - t)
			})
			if !ok {
				return fmt.Errorf("%w: delta base at %d not found", ErrCorrupt, hd.baseOff)
			}
			o.base = int32(j)
		case objRefDelta:
			// Bases in this pack are linked below, once all offsets
			// are known.
			o.base = -2
			if p.extBase == nil {
				p.extBase = map[int32]plumbing.Hash{}
			}
			p.extBase[int32(i)] = hd.baseHash
		}
		p.objs[i] = o
	}
	// Ref deltas whose base is in this pack become ordinary children.
	if len(p.extBase) > 0 {
		byOff := make(map[int32]int32, n)
		for i, o := range p.objs {
			byOff[o.name] = int32(i)
		}
		for i, h := range p.extBase {
			if bi := p.idx.find(h); bi >= 0 {
				p.objs[i].base = byOff[int32(bi)]
				delete(p.extBase, i)
			}
		}
	}
	// Children, as CSR.
	p.kidStart = make([]int32, n+1)
	for _, o := range p.objs {
		if o.base >= 0 {
			p.kidStart[o.base+1]++
		}
	}
	for i := range n {
		p.kidStart[i+1] += p.kidStart[i]
	}
	p.kids = make([]int32, p.kidStart[n])
	fill := slices.Clone(p.kidStart[:n])
	for i, o := range p.objs {
		if o.base >= 0 {
			p.kids[fill[o.base]] = int32(i)
			fill[o.base]++
		}
	}
	return nil
}

// dropEvery is how many compressed bytes are read between releases of a
// pack's mapped pages. Reading one object maps the pages around it too
// (the kernel's fault-around), so when the wanted objects are scattered
// among others (trees and commits among blobs) the resident pages grow
// several times faster than the bytes read.
const dropEvery = 8 << 20

// treeBytes is the compressed bytes of the delta tree under i: the root
// and all its deltas, however deep (a chain of 50 deltas is common).
func (p *pack) treeBytes(i int32) int64 {
	var n int64
	stack := []int32{i}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n += p.compressedEnd(int(j)) - p.objs[j].off
		stack = append(stack, p.kids[p.kidStart[j]:p.kidStart[j+1]]...)
	}
	return n
}

// objHeader is a parsed pack object header.
type objHeader struct {
	typ      uint8
	size     int64
	data     int64 // where the compressed data starts
	baseOff  int64
	baseHash plumbing.Hash
}

// header parses the object header at off.
func (p *pack) header(off int64) (objHeader, error) {
	d := p.data
	end := int64(len(d) - 20)
	if off < 12 || off >= end {
		return objHeader{}, fmt.Errorf("%w: offset %d out of range", ErrCorrupt, off)
	}
	pos := off
	c := d[pos]
	pos++
	hd := objHeader{typ: (c >> 4) & 7}
	size := int64(c & 15)
	shift := uint(4)
	for c&0x80 != 0 {
		if pos >= end || shift > 56 {
			return hd, fmt.Errorf("%w: bad object header at %d", ErrCorrupt, off)
		}
		c = d[pos]
		pos++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	hd.size = size
	switch hd.typ {
	case objCommit, objTree, objBlob, objTag:
	case objOfsDelta:
		if pos >= end {
			return hd, fmt.Errorf("%w: bad delta at %d", ErrCorrupt, off)
		}
		c = d[pos]
		pos++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if pos >= end || rel > 1<<48 {
				return hd, fmt.Errorf("%w: bad delta at %d", ErrCorrupt, off)
			}
			c = d[pos]
			pos++
			rel = ((rel + 1) << 7) | int64(c&0x7f)
		}
		hd.baseOff = off - rel
		if hd.baseOff < 12 {
			return hd, fmt.Errorf("%w: bad delta at %d", ErrCorrupt, off)
		}
	case objRefDelta:
		if pos+20 > end {
			return hd, fmt.Errorf("%w: bad delta at %d", ErrCorrupt, off)
		}
		copy(hd.baseHash[:], d[pos:pos+20])
		pos += 20
	default:
		return hd, fmt.Errorf("%w: object type %d at %d", ErrCorrupt, hd.typ, off)
	}
	hd.data = pos
	return hd, nil
}

// compressedEnd is where object i's compressed data ends.
func (p *pack) compressedEnd(i int) int64 {
	if i+1 < len(p.objs) {
		return p.objs[i+1].off
	}
	return int64(len(p.data) - 20)
}

// inflater inflates objects of a pack, reusing its zlib state.
type inflater struct {
	zr io.ReadCloser
	br bytes.Reader
}

func (f *inflater) inflate(p *pack, i int, out []byte) ([]byte, error) {
	o := &p.objs[i]
	if o.size < 0 || o.size > 1<<34 {
		return nil, fmt.Errorf("%w: object at %d: size %d", ErrCorrupt, o.off, o.size)
	}
	f.br.Reset(p.data[o.data:p.compressedEnd(i)])
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.br)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.br, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: object at %d: %v", ErrCorrupt, o.off, err)
	}
	out = out[:o.size]
	if _, err := io.ReadFull(f.zr, out); err != nil {
		return nil, fmt.Errorf("%w: object at %d: %v", ErrCorrupt, o.off, err)
	}
	// Reading to EOF checks the adler-32 checksum and the size.
	var one [1]byte
	if n, err := f.zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, fmt.Errorf("%w: object at %d: size mismatch or bad checksum", ErrCorrupt, o.off)
	}
	return out, nil
}
