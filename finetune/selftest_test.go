package finetune

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSelfTestOnBundledModel runs captune selftest's checks on the bundled model and sample.
func TestSelfTestOnBundledModel(t *testing.T) {
	model, sample := "../assets/model", "../assets/sample"
	if _, err := os.Stat(filepath.Join(model, "config.json")); err != nil {
		t.Skipf("no bundled model in %s (scripts/make_bundled.sh builds it): %v", model, err)
	}
	var ex []Example
	txts, _ := filepath.Glob(filepath.Join(sample, "*.txt"))
	sort.Strings(txts)
	for _, p := range txts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ex = append(ex, Example{Image: strings.TrimSuffix(p, ".txt") + ".png", Captions: []string{strings.TrimSpace(string(b))}})
	}
	checks, err := SelfTest(context.Background(), SelfTestOptions{Model: model, Examples: ex, Device: "cpu"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 5 {
		t.Errorf("%d checks ran, want 5", len(checks))
	}
	for _, c := range checks {
		t.Logf("%v %s: %s", c.Pass, c.Name, c.Figure)
		if !c.Pass {
			t.Errorf("FAIL %s: %s", c.Name, c.Figure)
		}
	}
}
