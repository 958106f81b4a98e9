//go:build unix

package cachefmt

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used (user + system). Benchmarks report throughput
// per CPU second as well as per wall second, because the build machines are shared and wall
// time there measures the neighbours as much as the code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
