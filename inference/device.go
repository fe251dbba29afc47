package inference

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
)

// ParseDevice reads --device: "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
func ParseDevice(s string) (gotch.Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "auto":
		if gotch.CUDA.IsAvailable() {
			return gotch.CudaBuilder(0), nil
		}
		return gotch.CPU, nil
	case s == "cpu":
		return gotch.CPU, nil
	case s == "cuda" || strings.HasPrefix(s, "cuda:"):
		if !gotch.CUDA.IsAvailable() {
			return gotch.CPU, fmt.Errorf("device %q: CUDA is not available (a CPU build, or no GPU/driver; see captune doctor)", s)
		}
		n := 0
		if i := strings.IndexByte(s, ':'); i >= 0 {
			v, err := strconv.Atoi(s[i+1:])
			if err != nil || v < 0 {
				return gotch.CPU, fmt.Errorf("device %q: want cuda:N", s)
			}
			n = v
		}
		if int64(n) >= gotch.CUDA.DeviceCount() {
			return gotch.CPU, fmt.Errorf("device %q: only %d CUDA devices", s, gotch.CUDA.DeviceCount())
		}
		return gotch.CudaBuilder(uint(n)), nil
	}
	return gotch.CPU, fmt.Errorf("device %q: want auto, cpu, cuda or cuda:N", s)
}

// DeviceName spells a device as --device does.
func DeviceName(d gotch.Device) string {
	if d.IsCuda() {
		return fmt.Sprintf("cuda:%d", d.Value)
	}
	return "cpu"
}
