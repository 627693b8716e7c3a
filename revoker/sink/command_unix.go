//go:build unix

package sink

import (
	"os/exec"
	"syscall"
)

// setProcessGroup runs the child in its own process group and makes a
// timeout kill the whole group, so that a shell's children die with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
