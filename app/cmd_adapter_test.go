package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
)

// saveTestAdapter writes to dir an adapter of the model in baseDir whose B are random (a fresh
// adapter, B = 0, would caption as its base does), naming baseRef as its base.
func saveTestAdapter(t *testing.T, baseDir, dir, baseRef string) {
	t.Helper()
	m, _, err := inference.LoadModel(baseDir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.AddLora(inference.NewLoraConfig(baseRef, 4, 8, 0, []string{"query", "value"}), 5); err != nil {
		t.Fatal(err)
	}
	ng := ts.NewNoGradGuard()
	for _, p := range m.LoraParams() {
		if strings.HasSuffix(p.Name, "lora_B.weight") {
			r := ts.MustRandn(p.Tensor.MustSize(), gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.5), true)
			p.Tensor.Copy_(r)
			r.MustDrop()
		}
	}
	ng.Drop()
	if err := m.SaveAdapter(dir); err != nil {
		t.Fatal(err)
	}
}

// adapterCaptions runs captune caption --json with args on images and returns each image's caption
// and the model its line names.
func adapterCaptions(t *testing.T, args []string, images ...string) (code int, captions map[string]string, model, stderr string) {
	t.Helper()
	all := append(append([]string{"caption", "--json", "--device", "cpu", "--beams", "1", "--min-length", "1", "--max-length", "12"}, args...), images...)
	code, stdout, stderr := runCLI(t, all...)
	captions = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var r struct{ File, Caption, Model string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("caption line %q: %v", line, err)
		}
		captions[r.File], model = r.Caption, r.Model
	}
	return code, captions, model, stderr
}

// captune caption takes an adapter as --model BASE --adapter DIR, as --adapter DIR alone (on the
// base its adapter_config.json names) and as --model DIR; each captions as the adapted model
// does, not as the base. A wrong adapter is refused with the inference error intact.
func TestCaptionWithAdapter(t *testing.T) {
	tiny := tinyModel(t)
	tinyB := filepath.Join(filepath.Dir(tiny), "tiny-b")
	work := t.TempDir()
	adapter := filepath.Join(work, "run-a")
	saveTestAdapter(t, tiny, adapter, inference.BaseModelRef(tiny))
	lost := filepath.Join(work, "run-lost")
	saveTestAdapter(t, tiny, lost, filepath.Join(work, "deleted-base"))
	imgDir := filepath.Join("..", "inference", "testdata", "images")
	images := []string{filepath.Join(imgDir, "rgb.png"), filepath.Join(imgDir, "photo.jpg"), filepath.Join(imgDir, "gray.png")}

	code, base, _, stderr := adapterCaptions(t, []string{"--model", tiny}, images...)
	if code != 0 || len(base) != len(images) {
		t.Fatalf("base model: exit %d, %d captions: %s", code, len(base), stderr)
	}
	var adapted map[string]string
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"--model BASE --adapter DIR", []string{"--model", tiny, "--adapter", adapter}},
		{"--adapter DIR on its own base", []string{"--adapter", adapter}},
		{"--model ADAPTER_DIR", []string{"--model", adapter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got, model, stderr := adapterCaptions(t, tc.args, images...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if model != "run-a" {
				t.Errorf("lines name model %q, want the adapter's folder run-a", model)
			}
			if same := sameCaptions(got, base); same == len(images) {
				t.Errorf("captions equal the base model's: %v", got)
			}
			if adapted == nil {
				adapted = got
			} else if sameCaptions(got, adapted) != len(images) {
				t.Errorf("captions %v, want those of --model BASE --adapter DIR %v", got, adapted)
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"adapter of another base", []string{"--model", tinyB, "--adapter", adapter}, []string{"load adapter " + adapter, "adapter tensor base_model.model."}},
		{"not an adapter", []string{"--adapter", tiny}, []string{"--adapter " + tiny + ": no adapter_config.json"}},
		{"adapter as the base of an adapter", []string{"--model", adapter, "--adapter", adapter}, []string{"is a LoRA adapter too"}},
		{"base found nowhere", []string{"--model", lost}, []string{`its base model "` + filepath.Join(work, "deleted-base") + `" was not found`, "pass --model BASE --adapter " + lost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, _, stderr := adapterCaptions(t, tc.args, images...)
			if code == 0 {
				t.Fatalf("exit 0, want a refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

func sameCaptions(a, b map[string]string) int {
	n := 0
	for k, v := range a {
		if b[k] == v {
			n++
		}
	}
	return n
}

// An adapter trained on the bundled model names it "bundled", which the app resolves to the
// unpacked demo model.
func TestAdapterOnBundledModel(t *testing.T) {
	if _, err := os.Stat("../assets/model/config.json"); err != nil {
		t.Fatalf("the bundled model is committed in assets/model: %v", err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where the bundled model is unpacked
	bundled, err := ResolveModel("bundled")
	if err != nil {
		t.Fatal(err)
	}
	adapter := filepath.Join(t.TempDir(), "shapes-lora")
	saveTestAdapter(t, bundled, adapter, "bundled")
	ref, err := resolveModelRef(adapter, "")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Base != bundled || ref.Adapter != adapter {
		t.Errorf("resolved to %+v, want base %s and adapter %s", ref, bundled, adapter)
	}
	img := filepath.Join("..", "inference", "testdata", "images", "rgb.png")
	code, got, model, stderr := adapterCaptions(t, []string{"--model", adapter}, img)
	if code != 0 || got[img] == "" || model != "shapes-lora" {
		t.Errorf("caption with the adapter: exit %d, captions %v, model %q: %s", code, got, model, stderr)
	}
}

// captune eval compares a base with its adapter given as a run folder (--model DIR) or with
// --adapter; the report names the adapter folder as the fine-tuned model.
func TestEvalComparesBaseAndAdapter(t *testing.T) {
	tiny := tinyModel(t)
	root := t.TempDir()
	data := filepath.Join(root, "shapes")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 5, Size: 64}, 30, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	adapter := filepath.Join(root, "run")
	saveTestAdapter(t, tiny, adapter, inference.BaseModelRef(tiny))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"adapter folder as --model", []string{"--model", adapter}},
		{"--adapter DIR on its own base", []string{"--adapter", adapter}},
		{"--model BASE --adapter DIR", []string{"--model", tiny, "--adapter", adapter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"eval", "--data", data, "--base", tiny, "--device", "cpu", "--json",
				"--beams", "1", "--min-length", "1", "--max-length", "8"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var cmp runinfo.Comparison
			if err := json.Unmarshal([]byte(stdout), &cmp); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			if cmp.BaseModel != tiny || cmp.Tuned != adapter || len(cmp.Images) == 0 {
				t.Fatalf("compared %s with %s on %d images, want %s with %s", cmp.BaseModel, cmp.Tuned, len(cmp.Images), tiny, adapter)
			}
			differ := 0
			for _, im := range cmp.Images {
				if im.Base != im.Tuned {
					differ++
				}
			}
			if differ == 0 {
				t.Errorf("the adapter captions every image as the base does: %+v", cmp.Images)
			}
		})
	}
}

// An adapter trained on a model pulled from the hub names its repo id (BaseModelRef), as peft
// does, and loads on the cached snapshot again without the network.
func TestAdapterOnPulledModel(t *testing.T) {
	hubEnv(t)
	code, stdout, stderr := runCLI(t, "model", "pull", testModelRepo)
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	snapshot := strings.TrimSpace(stdout)
	if ref := inference.BaseModelRef(snapshot); ref != testModelRepo {
		t.Fatalf("BaseModelRef(%s) = %q, want the repo id %s", snapshot, ref, testModelRepo)
	}
	adapter := filepath.Join(t.TempDir(), "run-hub")
	saveTestAdapter(t, snapshot, adapter, inference.BaseModelRef(snapshot))
	t.Setenv("HF_HUB_OFFLINE", "1")
	img := filepath.Join("..", "inference", "testdata", "images", "rgb.png")
	code, viaConfig, _, stderr := adapterCaptions(t, []string{"--model", adapter}, img)
	if code != 0 {
		t.Fatalf("caption --model ADAPTER: exit %d: %s", code, stderr)
	}
	code, explicit, _, stderr := adapterCaptions(t, []string{"--model", snapshot, "--adapter", adapter}, img)
	if code != 0 || viaConfig[img] != explicit[img] {
		t.Errorf("through adapter_config.json %q, with --model SNAPSHOT --adapter %q (exit %d: %s)", viaConfig[img], explicit[img], code, stderr)
	}
}
