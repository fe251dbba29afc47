package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/inference"
	"github.com/sugarme/gotch"
)

// captune caption --precision bf16 captions the bundled model's kind of images as fp32 does, but
// for a few words; an unknown precision is a usage error.
func TestCaptionPrecisionBF16(t *testing.T) {
	if _, err := os.Stat("../assets/model/config.json"); err != nil {
		t.Skipf("no bundled model: %v", err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	imgs := filepath.Join(t.TempDir(), "imgs")
	var out, errOut bytes.Buffer
	if code := run([]string{"synth", "--out", imgs, "--n", "40", "--seed", "7", "--variant", "base", "--size", "64"}, &out, &errOut); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errOut.String())
	}
	caption := func(precision string) []string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run([]string{"caption", "--precision", precision, imgs}, &stdout, &stderr); code != 0 {
			t.Fatalf("caption --precision %s: exit %d: %s", precision, code, stderr.String())
		}
		return strings.Split(strings.TrimSpace(stdout.String()), "\n")
	}
	fp32, bf16 := caption("fp32"), caption("bf16")
	if len(fp32) != 40 || len(bf16) != 40 {
		t.Fatalf("%d fp32 and %d bf16 captions, want 40 each", len(fp32), len(bf16))
	}
	same := 0
	for i := range fp32 {
		if fp32[i] == bf16[i] {
			same++
		}
	}
	t.Logf("bf16 captions identical to fp32: %d/40", same)
	if same < 36 {
		t.Errorf("only %d/40 bf16 captions equal fp32's; first pair: %q / %q", same, fp32[0], bf16[0])
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"caption", "--precision", "fp8", imgs}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "want fp32 or bf16") {
		t.Errorf("--precision fp8: exit %d, stderr %q; want 2 naming fp32 and bf16", code, stderr.String())
	}
}

// captune doctor says whether this CPU computes bf16 natively.
func TestDoctorSaysBF16(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"doctor"}, &out, &errb); code != 0 {
		t.Fatalf("doctor exited %d: %s%s", code, out.String(), errb.String())
	}
	want := "bf16        yes"
	if inference.CheckPrecision(inference.BF16, gotch.CPU) != nil {
		want = "bf16        not on this CPU"
	}
	if !strings.Contains(out.String(), want) {
		t.Errorf("doctor does not say %q:\n%s", want, out.String())
	}
}
