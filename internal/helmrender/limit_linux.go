package helmrender

import "syscall"

// limitProcess bounds this process: its data segment (the Go heap lives
// there; RLIMIT_AS would also count the address space the runtime only
// reserves) and its CPU time, a second bound besides the parent's
// deadline should the parent die first.
func limitProcess(memory, cpuSeconds int64) error {
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: uint64(memory), Max: uint64(memory)}); err != nil {
		return err
	}
	return syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: uint64(cpuSeconds), Max: uint64(cpuSeconds)})
}
