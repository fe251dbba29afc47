// Package memstat reads this process's memory figures from /proc, for soak tests and benchmarks.
package memstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Status returns a field of /proc/self/status in kB, e.g. "VmRSS" (resident now) or "VmHWM" (peak).
func Status(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}
