//go:build unix

package s3test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// setProcAttr puts weed in a process group of its own, so that stopping it
// reaches anything it starts, and has it killed should the test binary die
// without running its cleanups (a test timeout's panic, a kill).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// lockStartup takes the machine-wide lock that serializes the start-ups of
// all s3test servers, in this test binary and in others (flock locks
// conflict between open files even within one process). The lock is only
// a precaution: without it, or should another program take a chosen port,
// a start fails and is retried on other ports.
func lockStartup() (unlock func()) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "glossa-s3test.lock"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing the last descriptor releases the lock
}
