package atomicfile_test

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

func TestCleanStale(t *testing.T) {
	dead := strconv.Itoa(atomicfiletest.DeadPID(t))
	self := strconv.Itoa(os.Getpid())
	parent := strconv.Itoa(os.Getppid()) // alive: the go command or shell that runs the test
	tests := []struct {
		name  string
		files []string // created in a fresh folder; names ending in / are folders
		want  []string // what remains
		n     int
	}{
		{"dead writer's file removed", []string{".a.txt" + atomicfile.Marker + dead + "-ab12cd"}, nil, 1},
		{"dead writer's folder removed", []string{".model" + atomicfile.Marker + dead + "-ab12cd/"}, nil, 1},
		{"running writer's file kept", []string{".a.txt" + atomicfile.Marker + parent + "-ab12cd"}, []string{".a.txt" + atomicfile.Marker + parent + "-ab12cd"}, 0},
		{"own file kept", []string{".a.txt" + atomicfile.Marker + self + "-ab12cd"}, []string{".a.txt" + atomicfile.Marker + self + "-ab12cd"}, 0},
		{"older name without a pid kept", []string{".a.txt" + atomicfile.Marker + "123456789"}, []string{".a.txt" + atomicfile.Marker + "123456789"}, 0},
		{"user's files untouched", []string{
			"a.txt", "a.jpg", ".hidden", "captune-tmp-" + dead + "-x", // not hidden: not ours
			"a.txt" + atomicfile.Marker + dead + "-ab", ".a.txt.tmp-" + dead + "-ab", "sub/",
		}, []string{
			"a.txt", "a.jpg", ".hidden", "captune-tmp-" + dead + "-x",
			"a.txt" + atomicfile.Marker + dead + "-ab", ".a.txt.tmp-" + dead + "-ab", "sub/",
		}, 0},
		{"not recursive", []string{"sub/", "sub/.a.txt" + atomicfile.Marker + dead + "-ab"}, []string{"sub/", "sub/.a.txt" + atomicfile.Marker + dead + "-ab"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(f, "/")))
				var err error
				if strings.HasSuffix(f, "/") {
					err = os.MkdirAll(p, 0o755)
					if err == nil {
						err = os.WriteFile(filepath.Join(p, "inside"), nil, 0o644)
					}
				} else {
					err = os.WriteFile(p, []byte("x"), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			n, err := atomicfile.CleanStale(dir)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n {
				t.Errorf("removed %d, want %d", n, tt.n)
			}
			var got []string
			for _, f := range tt.files {
				if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(f, "/")))); err == nil {
					got = append(got, f)
				}
			}
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("left %q, want %q", got, want)
			}
		})
	}
}

func TestCleanStaleMissingFolder(t *testing.T) {
	if n, err := atomicfile.CleanStale(filepath.Join(t.TempDir(), "nope")); n != 0 || err != nil {
		t.Errorf("atomicfile.CleanStale(missing) = %d, %v; want 0, nil", n, err)
	}
}

// The names Captune writes carry its pid, match .gitignore's .*.captune-tmp-* and read back.
func TestTempNames(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "img 1.txt")
	f, err := atomicfile.Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := atomicfile.Mkdir(filepath.Join(dir, "model"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.Name(), d, atomicfile.TempPath(target)} {
		name := filepath.Base(p)
		if ok, _ := filepath.Match(".*.captune-tmp-*", name); !ok {
			t.Errorf("%q does not match .gitignore's .*.captune-tmp-*", name)
		}
		if pid, ok := atomicfile.WriterPID(name); !ok || pid != os.Getpid() {
			t.Errorf("atomicfile.WriterPID(%q) = %d, %v; want %d", name, pid, ok, os.Getpid())
		}
		if atomicfile.Stale(name) {
			t.Errorf("atomicfile.Stale(%q) for this running process", name)
		}
	}
	if n, _ := atomicfile.CleanStale(dir); n != 0 {
		t.Errorf("atomicfile.CleanStale removed %d files of this running process", n)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "new" {
		t.Errorf("read %q, %v; want new", data, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("folder holds %d entries, want only a.txt", len(es))
	}
}
