//go:build linux

package sink

import "syscall"

// dieWithParent makes the kernel kill the child when leakstop dies: a
// command sink must not finish delivering a token after the process that
// created it is gone, because the run that resumes deletes that token.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
