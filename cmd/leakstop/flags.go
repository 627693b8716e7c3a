package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// errHelp is returned when --help was asked for and printed.
var errHelp = errors.New("help requested")

// newFlagSet returns a FlagSet that reports errors to the caller instead of
// exiting, and prints usage to w when --help is asked for (parseFlags); a
// mistake is one line on standard error (run), not the whole usage.
func newFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printFlagUsage(w, fs, usage) }
	return fs
}

// printFlagUsage prints "Usage: leakstop USAGE" and the flags, if any.
func printFlagUsage(w io.Writer, fs *flag.FlagSet, usage string) {
	fmt.Fprintf(w, "Usage: leakstop %s\n", usage)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseFlags parses args allowing flags after positional arguments
// ("leakstop scan . --format json"), and returns the positional ones.
// "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		// The flag package calls Usage on every error: only --help gets it.
		usage := fs.Usage
		fs.Usage = func() {}
		err := fs.Parse(args)
		fs.Usage = usage
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, errHelp
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
