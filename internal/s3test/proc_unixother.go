//go:build unix && !linux

package s3test

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// A test binary that dies without its cleanups leaves weed running.
func setParentDeathSignal(*syscall.SysProcAttr) {}
