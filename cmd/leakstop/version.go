package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// releaseVersion is the release this source is, or was last, published
// as. The release workflow (.github/workflows/release.yml) refuses a tag
// that is not "v" + releaseVersion, and the GitHub Action reads it to pick
// the prebuilt binary of a release tag (ghaction/install.sh): bump it in
// the commit that is tagged. Keep the line's shape; install.sh parses it.
const releaseVersion = "0.1.0"

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
	return releaseVersion + "-dev"
}

func runVersion(_ context.Context, s *stdio, args []string) error {
	fs := newFlagSet("version", "version", s.out)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "leakstop %s\n", toolVersion())
	return nil
}
