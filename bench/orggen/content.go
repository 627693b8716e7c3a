package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Content of the generated files: small, varied, realistic enough that
// packs hold deltas and the scanner reads real-looking text.

var (
	words = strings.Fields(`the a config value handler request response client server error
		result data user account message send receive parse format buffer stream token session
		cache index build render update delete create list query filter sort map reduce merge
		context timeout retry backoff limit offset page cursor batch queue worker pool channel`)
	idents = strings.Fields(`userID accountName msgCount retryLimit pageSize bufLen reqCtx
		respBody errCount itemList queryArgs cacheKey sessionTTL workerCount batchSize`)
	prefixes = strings.Fields(`api web billing auth infra data ml mobile docs tools search notify
		payments ledger identity gateway metrics storage`)
	suffixes = strings.Fields(`service client worker lib cli site pipeline sdk proxy jobs`)
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func sentence(r *rand.Rand) string {
	n := 4 + r.IntN(8)
	w := make([]string, n)
	for i := range w {
		w[i] = pick(r, words)
	}
	return strings.ToUpper(w[0][:1]) + strings.Join(w, " ")[1:] + "."
}

func goLine(r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("\t// %s", sentence(r))
	case 1:
		return fmt.Sprintf("\t%s := %s(%s, %d)", pick(r, idents), pick(r, words), pick(r, idents), r.IntN(1000))
	case 2:
		return fmt.Sprintf("\tif %s != nil {\n\t\treturn %s\n\t}", pick(r, idents), pick(r, idents))
	case 3:
		return fmt.Sprintf("\tfor i := 0; i < %s; i++ {\n\t\t%s += i\n\t}", pick(r, idents), pick(r, idents))
	default:
		return fmt.Sprintf("}\n\nfunc %s%d(%s int) error {", pick(r, words), r.IntN(100), pick(r, idents))
	}
}

func pyLine(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return "# " + sentence(r)
	case 1:
		return fmt.Sprintf("%s = %s(%s, %d)", strings.ToLower(pick(r, idents)), pick(r, words), strings.ToLower(pick(r, idents)), r.IntN(1000))
	case 2:
		return fmt.Sprintf("def %s_%s(%s):\n    return %s", pick(r, words), pick(r, words), pick(r, words), pick(r, words))
	default:
		return fmt.Sprintf("if %s:\n    %s.%s()", pick(r, words), pick(r, words), pick(r, words))
	}
}

func jsLine(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return "// " + sentence(r)
	case 1:
		return fmt.Sprintf("const %s = %s(%q);", pick(r, idents), pick(r, words), pick(r, words))
	default:
		return fmt.Sprintf("export function %s%d(%s) { return %s; }", pick(r, words), r.IntN(100), pick(r, idents), pick(r, idents))
	}
}

// newFile returns a fresh file of the kind its path says.
func newFile(r *rand.Rand, path string) []string {
	n := 10 + r.IntN(80)
	var out []string
	line := goLine
	switch {
	case strings.HasSuffix(path, ".go"):
		out = []string{"package main", "", "func main() {"}
	case strings.HasSuffix(path, ".py"):
		out = []string{"import os", "import sys", ""}
		line = pyLine
	case strings.HasSuffix(path, ".js"):
		out = []string{"'use strict';", ""}
		line = jsLine
	case strings.HasSuffix(path, ".md"):
		out = []string{"# " + path, ""}
		line = func(r *rand.Rand) string { return sentence(r) }
	default: // yaml and friends
		line = func(r *rand.Rand) string {
			return fmt.Sprintf("%s_%s: %d", pick(r, words), pick(r, words), r.IntN(10000))
		}
	}
	for len(out) < n {
		out = append(out, line(r))
	}
	return out
}

// edit changes a few lines of f.
func edit(r *rand.Rand, path string, f []string) []string {
	f = append([]string(nil), f...)
	line := newFile(r, path)
	for range 1 + r.IntN(4) {
		i := 2 + r.IntN(max(1, len(f)-2))
		if i >= len(f) {
			f = append(f, line[len(line)-1])
			continue
		}
		switch r.IntN(3) {
		case 0:
			f = append(f[:i], append([]string{line[r.IntN(len(line))]}, f[i:]...)...)
		case 1:
			f[i] = line[r.IntN(len(line))]
		default:
			if len(f) > 10 {
				f = append(f[:i], f[i+1:]...)
			}
		}
	}
	return f
}

// vendored is a file many repositories hold byte for byte (a vendored
// library, a licence), as real organisations do: its blob is scanned once
// for the whole organisation.
func vendored(variant int) (string, []string) {
	r := rand.New(rand.NewPCG(uint64(variant), 99))
	path := fmt.Sprintf("vendor/github.com/acme/common/v%d/common.go", variant)
	f := newFile(r, path)
	for range 200 {
		f = append(f, goLine(r))
	}
	return path, f
}

const license = `MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, subject to the following conditions:
the above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.
`
