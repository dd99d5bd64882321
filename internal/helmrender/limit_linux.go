package helmrender

import "syscall"

// limitMemory bounds this process's data segment: the Go heap lives
// there; RLIMIT_AS would also count the address space the runtime only
// reserves (a Go program could not allocate 64 MiB under 512 MiB of it).
func limitMemory(memory int64) error {
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: uint64(memory), Max: uint64(memory)})
}

// limitCPU lets the next release use seconds more CPU time than this
// process has used so far (SIGXCPU ends it beyond): a second bound beside
// the parent's deadline, should the parent die first.
func limitCPU(seconds int64) error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CPU, &lim); err != nil {
		return err
	}
	// Only the soft limit moves: raising the hard one is a privilege,
	// and a hard limit set by whoever started us stays the last word.
	used := uint64(ru.Utime.Sec + ru.Stime.Sec + 1)
	lim.Cur = min(used+uint64(seconds), lim.Max)
	return syscall.Setrlimit(syscall.RLIMIT_CPU, &lim)
}

// childAttr makes the kernel kill a child when the process that started
// it dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
