//go:build !unix

package s3test

import (
	"os"
	"os/exec"
	"syscall"
)

func setProcAttr(*exec.Cmd) {}

// signalGroup kills the process itself: there are no process groups to
// signal, nor a SIGTERM to send.
func signalGroup(pid int, _ syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func lockStartup() (unlock func()) { return func() {} }
