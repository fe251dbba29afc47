package annotate

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test re-runs this test binary as a child that saves in a loop until it is killed.
const (
	crashChildDir    = "CAPTUNE_ANNOTATE_CRASH_DIR"
	crashChildFormat = "CAPTUNE_ANNOTATE_CRASH_FORMAT"
	crashItems       = 16
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildDir); dir != "" {
		os.Exit(crashChild(dir))
	}
	if dir := os.Getenv(exportChildDir); dir != "" {
		os.Exit(exportCrashChild(dir, os.Getenv(exportChildOut)))
	}
	os.Exit(m.Run())
}

// crashCaption is the caption of item i in generation g: long enough (about 4 kB) that a torn
// write would show, and self-describing so the parent can tell old from new.
func crashCaption(g, i int) string {
	return fmt.Sprintf("gen %d item %d ", g, i) + strings.Repeat(fmt.Sprintf("%d.%d ", g, i), 400)
}

// parseCrashCaption returns the generation of a caption, checking that the caption is exactly
// one that crashCaption makes for item i.
func parseCrashCaption(s string, i int) (int, error) {
	var g, item int
	if _, err := fmt.Sscanf(s, "gen %d item %d ", &g, &item); err != nil {
		return 0, fmt.Errorf("unparsable caption %.40q: %v", s, err)
	}
	if item != i || s != strings.TrimSpace(crashCaption(g, i)) {
		return 0, fmt.Errorf("item %d holds a torn or foreign caption %.60q", i, s)
	}
	return g, nil
}

// crashChild opens dir, takes the lock (the killed predecessor's lock is stale) and saves new
// generations of every caption forever, printing each generation once Save has returned.
func crashChild(dir string) int {
	d, _, err := Open(dir, OpenOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := d.Lock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	start := 0
	for i, it := range d.Items() {
		g, err := parseCrashCaption(it.Captions[0].Text, i)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		start = max(start, g+1)
	}
	fmt.Printf("start %d\n", start)
	for g := start; ; g++ {
		for i := 0; i < d.Len(); i++ {
			if err := d.SetCaption(i, 0, crashCaption(g, i), OriginHuman); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			state := StateApproved
			if (g+i)%2 == 0 {
				state = StateUnreviewed
			}
			if err := d.SetState(i, 0, state); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		if err := d.Save(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("saved %d\n", g)
	}
}

// TestCrashWhileSaving kills (SIGKILL) a process that saves in a loop, at random moments, many
// times, in sidecar and in metadata.jsonl datasets. After every kill each caption file must parse
// and hold, per file, either its previous content or the generation being saved: never a torn
// file, an empty one, or a mix of generations inside one file.
func TestCrashWhileSaving(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a unix signal")
	}
	kills := 50
	if testing.Short() {
		kills = 8
	}
	for _, format := range []Format{FormatSidecar, FormatJSONL} {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			var lines []string
			for i := 0; i < crashItems; i++ {
				name := fmt.Sprintf("img%02d.jpg", i)
				files[name] = ""
				if format == FormatSidecar {
					files[strings.TrimSuffix(name, ".jpg")+".txt"] = crashCaption(0, i)
				} else {
					lines = append(lines, string(jsonValue(map[string]string{"file_name": name, "text": crashCaption(0, i)})))
				}
			}
			if format == FormatJSONL {
				files["metadata.jsonl"] = strings.Join(lines, "\n") + "\n"
			}
			writeTree(t, dir, files)
			prev := make([]int, crashItems) // generation each item held after the last kill
			rng := rand.New(rand.NewPCG(1, uint64(len(format))))
			var torn, midSave, leftovers, saves, progressed int
			for k := 0; k < kills; k++ {
				start, last := runAndKill(t, dir, time.Duration(rng.IntN(100))*time.Millisecond)
				saves += max(0, last-start+1)
				d, rep := openT(t, dir, OpenOptions{})
				for _, w := range rep.Warnings {
					switch w.Kind {
					case WarnLeftover:
						leftovers++
					default:
						t.Errorf("kill %d: %v", k, w)
					}
				}
				if d.Format() != format || d.Len() != crashItems {
					t.Fatalf("kill %d: reopened as %s with %d items", k, d.Format(), d.Len())
				}
				gens := map[int]bool{}
				moved := false
				for i, it := range d.Items() {
					if len(it.Captions) != 1 {
						torn++
						t.Errorf("kill %d: %s has %d captions", k, it.Path, len(it.Captions))
						continue
					}
					g, err := parseCrashCaption(it.Captions[0].Text, i)
					if err != nil {
						torn++
						t.Errorf("kill %d: %v", k, err)
						continue
					}
					// Old or new: the file's previous generation, or one being saved by this child.
					ok := g == prev[i] || (last < start && g == start) || (last >= start && (g == last || g == last+1))
					if !ok {
						t.Errorf("kill %d: item %d holds generation %d; before %d, child started %d, last saved %d", k, i, g, prev[i], start, last)
					}
					if g != prev[i] {
						moved = true
					}
					prev[i] = g
					gens[g] = true
				}
				if moved {
					progressed++
				}
				if len(gens) > 1 {
					midSave++
					if format == FormatJSONL {
						t.Errorf("kill %d: one metadata.jsonl holds generations %v", k, gens)
					}
				}
				if data, err := os.ReadFile(filepath.Join(dir, projectRel)); err == nil {
					if _, err := parseProject(data); err != nil {
						t.Errorf("kill %d: project.json: %v", k, err)
					}
				} else if saves > 0 {
					t.Errorf("kill %d: project.json: %v", k, err)
				}
			}
			t.Logf("%s: %d kills, %d completed saves, %d kills after which new captions had landed, %d kills left files from two generations (caught mid-save), %d leftover temporary files reported, %d torn files",
				format, kills, saves, progressed, midSave, leftovers, torn)
			if progressed == 0 {
				t.Error("no save ever wrote a file before the kill: the kills did not test saving")
			}
		})
	}
}

// runAndKill starts the child on dir, lets it run for delay after it has opened the dataset,
// kills it with SIGKILL and returns the generation it started with and the last one it reported
// saved (start-1 when none).
func runAndKill(t *testing.T, dir string, delay time.Duration) (start, last int) {
	t.Helper()
	return runChildAndKill(t, []string{crashChildDir + "=" + dir}, delay)
}

// runChildAndKill is runAndKill of a child chosen by env: it prints "start N" once ready and a
// word and a number after each completed step.
func runChildAndKill(t *testing.T, env []string, delay time.Duration) (start, last int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan int, 1)
	done := make(chan int)
	go func() {
		last := -1
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			n, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "start":
				last = n - 1
				started <- n
			case "saved", "exported":
				last = n
			}
		}
		done <- last
	}()
	select {
	case start = <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child did not start: %s", stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatal(err)
	}
	last = <-done
	err = cmd.Wait()
	if stderr.Len() > 0 {
		t.Fatalf("child failed: %s (%v)", stderr.String(), err)
	}
	return start, last
}
