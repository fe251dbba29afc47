package app

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// PhysicalCores counts distinct (physical id, core id) pairs in /proc/cpuinfo: libtorch's intra-op
// threads gain nothing from hyper-threads and lose to oversubscription. Falls back to runtime.NumCPU.
func PhysicalCores() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	defer f.Close()
	seen := map[string]bool{}
	var phys, core string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if phys != "" || core != "" {
				seen[phys+"/"+core] = true
			}
			phys, core = "", ""
			continue
		}
		switch strings.TrimSpace(k) {
		case "physical id":
			phys = strings.TrimSpace(v)
		case "core id":
			core = strings.TrimSpace(v)
		}
	}
	if phys != "" || core != "" {
		seen[phys+"/"+core] = true
	}
	n := len(seen)
	if n == 0 || n > runtime.NumCPU() {
		return runtime.NumCPU()
	}
	return n
}
