//go:build !linux

package orgscan

import "syscall"

// dieWithParent is Linux only (Pdeathsig); elsewhere a child outlives a
// killed leakstop, and git's own locks keep a mirror consistent.
func dieWithParent() *syscall.SysProcAttr { return nil }
