package gitdb

import "errors"

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
