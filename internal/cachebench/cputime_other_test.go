//go:build !unix

package cachebench

import "time"

// cpuTime is not measured here: MB/cpu-s is then not reported.
func cpuTime() time.Duration { return 0 }
