package idptest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal kills the IdP if the test binary dies without
// running its cleanups (a test timeout's panic, a kill), so no IdP outlives
// its test run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
