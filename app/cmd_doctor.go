package app

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/torchx"
)

func init() {
	register(&Command{
		Name:    "doctor",
		Summary: "report libtorch, CUDA, threads and display: what Captune can use on this machine",
		Run:     runDoctor,
	})
}

// DoctorReport is what captune doctor finds; the UI's device pickers show the same facts.
type DoctorReport struct {
	LibtorchCompiled string // from the headers the binary was compiled against
	LibtorchLoaded   string // version.py beside the libtorch_cpu.so the process mapped, if found
	LibtorchPath     string
	CUDAAvailable    bool
	CUDADevices      int64
	Threads          int
	Display          string // empty when no display is available
}

// Doctor gathers the report. It returns an error when libtorch does not work in this process.
func Doctor() (DoctorReport, error) {
	r := DoctorReport{LibtorchCompiled: torchx.Version(), Threads: torchx.NumThreads()}
	r.LibtorchPath = mappedLibrary("libtorch_cpu.so")
	if r.LibtorchPath != "" {
		r.LibtorchLoaded = versionBeside(filepath.Dir(r.LibtorchPath))
	}
	x, err := ts.Ones([]int64{2, 2}, gotch.Float, gotch.CPU)
	if err != nil {
		return r, fmt.Errorf("libtorch cannot make a tensor: %w", err)
	}
	s, err := x.Sum(gotch.Float, true)
	if err != nil {
		return r, fmt.Errorf("libtorch cannot run an operation: %w", err)
	}
	if v := s.Float64Values(true); len(v) != 1 || v[0] != 4 {
		return r, fmt.Errorf("libtorch computed 1+1+1+1 = %v", v)
	}
	cu := gotch.CUDA
	r.CUDAAvailable = cu.IsAvailable()
	if r.CUDAAvailable {
		r.CUDADevices = cu.DeviceCount()
	}
	if d := os.Getenv("WAYLAND_DISPLAY"); d != "" {
		r.Display = "wayland " + d
	} else if d := os.Getenv("DISPLAY"); d != "" {
		r.Display = "x11 " + d
	}
	return r, nil
}

func runDoctor(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := Doctor()
	w := env.Stdout
	fmt.Fprintf(w, "captune     %s\n", Version)
	fmt.Fprintf(w, "libtorch    %s (compiled against)", r.LibtorchCompiled)
	if r.LibtorchPath != "" {
		fmt.Fprintf(w, "; loaded %s from %s", orUnknown(r.LibtorchLoaded), filepath.Dir(r.LibtorchPath))
	}
	fmt.Fprintln(w)
	if err != nil {
		return fmt.Errorf("%w (rerun scripts/setup.sh, or see README.md, Troubleshooting)", err)
	}
	if r.CUDAAvailable {
		fmt.Fprintf(w, "cuda        available, %d device(s)\n", r.CUDADevices)
	} else {
		fmt.Fprintf(w, "cuda        not available (CPU build or no GPU): training and captioning run on the CPU\n")
	}
	fmt.Fprintf(w, "threads     %d libtorch intra-op threads (%d physical cores; --threads N to change)\n", r.Threads, PhysicalCores())
	fmt.Fprintf(w, "jpeg        %s%s\n", inference.JPEGDecoder(), loadedFrom(mappedLibrary("libjpeg.so.62")))
	if err := inference.CheckPrecision(inference.BF16, gotch.CPU); err != nil {
		fmt.Fprintf(w, "bf16        not on this CPU: %v\n", err)
	} else {
		fmt.Fprintf(w, "bf16        yes: this CPU multiplies bfloat16 natively (--precision bf16)\n")
	}
	if r.Display != "" {
		fmt.Fprintf(w, "display     %s\n", r.Display)
	} else {
		fmt.Fprintf(w, "display     none (DISPLAY and WAYLAND_DISPLAY unset): only the headless commands work\n")
	}
	if r.LibtorchLoaded != "" && r.LibtorchLoaded != r.LibtorchCompiled {
		return fmt.Errorf("libtorch %s is loaded but the binary was compiled against %s: rebuild with make build", r.LibtorchLoaded, r.LibtorchCompiled)
	}
	return nil
}

// loadedFrom says where a mapped library came from, or nothing when it is not mapped.
func loadedFrom(path string) string {
	if path == "" {
		return ""
	}
	return "; loaded from " + path
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

// mappedLibrary finds the path of a shared library this process has mapped; name may omit the
// version suffix the file carries (libjpeg.so.62 is mapped as libjpeg.so.62.3.0).
func mappedLibrary(name string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		if b := filepath.Base(fields[5]); b == name || strings.HasPrefix(b, name+".") {
			return fields[5]
		}
	}
	return ""
}

var versionRE = regexp.MustCompile(`__version__\s*=\s*'([^']+)'`)

// versionBeside reads torch/version.py, which the wheel keeps one folder above torch/lib.
func versionBeside(libDir string) string {
	for _, p := range []string{filepath.Join(libDir, "..", "version.py"), filepath.Join(libDir, "..", "build-version")} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if m := versionRE.FindSubmatch(b); m != nil {
			return strings.SplitN(string(m[1]), "+", 2)[0]
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return strings.SplitN(s, "+", 2)[0]
		}
	}
	return ""
}
