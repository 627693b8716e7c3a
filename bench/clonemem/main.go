// Command clonemem measures the peak memory and wall time of cloning a
// large repository over smart HTTP with go-git and with the git binary,
// and of any other command (such as `leakstop scan`), so the org scan
// can pick the fetcher that holds a worker under 512 MiB.
//
//	clonemem gen -zip SNAPSHOT.zip -out DIR -commits 75000
//	clonemem bench -repo DIR.git
//	clonemem measure -- COMMAND ARGS...
//
// gen builds a synthetic history from a source snapshot (the Go module
// zip of a git/git tag); bench serves it with `git http-backend` behind
// net/http/cgi on 127.0.0.1 and clones it with each method in a child
// process; measure runs one command. Memory is reported twice: the peak
// of the sum of the resident sets of the whole process tree, sampled
// from /proc every 10 ms (50 ms after two seconds), and the largest
// single process's maximum resident set from wait4. bench/clonemem.sh runs it all.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = genMain(os.Args[2:])
	case "bench":
		err = benchMain(context.Background(), os.Args[2:])
	case "measure":
		err = measureMain(context.Background(), os.Args[2:])
	case "mirror-sync":
		err = mirrorSync(context.Background(), os.Args[2:])
	case "gogit-clone":
		err = gogitClone(context.Background(), os.Args[2:])
	case "describe":
		var s string
		if len(os.Args) != 3 {
			usage()
		}
		s, err = describe(os.Args[2])
		fmt.Println(s)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clonemem: error:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, strings.TrimSpace(`
usage: clonemem gen -zip SNAPSHOT.zip -out DIR [-commits N] [-seed N]
       clonemem bench -repo DIR [-methods git,git-lowmem,mirror,gogit]
       clonemem measure -- COMMAND [ARGS...]
       clonemem describe DIR`))
	os.Exit(2)
}

func genMain(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	var o genOptions
	fs.StringVar(&o.zip, "zip", "", "module zip of the source snapshot")
	fs.StringVar(&o.out, "out", "", "bare repository to create")
	fs.IntVar(&o.commits, "commits", 75000, "commits to generate")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	_ = fs.Parse(args)
	if o.zip == "" || o.out == "" {
		usage()
	}
	if err := generate(o); err != nil {
		return err
	}
	s, err := describe(o.out)
	if err != nil {
		return err
	}
	fmt.Println(o.out + ": " + s)
	return nil
}

func measureMain(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		usage()
	}
	r, err := run(ctx, args, nil, 0)
	fmt.Printf("%s\n%s\n", strings.Join(args, " "), r)
	return err
}
