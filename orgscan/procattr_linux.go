package orgscan

import "syscall"

// dieWithParent makes a child process receive SIGKILL when leakstop dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
