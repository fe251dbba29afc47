package annotate

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// writeTree creates files under dir; a value of "" makes an empty file. Image files get bytes
// that are not an image, which also shows that Open never decodes one.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if IsImageName(rel) && content == "" {
			content = "not an image: Captune must not decode it"
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFileT(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openT(t testing.TB, dir string, opts OpenOptions) (*Dataset, Report) {
	t.Helper()
	d, rep, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return d, rep
}

// diff returns "" when want and got are deeply equal, else a (-want +got) listing of the lines of
// their indented JSON that differ. (go-cmp is not a dependency of the module.)
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, _ := json.MarshalIndent(want, "", "  ")
	g, _ := json.MarshalIndent(got, "", "  ")
	if string(w) == string(g) {
		return fmt.Sprintf("(-want +got)\n- %#v\n+ %#v", want, got)
	}
	return "(-want +got)\n" + lineDiff(strings.Split(string(w), "\n"), strings.Split(string(g), "\n"))
}

// lineDiff is a longest-common-subsequence diff of two line lists.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&sb, "+ %s\n", b[j])
			j++
		default:
			fmt.Fprintf(&sb, "- %s\n", a[i])
			i++
		}
	}
	return sb.String()
}

// itemView is an item as tests compare it.
type itemView struct {
	Path     string
	Split    Split
	Captions []Caption
}

func view(items []*Item) []itemView {
	out := make([]itemView, len(items))
	for i, it := range items {
		caps := it.Captions
		if len(caps) == 0 {
			caps = nil
		}
		out[i] = itemView{Path: it.Path, Split: it.Split, Captions: caps}
	}
	return out
}

// checkGolden compares got (marshalled as indented JSON) with testdata/golden/name, or rewrites
// the file with -update.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(data) {
		t.Errorf("%s differs (-want +got):\n%s(run go test -update if the change is intended)", p,
			lineDiff(strings.Split(string(want), "\n"), strings.Split(string(data), "\n")))
	}
}
