package scanner

import "strings"

// IsPlaceholder reports whether v looks like a value someone typed to stand
// for a credential rather than a credential: one repeated character, a short
// repeated pattern, a run of consecutive digits or letters, or the
// conventional X/x filler. A two-letter SID prefix is ignored.
func IsPlaceholder(v string) bool {
	if len(v) == 34 && (strings.HasPrefix(v, "AC") || strings.HasPrefix(v, "SK")) {
		v = v[2:]
	}
	if len(v) < 8 {
		return false
	}
	lv := strings.ToLower(v)
	// A short pattern repeated: "0000…", "abababab…", "deadbeefdeadbeef…".
	for period := 1; period <= len(lv)/3; period++ {
		rep := true
		for i := period; i < len(lv); i++ {
			if lv[i] != lv[i-period] {
				rep = false
				break
			}
		}
		if rep {
			return true
		}
	}
	// Consecutive runs: "0123456789abcdef0123…", "abcdefgh…".
	seq := 0
	for i := 1; i < len(lv); i++ {
		if next(lv[i-1]) == lv[i] {
			seq++
		}
	}
	if seq >= len(lv)*3/4 {
		return true
	}
	// Filler: mostly x characters.
	if strings.Count(lv, "x") >= len(lv)/2 {
		return true
	}
	return false
}

// next returns the character after c in the sequences people type: digits
// then hex letters, and the alphabet.
func next(c byte) byte {
	switch {
	case c == '9':
		return 'a'
	case c == 'f':
		return 'g' // continues the alphabet; "…ef01…" restarts below
	case c >= '0' && c < '9', c >= 'a' && c < 'z':
		return c + 1
	}
	return 0
}
