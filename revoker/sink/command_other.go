//go:build !unix

package sink

import "os/exec"

// setProcessGroup leaves the default: a timeout kills the child only.
func setProcessGroup(cmd *exec.Cmd) {}
