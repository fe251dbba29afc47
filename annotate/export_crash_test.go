package annotate

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The export crash test re-runs this test binary as a child that exports in a loop until killed.
const (
	exportChildDir  = "CAPTUNE_ANNOTATE_EXPORT_CRASH_DIR"
	exportChildOut  = "CAPTUNE_ANNOTATE_EXPORT_CRASH_OUT" // "" exports txt sidecars into the dataset itself
	exportCrashSize = 150
)

// exportCrashChild opens dir (a metadata.jsonl dataset) and exports it as .txt sidecars to out
// (or beside its images) forever, each generation with new captions, printing each generation
// once Export has returned. It never saves: the dataset's own captions stay generation 0.
func exportCrashChild(dir, out string) int {
	d, _, err := Open(dir, OpenOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("start 1")
	for g := 1; ; g++ {
		for i := 0; i < d.Len(); i++ {
			if err := d.SetCaption(i, 0, crashCaption(g, i), OriginHuman); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		if _, err := Export(d, exportCrashOptions(dir, out)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("exported %d\n", g)
	}
}

func exportCrashOptions(dir, out string) ExportOptions {
	if out == "" {
		out = dir
	}
	return ExportOptions{Format: ExportTxt, Out: out}
}

// TestCrashWhileExporting kills (SIGKILL) a process that exports .txt sidecars in a loop, many
// times: beside the images of a metadata.jsonl dataset (as `captune export --format txt --out
// DIR` does) and into another folder with the images linked. After each kill every sidecar holds a
// whole caption; then the next command (open and export again, as `captune export` does) must
// leave no temporary file of Captune's in either folder, and every sidecar whole and current.
func TestCrashWhileExporting(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a unix signal")
	}
	kills := 40
	if testing.Short() {
		kills = 8
	}
	for _, tc := range []struct{ name, out string }{{"beside the images", ""}, {"into a folder", "out"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := dir
			if tc.out != "" {
				out = filepath.Join(t.TempDir(), tc.out)
			}
			img := tinyPNG(t)
			files := map[string]string{}
			var lines []string
			for i := 0; i < exportCrashSize; i++ {
				name := fmt.Sprintf("img%03d.png", i)
				files[name] = img
				lines = append(lines, string(jsonValue(map[string]string{"file_name": name, "text": crashCaption(0, i)})))
			}
			files["metadata.jsonl"] = strings.Join(lines, "\n") + "\n"
			writeTree(t, dir, files)
			env := []string{exportChildDir + "=" + dir, exportChildOut + "=" + strings.TrimPrefix(out, dir)}
			if out == dir {
				env[1] = exportChildOut + "="
			}
			rng := rand.New(rand.NewPCG(2, uint64(len(tc.name))))
			var exports, killsWithTemps, temps, removed, newer int
			for k := 0; k < kills; k++ {
				start, last := runChildAndKill(t, env, time.Duration(rng.IntN(150))*time.Millisecond)
				exports += max(0, last-start+1)
				left := len(tempFiles(t, dir))
				if out != dir {
					left += len(tempFiles(t, out))
				}
				temps += left
				if left > 0 {
					killsWithTemps++
				}
				for i := 0; i < exportCrashSize; i++ {
					g, ok := readExportedCaption(t, out, i)
					if ok && g > 0 {
						newer++
					}
				}
				// The next command.
				d, rep := openT(t, dir, OpenOptions{})
				sum := exportT(t, d, exportCrashOptions(dir, out))
				removed += rep.RemovedTemps + sum.RemovedTemps
				if tf := append(tempFiles(t, dir), tempFiles(t, out)...); len(tf) > 0 {
					t.Fatalf("kill %d: the next export left Captune's temporary files: %q", k, tf)
				}
				for i := 0; i < exportCrashSize; i++ {
					if g, ok := readExportedCaption(t, out, i); !ok || g != 0 {
						t.Fatalf("kill %d: after the next export sidecar %d holds generation %d (present %v), want 0", k, i, g, ok)
					}
				}
			}
			t.Logf("%s: %d kills, %d completed exports; %d kills left %d temporary files, the next command removed %d and left 0; %d sidecars of newer generations seen between kills, 0 torn",
				tc.name, kills, exports, killsWithTemps, temps, removed, newer)
			if newer == 0 {
				t.Error("no export ever wrote a sidecar before the kill: the kills did not test exporting")
			}
		})
	}
}

// readExportedCaption reads the .txt sidecar of item i in out and fails the test unless it holds
// exactly one whole caption; ok is false when there is none yet.
func readExportedCaption(t *testing.T, out string, i int) (gen int, ok bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("img%03d.txt", i)))
	if os.IsNotExist(err) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	g, err := parseCrashCaption(strings.TrimSuffix(string(data), "\n"), i)
	if err != nil {
		t.Fatalf("sidecar %d: %v", i, err)
	}
	return g, true
}
