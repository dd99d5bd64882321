package testregistry

import "syscall"

// sysProcAttr asks the kernel to kill the registry when its parent dies, so
// that a test binary killed by a timeout does not leave registries behind
// holding ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
