package app

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/captune/captune/finetune/synth"
)

// TestMakeRun runs the README's first command for real, as a new user would: `make run` (which
// sets up, builds and opens the window), with the display of the test and without any display
// (then make starts the app under xvfb-run), and `make run SAMPLE=DIR`. Each time it waits for the
// window titled after the folder, closes the app as the desktop does on logout (SIGTERM), and
// asserts a clean exit with nothing on stderr, under a C.UTF-8 locale like containers and CI.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the real program")
	}
	for _, tool := range []string{"make", "xvfb-run", "xwininfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/setup.sh installs it)", tool)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	before := gitStatus(t, root)
	own := t.TempDir()
	mydata := filepath.Join(own, "mydata")
	if err := synth.WriteDataset(context.Background(), mydata, synth.Config{Variant: synth.VariantBase, Seed: 5, Size: 64}, 3, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		display bool
		args    []string
		folder  string // the window's title names it
	}{
		{"display", true, nil, "sample"},
		{"no display", false, nil, "sample"},
		{"SAMPLE=DIR", true, []string{"SAMPLE=" + mydata}, "mydata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.display && os.Getenv("DISPLAY") == "" {
				t.Skip("no DISPLAY (make test runs the tests under xvfb-run)")
			}
			home := t.TempDir()
			stdout, stderr := runMakeRun(t, root, home, tc.display, tc.args, tc.folder)
			if s := unexpectedStderr(stderr); s != "" {
				t.Errorf("make run wrote to stderr:\n%s", s)
			}
			if !strings.Contains(stdout, "built bin/captune") {
				t.Errorf("make run did not build: %q", stdout)
			}
			if tc.folder == "sample" {
				if _, err := os.Stat(filepath.Join(home, "data", "Captune", "sample", "synth_00000.txt")); err != nil {
					t.Errorf("no working copy of the sample in the user's data folder: %v", err)
				}
			}
		})
	}
	t.Run("C.UTF-8 locale", func(t *testing.T) {
		// Fyne's locale parser rejects "C"; the program must not print its complaint.
		cmd := exec.Command(filepath.Join(root, "bin", "captune"), "version")
		cmd.Env = []string{"LANG=C.UTF-8", "PATH=" + os.Getenv("PATH"), "LD_LIBRARY_PATH=" + os.Getenv("LD_LIBRARY_PATH")}
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		out, err := cmd.Output()
		if err != nil || errBuf.Len() > 0 || !strings.HasPrefix(string(out), "captune ") {
			t.Errorf("captune version: err %v, stdout %q, stderr %q", err, out, errBuf.String())
		}
	})
	// Building and running leave the checkout as it was: nothing tracked changes (the sample is
	// copied out first), and everything written is covered by .gitignore.
	if after := gitStatus(t, root); after != before {
		t.Errorf("make run changed the checkout; git status before:\n%s\nafter:\n%s", before, after)
	}
}

// gitStatus returns `git status --porcelain` of the checkout ("" outside a git checkout).
func gitStatus(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=all").Output()
	if err != nil {
		t.Logf("no git status (%v): not checked", err)
		return ""
	}
	return string(out)
}

// runMakeRun starts `make run` with its own data and settings folders, waits for the window titled
// after folder, sends the program SIGTERM and returns make's output once it exited cleanly.
func runMakeRun(t *testing.T, root, home string, display bool, args []string, folder string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "run"}, args...)...)
	cmd.Dir = root
	env := []string{"LANG=C.UTF-8", "LC_ALL=", "LANGUAGE=",
		"XDG_DATA_HOME=" + filepath.Join(home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	if !display {
		env = append(env, "DISPLAY=", "WAYLAND_DISPLAY=")
	}
	cmd.Env = append(os.Environ(), env...)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left if the test fails

	var pid int
	var title string
	deadline := time.Now().Add(8 * time.Minute) // the first build after a change relinks cgo
	for title == "" {
		select {
		case err := <-exited:
			t.Fatalf("make run ended before its window opened: %v\nstdout:\n%s\nstderr:\n%s", err, outBuf.String(), errBuf.String())
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window titled after %s; stdout:\n%s\nstderr:\n%s", folder, outBuf.String(), errBuf.String())
		}
		if pid == 0 {
			pid = findDescendant(cmd.Process.Pid, "captune")
			continue
		}
		title = windowTitle(processEnv(pid, "DISPLAY"), processEnv(pid, "XAUTHORITY"), "Captune — ")
		if title != "" && !strings.Contains(title, "/"+folder+" (") {
			t.Fatalf("window %q is not titled after the folder %s", title, folder)
		}
	}
	t.Logf("window %q", title)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("make run exited with %v after SIGTERM\nstdout:\n%s\nstderr:\n%s", err, outBuf.String(), errBuf.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the program did not exit within a minute of SIGTERM")
	}
	return outBuf.String(), errBuf.String()
}

// findDescendant returns the pid of a process named name below parent, or 0.
func findDescendant(parent int, name string) int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	names := map[int]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
		names[pid] = s[open+1 : close]
	}
	queue := []int{parent}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if names[c] == name {
				return c
			}
			queue = append(queue, c)
		}
	}
	return 0
}

// processEnv reads one variable of a running process's environment.
func processEnv(pid int, key string) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return ""
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// unexpectedStderr returns what make run wrote to stderr besides setup's progress lines.
func unexpectedStderr(stderr string) string {
	var rest []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" || strings.HasPrefix(line, "setup: ") && !strings.HasPrefix(line, "setup: FAILED") {
			continue
		}
		rest = append(rest, line)
	}
	return strings.Join(rest, "\n")
}

// windowTitle returns the title of a window on display that starts with prefix, or "". xauth is
// the program's XAUTHORITY (xvfb-run makes one of its own).
func windowTitle(display, xauth, prefix string) string {
	if display == "" {
		return ""
	}
	cmd := exec.Command("xwininfo", "-display", display, "-root", "-tree")
	cmd.Env = os.Environ()
	if xauth != "" {
		cmd.Env = append(cmd.Env, "XAUTHORITY="+xauth)
	}
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, `"`+prefix); i >= 0 {
			rest := line[i+1:]
			if j := strings.Index(rest, `": `); j >= 0 {
				return rest[:j]
			}
		}
	}
	return ""
}
