package scanner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/sourcegraph/conc/pool"
)

// The fast path of a full scan reads every pack file directly, once, in
// offset order: object headers are parsed without inflating anything, the
// delta graph is built from them, and then each delta tree whose objects
// are blobs is decoded depth first — every object inflated once, every
// delta applied once, base contents held only along the current chain —
// with the trees spread over the workers. Trees and commits are not
// inflated at all here. Objects come straight out of the mapped pack:
// no object.Blob, no io.Reader per object, no copy beyond inflation.

// Pack object types.
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

// gitDirs returns the git directory of the repository at path and its
// common directory (they differ for a linked worktree).
func gitDirs(path string) (gitDir, commonDir string, err error) {
	gitDir = path
	dotGit := filepath.Join(path, ".git")
	if fi, err := os.Stat(dotGit); err == nil {
		if fi.IsDir() {
			gitDir = dotGit
		} else {
			b, err := os.ReadFile(dotGit)
			if err != nil {
				return "", "", err
			}
			rest, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
			if !ok {
				return "", "", fmt.Errorf("%s: not a gitdir file", dotGit)
			}
			gitDir = strings.TrimSpace(rest)
			if !filepath.IsAbs(gitDir) {
				gitDir = filepath.Join(path, gitDir)
			}
		}
	}
	commonDir = gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		commonDir = filepath.Clean(c)
	}
	return gitDir, commonDir, nil
}

// gitObjectDirs returns the object directories of the repository at path:
// its own (the common one, for a linked worktree) and its alternates.
func gitObjectDirs(path string) ([]string, error) {
	_, common, err := gitDirs(path)
	if err != nil {
		return nil, err
	}
	dirs := []string{filepath.Join(common, "objects")}
	for i := 0; i < len(dirs) && i < 8; i++ {
		b, err := os.ReadFile(filepath.Join(dirs[i], "info", "alternates"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if !filepath.IsAbs(l) {
				l = filepath.Join(dirs[i], l)
			}
			dirs = append(dirs, filepath.Clean(l))
		}
	}
	return dirs, nil
}

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
	// cache holds delta bases of point reads (git_objects.go).
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
		return nil, fmt.Errorf("%s: %w: bad header", packPath, errCorruptPack)
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
	return p, nil
}

func (p *pack) close() {
	if p.unmap != nil {
		_ = p.unmap()
		p.unmap = nil
	}
}

var errCorruptPack = errors.New("corrupt pack")

// parse reads every object header and builds the delta graph.
func (p *pack) parse() error {
	d := p.data
	if len(d) < 12+20 || !bytes.Equal(d[:4], []byte("PACK")) {
		return fmt.Errorf("%w: bad header", errCorruptPack)
	}
	if v := binary.BigEndian.Uint32(d[4:8]); v != 2 && v != 3 {
		return fmt.Errorf("%w: version %d", errCorruptPack, v)
	}
	if n := int(binary.BigEndian.Uint32(d[8:12])); n != p.idx.n {
		return fmt.Errorf("%w: %d objects, index says %d", errCorruptPack, n, p.idx.n)
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
				return fmt.Errorf("%w: delta base at %d not found", errCorruptPack, hd.baseOff)
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
// pack's mapped pages.
const dropEvery = 32 << 20

// treeBytes approximates the compressed bytes of the delta tree under i
// (the root and its direct deltas).
func (p *pack) treeBytes(i int32) int64 {
	n := p.compressedEnd(int(i)) - p.objs[i].off
	for _, k := range p.kids[p.kidStart[i]:p.kidStart[i+1]] {
		n += p.compressedEnd(int(k)) - p.objs[k].off
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
		return objHeader{}, fmt.Errorf("%w: offset %d out of range", errCorruptPack, off)
	}
	pos := off
	c := d[pos]
	pos++
	hd := objHeader{typ: (c >> 4) & 7}
	size := int64(c & 15)
	shift := uint(4)
	for c&0x80 != 0 {
		if pos >= end || shift > 56 {
			return hd, fmt.Errorf("%w: bad object header at %d", errCorruptPack, off)
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
			return hd, fmt.Errorf("%w: bad delta at %d", errCorruptPack, off)
		}
		c = d[pos]
		pos++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if pos >= end || rel > 1<<48 {
				return hd, fmt.Errorf("%w: bad delta at %d", errCorruptPack, off)
			}
			c = d[pos]
			pos++
			rel = ((rel + 1) << 7) | int64(c&0x7f)
		}
		hd.baseOff = off - rel
		if hd.baseOff < 12 {
			return hd, fmt.Errorf("%w: bad delta at %d", errCorruptPack, off)
		}
	case objRefDelta:
		if pos+20 > end {
			return hd, fmt.Errorf("%w: bad delta at %d", errCorruptPack, off)
		}
		copy(hd.baseHash[:], d[pos:pos+20])
		pos += 20
	default:
		return hd, fmt.Errorf("%w: object type %d at %d", errCorruptPack, hd.typ, off)
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
		return nil, fmt.Errorf("%w: object at %d: size %d", errCorruptPack, o.off, o.size)
	}
	f.br.Reset(p.data[o.data:p.compressedEnd(i)])
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.br)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.br, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: object at %d: %v", errCorruptPack, o.off, err)
	}
	out = out[:o.size]
	if _, err := io.ReadFull(f.zr, out); err != nil {
		return nil, fmt.Errorf("%w: object at %d: %v", errCorruptPack, o.off, err)
	}
	// Reading to EOF checks the adler-32 checksum and the size.
	var one [1]byte
	if n, err := f.zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, fmt.Errorf("%w: object at %d: size mismatch or bad checksum", errCorruptPack, o.off)
	}
	return out, nil
}

// openPacks maps every pack under dirs.
func (g *gitScan) openPacks(dirs []string) error {
	for _, dir := range dirs {
		m, err := filepath.Glob(filepath.Join(dir, "pack", "*.pack"))
		if err != nil {
			return err
		}
		for _, pp := range m {
			p, err := openPack(pp)
			if err != nil {
				return fmt.Errorf("read pack %s: %w", filepath.Base(pp), err)
			}
			g.packs = append(g.packs, p)
		}
	}
	return nil
}

func (g *gitScan) closePacks() {
	for _, p := range g.packs {
		p.close()
	}
	for _, p := range g.lookup {
		p.close()
	}
	g.packs, g.lookup = nil, nil
}

// packVisit receives each decoded object of the wanted types.
type packVisit func(typ uint8, h plumbing.Hash, data []byte) error

// decodePacks decodes, in parallel, every object of the wanted types in
// every pack, each once, and passes it to visit (from several goroutines).
func (g *gitScan) decodePacks(ctx context.Context, want func(typ uint8) bool, visit packVisit) error {
	for _, p := range g.packs {
		if err := g.decodePack(ctx, p, want, visit); err != nil {
			return fmt.Errorf("read pack %s: %w", filepath.Base(p.path), err)
		}
	}
	return nil
}

func (g *gitScan) decodePack(ctx context.Context, p *pack, want func(typ uint8) bool, visit packVisit) error {
	// Roots of delta trees of the wanted types: whole objects, and ref
	// deltas on outside bases (typed when the base is read).
	var roots []int32
	for i, o := range p.objs {
		switch {
		case o.base == -1 && want(o.typ):
			roots = append(roots, int32(i))
		case o.base == -2:
			roots = append(roots, int32(i))
		}
	}
	// Big trees first, so the workers finish together.
	weight := func(i int32) int32 { return p.kidStart[i+1] - p.kidStart[i] }
	slices.SortStableFunc(roots, func(a, b int32) int { return int(weight(b) - weight(a)) })
	var next, read atomic.Int64
	wp := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for range min(g.opts.workers(), max(1, len(roots))) {
		wp.Go(func(ctx context.Context) error {
			w := &packWorker{g: g, p: p, want: want, fn: visit}
			for {
				k := int(next.Add(1) - 1)
				if k >= len(roots) {
					return nil
				}
				if k%64 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				if err := w.root(roots[k]); err != nil {
					return err
				}
				// Release the mapped pages read so far, now and then.
				if r := read.Add(w.p.treeBytes(roots[k])); r >= dropEvery {
					if read.CompareAndSwap(r, 0) {
						dropPages(w.p.data)
					}
				}
			}
		})
	}
	return wp.Wait()
}

type packWorker struct {
	g    *gitScan
	p    *pack
	f    inflater
	want func(uint8) bool
	fn   packVisit
	// free holds buffers to reuse: objects are visited depth first, so a
	// buffer is free again once its object and deltas are done.
	free [][]byte
}

// maxPooledBuf bounds the buffers a worker keeps for reuse.
const maxPooledBuf = 4 << 20

func (w *packWorker) get(n int64) []byte {
	for k := len(w.free) - 1; k >= 0; k-- {
		if b := w.free[k]; int64(cap(b)) >= n {
			w.free = append(w.free[:k], w.free[k+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n, max(n, 4096))
}

func (w *packWorker) put(b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	if len(w.free) >= 16 {
		w.free = w.free[1:]
	}
	w.free = append(w.free, b[:0])
}

var objTypes = map[plumbing.ObjectType]uint8{
	plumbing.CommitObject: objCommit, plumbing.TreeObject: objTree,
	plumbing.BlobObject: objBlob, plumbing.TagObject: objTag,
}

// root decodes the delta tree under object i.
func (w *packWorker) root(i int32) error {
	o := &w.p.objs[i]
	if o.base == -2 {
		h := w.p.extBase[i]
		t, base, err := w.g.readObject(h)
		if err != nil {
			return fmt.Errorf("delta base %s: %w", h, err)
		}
		typ := objTypes[t]
		if !w.want(typ) {
			return nil
		}
		return w.delta(typ, i, base)
	}
	data, err := w.f.inflate(w.p, int(i), w.get(o.size))
	if err != nil {
		return err
	}
	err = w.visit(o.typ, i, data)
	w.put(data)
	return err
}

// visit passes object i, whose content is data, on, then its deltas.
func (w *packWorker) visit(typ uint8, i int32, data []byte) error {
	if err := w.fn(typ, w.p.idx.name(int(w.p.objs[i].name)), data); err != nil {
		return err
	}
	for _, k := range w.p.kids[w.p.kidStart[i]:w.p.kidStart[i+1]] {
		if err := w.delta(typ, k, data); err != nil {
			return err
		}
	}
	return nil
}

// delta applies object i (a delta) to base and visits the result.
func (w *packWorker) delta(typ uint8, i int32, base []byte) error {
	o := &w.p.objs[i]
	d, err := w.f.inflate(w.p, int(i), w.get(o.size))
	if err != nil {
		return err
	}
	data, err := applyDelta(base, d, w.get)
	w.put(d)
	if err != nil {
		return fmt.Errorf("%w: object at %d: %v", errCorruptPack, o.off, err)
	}
	err = w.visit(typ, i, data)
	w.put(data)
	return err
}

var errBadDelta = errors.New("bad delta")

// deltaSize reads a delta header size (little-endian base 128).
func deltaSize(d []byte) (int64, []byte, error) {
	var v int64
	for shift := uint(0); shift < 63; shift += 7 {
		if len(d) == 0 {
			return 0, nil, errBadDelta
		}
		c := d[0]
		d = d[1:]
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, d, nil
		}
	}
	return 0, nil, errBadDelta
}

// applyDelta applies a git delta to base, into a buffer from get.
func applyDelta(base, delta []byte, get func(int64) []byte) ([]byte, error) {
	srcSize, delta, err := deltaSize(delta)
	if err != nil || srcSize != int64(len(base)) {
		return nil, errBadDelta
	}
	size, delta, err := deltaSize(delta)
	if err != nil || size > 1<<34 {
		return nil, errBadDelta
	}
	out := get(size)[:0]
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		switch {
		case cmd&0x80 != 0:
			var off, n int64
			for b := range 4 {
				if cmd&(1<<b) != 0 {
					if len(delta) == 0 {
						return nil, errBadDelta
					}
					off |= int64(delta[0]) << (8 * b)
					delta = delta[1:]
				}
			}
			for b := range 3 {
				if cmd&(0x10<<b) != 0 {
					if len(delta) == 0 {
						return nil, errBadDelta
					}
					n |= int64(delta[0]) << (8 * b)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > int64(len(base)) || int64(len(out))+n > size {
				return nil, errBadDelta
			}
			out = append(out, base[off:off+n]...)
		case cmd != 0:
			n := int64(cmd)
			if n > int64(len(delta)) || int64(len(out))+n > size {
				return nil, errBadDelta
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		default:
			return nil, errBadDelta
		}
	}
	if int64(len(out)) != size {
		return nil, errBadDelta
	}
	return out, nil
}

// scanPackedBlob scans a blob unless another pack already held it.
func (g *gitScan) scanPackedBlob(h plumbing.Hash, data []byte) {
	g.mu.Lock()
	_, dup := g.allBlobs[h]
	if !dup {
		g.allBlobs[h] = struct{}{}
	}
	g.mu.Unlock()
	if !dup {
		g.scanBlob(h, data, int64(len(data)))
	}
}

// scanLoose reads the loose objects under dirs and scans the blobs.
func (g *gitScan) scanLoose(ctx context.Context, dirs []string) error {
	var files []string
	for _, dir := range dirs {
		m, err := filepath.Glob(filepath.Join(dir, "[0-9a-f][0-9a-f]", "*"))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(g.opts.workers())
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + filepath.Base(f)
		if !plumbing.IsHash(name) {
			continue // a temporary file
		}
		h := plumbing.NewHash(name)
		p.Go(func(ctx context.Context) error {
			typ, data, err := readLoose(f)
			if err != nil {
				return fmt.Errorf("read object %s: %w", h, err)
			}
			if typ == "blob" {
				g.scanPackedBlob(h, data)
			}
			return nil
		})
	}
	return p.Wait()
}

// readLoose reads a loose object; only a blob's content is returned.
func readLoose(path string) (string, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return "", nil, err
	}
	defer zr.Close()
	var hdr [64]byte
	n, err := io.ReadAtLeast(zr, hdr[:], 1)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", nil, err
	}
	for n < len(hdr) && bytes.IndexByte(hdr[:n], 0) < 0 {
		m, err := zr.Read(hdr[n:])
		n += m
		if err != nil {
			break
		}
	}
	nul := bytes.IndexByte(hdr[:n], 0)
	typ, sz, ok := strings.Cut(string(hdr[:max(nul, 0)]), " ")
	if nul < 0 || !ok {
		return "", nil, fmt.Errorf("%w: bad loose object header", errCorruptPack)
	}
	if typ != "blob" {
		return typ, nil, nil
	}
	var size int64
	if _, err := fmt.Sscan(sz, &size); err != nil || size < 0 || size > 1<<34 {
		return "", nil, fmt.Errorf("%w: bad loose object size", errCorruptPack)
	}
	data := make([]byte, size)
	k := copy(data, hdr[nul+1:n])
	if _, err := io.ReadFull(zr, data[k:]); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errCorruptPack, err)
	}
	var one [1]byte
	if m, err := zr.Read(one[:]); m != 0 || err != io.EOF {
		return "", nil, fmt.Errorf("%w: loose object size mismatch or bad checksum", errCorruptPack)
	}
	return typ, data, nil
}
