package rules

import "regexp/syntax"

// secretShape derives, from a regex, what any value of its "secret" group
// looks like: at least minLen bytes, all of them letters or digits when
// alnum is true. The scanner uses it to skip content with no run of
// letters and digits long enough to hold a value — most content.
func secretShape(expr string) (minLen int, alnum bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, false
	}
	g := findCapture(re, SecretGroup)
	if g == nil {
		return 0, false
	}
	return shape(g)
}

func findCapture(re *syntax.Regexp, name string) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Name == name {
		return re.Sub[0]
	}
	for _, s := range re.Sub {
		if g := findCapture(s, name); g != nil {
			return g
		}
	}
	return nil
}

func isAlnumRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// shape returns the minimum length in bytes of re's matches and whether
// every byte of a match is ASCII alphanumeric.
func shape(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0, true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if !isAlnumRune(r) {
				return len(re.Rune), false
			}
		}
		return len(re.Rune), true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			for r := lo; r <= hi; r++ {
				// (?i) folds k and s onto the Kelvin sign and the long s;
				// those two are not what a secret is made of.
				if !isAlnumRune(r) && r != '\u212a' && r != '\u017f' {
					return 1, false
				}
			}
		}
		return 1, true
	case syntax.OpCapture:
		return shape(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		_, a := shape(re.Sub[0])
		return 0, a
	case syntax.OpPlus:
		return shape(re.Sub[0])
	case syntax.OpRepeat:
		n, a := shape(re.Sub[0])
		return n * re.Min, a
	case syntax.OpConcat:
		total, all := 0, true
		for _, s := range re.Sub {
			n, a := shape(s)
			total += n
			all = all && a
		}
		return total, all
	case syntax.OpAlternate:
		least, all := -1, true
		for _, s := range re.Sub {
			n, a := shape(s)
			if least < 0 || n < least {
				least = n
			}
			all = all && a
		}
		return max(least, 0), all
	}
	return 0, false
}
