//go:build !linux

package testregistry

import "syscall"

// sysProcAttr has nothing to add where the parent-death signal does not
// exist; Close still stops the registry.
func sysProcAttr() *syscall.SysProcAttr { return nil }
