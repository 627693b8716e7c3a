package rules

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
)

// Templates let rule examples and test fixtures describe credentials without
// containing any: "{{sid s1}}" becomes a fresh Account SID, labelled s1, at
// the moment the example is run. The repository itself never holds a string
// that a scanner would flag.
//
//	{{sid L}}        "AC" + 32 lower-case hex       {{keysid L}}   "SK" + 32 hex
//	{{token L}}      32 lower-case hex (auth token) {{keysecret L}} 32 [A-Za-z0-9]
//	{{upper L}}      value of L in upper case        {{b64 A B …}}  base64 of the concatenation
//	{{url A …}}      URL-escaped concatenation       {{uesc A …}}   JSON \u00XX escapes of it
//	{{repeat "s" N}} s repeated N times
//	{{part A I J}}   bytes I to J of A (a label or fn:label), to write a
//	                 value as several string literals
//
// Arguments of upper, b64, url and uesc are labels, "quoted literals", or
// fn:label to generate a labelled value inline ({{b64 sid:s ":" token:t}}).
// {{"{{"}} writes a literal "{{".

// Generator expands templates with values from a seeded random source and
// remembers each label's value.
type Generator struct {
	rng    *rand.Rand
	Values map[string]string
	anon   int
}

// NewGenerator returns a Generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Values: map[string]string{}}
}

// Expand expands one template. A nil Generator uses a fixed seed.
func Expand(tmpl string, g *Generator) (string, error) {
	if g == nil {
		g = NewGenerator(1)
	}
	return g.Expand(tmpl)
}

// Expand expands tmpl, reusing values of labels already generated.
func (g *Generator) Expand(tmpl string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unclosed {{ in template")
		}
		b.WriteString(tmpl[:i])
		v, err := g.call(tmpl[i+2 : i+j])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		tmpl = tmpl[i+j+2:]
	}
}

const (
	hexDigits   = "0123456789abcdef"
	alnumDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func (g *Generator) call(expr string) (string, error) {
	args, err := splitArgs(expr)
	if err != nil {
		return "", err
	}
	if len(args) == 0 {
		return "", fmt.Errorf("empty {{}} in template")
	}
	fn, args := args[0], args[1:]
	if strings.HasPrefix(fn, `"`) && len(args) == 0 {
		return fn[1 : len(fn)-1], nil // {{"{{"}} writes a literal
	}
	gen := func(make func() string) (string, error) {
		if len(args) > 1 {
			return "", fmt.Errorf("{{%s}} takes at most one label", fn)
		}
		label := ""
		if len(args) == 1 {
			label = args[0]
		} else {
			g.anon++
			label = "_" + strconv.Itoa(g.anon)
		}
		if v, ok := g.Values[label]; ok {
			return v, nil
		}
		v := make()
		g.Values[label] = v
		return v, nil
	}
	switch fn {
	case "sid":
		return gen(func() string { return "AC" + g.random(hexDigits, 32, 3.3) })
	case "keysid":
		return gen(func() string { return "SK" + g.random(hexDigits, 32, 3.3) })
	case "token", "hex32":
		return gen(func() string { return g.random(hexDigits, 32, 3.3) })
	case "keysecret":
		return gen(func() string { return g.random(alnumDigits, 32, 4.2) })
	case "repeat":
		if len(args) != 2 || !strings.HasPrefix(args[0], `"`) {
			return "", fmt.Errorf(`{{repeat "s" N}} takes a quoted string and a count`)
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 || n > 4096 {
			return "", fmt.Errorf("{{repeat}}: bad count %q", args[1])
		}
		return strings.Repeat(args[0][1:len(args[0])-1], n), nil
	case "part":
		if len(args) != 3 {
			return "", fmt.Errorf("{{part}} takes a value and two offsets")
		}
		v, err := g.arg(fn, args[0])
		if err != nil {
			return "", err
		}
		from, err1 := strconv.Atoi(args[1])
		to, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil || from < 0 || to < from || to > len(v) {
			return "", fmt.Errorf("{{part}}: bad range %s..%s of a %d-byte value", args[1], args[2], len(v))
		}
		return v[from:to], nil
	case "upper":
		if len(args) != 1 {
			return "", fmt.Errorf("{{upper}} takes one argument")
		}
		v, err := g.arg(fn, args[0])
		return strings.ToUpper(v), err
	case "b64", "url", "uesc":
		var cat strings.Builder
		for _, a := range args {
			v, err := g.arg(fn, a)
			if err != nil {
				return "", err
			}
			cat.WriteString(v)
		}
		s := cat.String()
		switch fn {
		case "b64":
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		case "url":
			return url.QueryEscape(s), nil
		default:
			var e strings.Builder
			for i := 0; i < len(s); i++ {
				fmt.Fprintf(&e, `\u%04x`, s[i])
			}
			return e.String(), nil
		}
	}
	return "", fmt.Errorf("unknown template function %q", fn)
}

// arg resolves an argument of fn: a "quoted literal", fn:label (generate
// inline), or a label defined earlier.
func (g *Generator) arg(fn, a string) (string, error) {
	if strings.HasPrefix(a, `"`) {
		return a[1 : len(a)-1], nil
	}
	if gen, label, ok := strings.Cut(a, ":"); ok {
		return g.call(gen + " " + label)
	}
	v, ok := g.Values[a]
	if !ok {
		return "", fmt.Errorf("{{%s}}: label %q not defined yet", fn, a)
	}
	return v, nil
}

// random draws n characters from alphabet until the result has at least
// minEntropy bits per character, so generated values look like real ones.
func (g *Generator) random(alphabet string, n int, minEntropy float64) string {
	buf := make([]byte, n)
	for {
		for i := range buf {
			buf[i] = alphabet[g.rng.IntN(len(alphabet))]
		}
		if ShannonEntropy(string(buf)) >= minEntropy {
			return string(buf)
		}
	}
}

func splitArgs(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			j := strings.IndexByte(s[1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unclosed quote in template")
			}
			out = append(out, s[:j+2])
			s = strings.TrimSpace(s[j+2:])
			continue
		}
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			j = len(s)
		}
		out = append(out, s[:j])
		s = strings.TrimSpace(s[j:])
	}
	return out, nil
}

// ShannonEntropy returns the entropy of s in bits per byte.
func ShannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
