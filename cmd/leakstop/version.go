package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module build info.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0-dev"
}

func runVersion(_ context.Context, s *stdio, args []string) error {
	fs := newFlagSet("version", "version", s.out)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "leakstop %s\n", toolVersion())
	return nil
}
