package app

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/finetune/trainlog"
)

// jobDataset writes n synthetic 32-pixel images with captions, the tiny model's domain.
func jobDataset(t *testing.T, n int) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, n, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	return data
}

// jobFlags are the training flags the job tests share between captune finetune and export-job.
var jobFlags = []string{"--max-steps", "5", "--batch-size", "4", "--lr", "1e-3", "--warmup", "2", "--holdout", "tenth", "--seed", "7"}

// TestExportJob exports a job as a user would and checks what it holds: the images the trainer
// would use (hard links to the dataset's files) as an imagefolder, the base model, job.json with
// the flags given, the epoch orders, train.py and the files that run it.
func TestExportJob(t *testing.T) {
	model := tinyModel(t)
	data := jobDataset(t, 20)
	job := filepath.Join(t.TempDir(), "job")
	code, stdout, stderr := runCLI(t, append([]string{"export-job", "--data", data, "--out", job, "--model", model}, jobFlags...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "job written to "+job+": 17 training images (17 captions), 3 validation; 5 steps per epoch") {
		t.Errorf("stdout does not say what was written:\n%s", stdout)
	}
	ds, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	set := ds.TrainingSet(annotate.TrainTrusted, annotate.HoldoutTenth)
	for _, split := range []struct {
		dir    string
		images []annotate.TrainingImage
	}{{finetune.JobTrainDir, set.Train}, {finetune.JobValDir, set.Val}} {
		rows := readJobMetadata(t, filepath.Join(job, split.dir))
		if len(rows) != len(split.images) {
			t.Fatalf("%s: %d rows, want the %d images TrainingSet chose", split.dir, len(rows), len(split.images))
		}
		for i, r := range rows {
			im := split.images[i]
			if want, _ := filepath.Rel(data, im.Path); r.FileName != filepath.ToSlash(want) || !slices.Equal(r.Captions, im.Captions) || r.Text != im.Captions[0] {
				t.Errorf("%s row %d = %+v, want %s %q", split.dir, i, r, want, im.Captions)
			}
			if !sameFile(t, filepath.Join(job, split.dir, r.FileName), im.Path) {
				t.Errorf("%s: %s is not a hard link to the dataset's image", split.dir, r.FileName)
			}
		}
	}
	var st finetune.JobSettings
	readJSON(t, filepath.Join(job, finetune.JobSettingsFile), &st)
	if st.LR != 1e-3 || st.BatchSize != 4 || st.MaxSteps != 5 || st.WarmupSteps != 2 || st.Seed != 7 || st.Recipe != "blip" ||
		st.LabelSmoothing != 0.1 || st.BaseModel != finetune.JobBaseDir || st.TrainSamples != 17 || st.ValSamples != 3 {
		t.Errorf("job.json = %+v, not the flags given", st)
	}
	orders := readOrders(t, filepath.Join(job, finetune.JobOrdersFile))
	if len(orders) != 1 || len(orders[0]) != 17 {
		t.Fatalf("epoch orders %v: want one epoch of the 17 samples", orders)
	}
	sorted := slices.Clone(orders[0])
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatalf("epoch order %v is not a permutation", orders[0])
		}
	}
	for _, f := range []string{"train.py", "requirements.txt", "README.md", "accelerate/one_gpu.yaml", "accelerate/multi_gpu.yaml",
		"accelerate/multi_node.yaml", "base_model/config.json", "base_model/model.safetensors", "base_model/tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(job, f)); err != nil {
			t.Errorf("job lacks %s: %v", f, err)
		}
	}
	if st, err := os.Stat(filepath.Join(job, "train.py")); err == nil && st.Mode()&0o111 == 0 {
		t.Errorf("train.py is not executable: %v", st.Mode())
	}
	readme, _ := os.ReadFile(filepath.Join(job, "README.md"))
	for _, want := range []string{"accelerate launch --config_file accelerate/multi_gpu.yaml train.py", "torchrun --nnodes 2", "on 17 images (17 captions), validating on 3 images"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	reqs, _ := os.ReadFile(filepath.Join(job, "requirements.txt"))
	for _, want := range []string{"torch==2.1.0", "transformers==4.44.2", "accelerate==0.34.2"} {
		if !strings.Contains(string(reqs), want) {
			t.Errorf("requirements.txt lacks the pin %s", want)
		}
	}
}

// TestExportJobRefuses: bad arguments are refused before anything is written.
func TestExportJobRefuses(t *testing.T) {
	model := tinyModel(t)
	data := jobDataset(t, 4)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no data", []string{"--out", t.TempDir()}, 2, "--data and --out are required"},
		{"resume", []string{"--data", data, "--out", t.TempDir(), "--resume"}, 2, "cannot resume"},
		{"bad flag value", []string{"--data", data, "--out", t.TempDir(), "--schedule", "sawtooth"}, 2, "schedule"},
		{"folder with files", []string{"--data", data, "--out", full}, 1, "--overwrite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"export-job", "--model", model}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d naming %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
}

// jobRow is a line of a job's metadata.jsonl.
type jobRow struct {
	FileName string   `json:"file_name"`
	Text     string   `json:"text"`
	Captions []string `json:"captions"`
}

func readJobMetadata(t *testing.T, dir string) []jobRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metadata.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []jobRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r jobRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func readOrders(t *testing.T, path string) [][]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var order []int
		for _, f := range strings.Fields(line) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, v)
		}
		out = append(out, order)
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := sa.Sys().(*syscall.Stat_t); ok {
		y := sb.Sys().(*syscall.Stat_t)
		return x.Ino == y.Ino && x.Dev == y.Dev
	}
	return os.SameFile(sa, sb)
}

// jobPython is the dev venv's python with accelerate, for the tests that run train.py; they run
// only when CAPTUNE_JOBCHECK is set (make jobcheck, make scale-check), so make test needs no Python.
func jobPython(t *testing.T) string {
	t.Helper()
	if os.Getenv("CAPTUNE_JOBCHECK") == "" {
		t.Skip("runs train.py under accelerate: set CAPTUNE_JOBCHECK=1 (make jobcheck) with the dev venv (make dev)")
	}
	py, err := filepath.Abs(filepath.Join("..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no dev venv at %s (make dev): %v", py, err)
	}
	if out, err := exec.Command(py, "-c", "import accelerate, transformers").CombinedOutput(); err != nil {
		t.Skipf("the dev venv lacks accelerate or transformers (pip install -r scripts/requirements-dev.txt): %v\n%s", err, out)
	}
	return py
}

// launchJob runs the job's train.py on the CPU: one process with accelerate launch, several with
// torchrun (accelerate launch runs CPU processes through MPI only).
func launchJob(t *testing.T, py, job, out string, n int, extra ...string) {
	t.Helper()
	args := []string{"-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
		"--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1"}
	if n > 1 {
		args = []string{"-m", "torch.distributed.run", "--nproc_per_node", strconv.Itoa(n), "--master_port", strconv.Itoa(29600 + os.Getpid()%300)}
	}
	args = append(append(args, filepath.Join(job, "train.py"), "--out", out), extra...)
	cmd := exec.Command(py, args...)
	cmd.Dir = job
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "OMP_NUM_THREADS=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("train.py in %d process(es): %v\n%s", n, err, b)
	}
}

func jobLosses(t *testing.T, dir string) []float64 {
	t.Helper()
	l, err := trainlog.Read(filepath.Join(dir, trainlog.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return l.Losses()
}

func assertLossesClose(t *testing.T, what string, want, got []float64, n int) {
	t.Helper()
	if len(want) < n || len(got) < n {
		t.Fatalf("%s: %d and %d losses, want at least %d", what, len(want), len(got), n)
	}
	for i := 0; i < n; i++ {
		if d := math.Abs(want[i] - got[i]); d > 1e-4 {
			t.Errorf("%s: step %d loss %.7f, want %.7f (|diff| %.2g > 1e-4)", what, i+1, got[i], want[i], d)
		} else {
			t.Logf("%s: step %d loss %.7f vs %.7f (|diff| %.2g)", what, i+1, got[i], want[i], d)
		}
	}
}

// TestExportJobSameRecipe is the "same recipe" check: the exported train.py in one CPU process
// takes the same first 5 optimizer steps as captune finetune with the same flags, within 1e-4 (the
// BLIP recipe at the defaults, and the hf recipe with a prompt, gradient accumulation, a linear
// schedule and frozen text layers); its result is a model Captune loads and captions with, and its
// data is a valid imagefolder. (--freeze-vision is left out: captune finetune then trains on
// cached image features stored at 16 bits, which train.py does not repeat.)
func TestExportJobSameRecipe(t *testing.T) {
	py := jobPython(t)
	model := tinyModel(t)
	data := jobDataset(t, 20)
	tests := []struct {
		name  string
		flags []string
	}{
		{"blip recipe", jobFlags},
		{"hf recipe, prompt, accumulation", []string{"--max-steps", "5", "--batch-size", "2", "--grad-accum", "2", "--lr", "1e-3", "--warmup", "1",
			"--holdout", "tenth", "--seed", "3", "--recipe", "hf", "--prompt", "a picture of", "--schedule", "linear", "--freeze-text-layers", "1"}},
		// peft's LoRA in train.py from the adapter Captune drew; the image features cached in
		// memory are exact, and dropout 0 makes the steps comparable.
		{"lora", append([]string{"--method", "lora", "--lora-rank", "4", "--lora-dropout", "0", "--lora-targets", "query,value,output",
			"--merge", "--feature-cache", "memory"}, jobFlags...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := filepath.Join(t.TempDir(), "job")
			if code, _, stderr := runCLI(t, append([]string{"export-job", "--data", data, "--out", job, "--model", model}, tc.flags...)...); code != 0 {
				t.Fatalf("export-job: exit %d: %s", code, stderr)
			}
			ft := filepath.Join(t.TempDir(), "ft")
			if code, _, stderr := runCLI(t, append([]string{"finetune", "--data", data, "--out", ft, "--model", model, "--device", "cpu", "--no-estimate"}, tc.flags...)...); code != 0 {
				t.Fatalf("finetune: exit %d: %s", code, stderr)
			}
			out := filepath.Join(job, finetune.JobOutputDir)
			launchJob(t, py, job, out, 1)
			assertLossesClose(t, "train.py vs captune finetune", jobLosses(t, ft), jobLosses(t, out), 5)
			if ready, err := trainlog.ModelReady(out); !ready || err != nil {
				t.Fatalf("job output not ready: %v, %v", ready, err)
			}
			img := filepath.Join(data, "synth_00000.png")
			models := []string{out}
			if tc.name == "lora" {
				// The job's result is a peft adapter folder on Captune's base, and merged/ the full model.
				models = append(models, filepath.Join(out, finetune.MergedDir))
			}
			for _, m := range models {
				code, stdout, stderr := runCLI(t, "caption", "--model", m, "--device", "cpu", img)
				if code != 0 || !strings.HasPrefix(stdout, img+"\t") {
					t.Errorf("captune caption with the job's model %s: exit %d, stdout %q, stderr %s", m, code, stdout, stderr)
				}
			}
			checkImagefolder(t, py, filepath.Join(job, "data"), 17, 3)
		})
	}
}

// checkImagefolder loads the job's data with Hugging Face datasets when the venv has it, else
// checks the imagefolder rules (file_name relative to metadata.jsonl, the same keys on every row).
func checkImagefolder(t *testing.T, py, dir string, train, val int) {
	t.Helper()
	script := `
import json, os, sys
d, want = sys.argv[1], {"train": int(sys.argv[2]), "validation": int(sys.argv[3])}
try:
    import datasets
except ImportError:
    datasets = None
if datasets:
    ds = datasets.load_dataset("imagefolder", data_dir=d)
    got = {k: v.num_rows for k, v in ds.items()}
    assert got == want, (got, want)
    assert set(ds["train"].column_names) == {"image", "text", "captions"}, ds["train"].column_names
    ds["train"][0]["image"].load()
    print("datasets", datasets.__version__, got)
else:
    for split, n in want.items():
        rows = [json.loads(l) for l in open(os.path.join(d, split, "metadata.jsonl"))]
        assert len(rows) == n and all(set(r) == {"file_name", "text", "captions"} for r in rows)
        assert all(os.path.isfile(os.path.join(d, split, r["file_name"])) for r in rows)
    print("format checked without datasets")
`
	cmd := exec.Command(py, "-c", script, dir, strconv.Itoa(train), strconv.Itoa(val))
	cmd.Env = append(os.Environ(), "HF_DATASETS_OFFLINE=1", "HF_HOME="+t.TempDir())
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("imagefolder check: %v\n%s", err, b)
	}
	t.Logf("imagefolder: %s", strings.TrimSpace(string(b)))
}

// TestExportJobTwoProcesses is the "really distributed" check: the job in 2 CPU processes (gloo)
// at batch 2 steps as 1 process at batch 4 (gradients averaged over both ranks, each weighted by
// its tokens), and the 2-process result loads in Captune.
func TestExportJobTwoProcesses(t *testing.T) {
	py := jobPython(t)
	model := tinyModel(t)
	data := jobDataset(t, 20)
	job := filepath.Join(t.TempDir(), "job")
	if code, _, stderr := runCLI(t, append([]string{"export-job", "--data", data, "--out", job, "--model", model}, jobFlags...)...); code != 0 {
		t.Fatalf("export-job: exit %d: %s", code, stderr)
	}
	one, two := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	launchJob(t, py, job, one, 1, "--batch-size", "4")
	launchJob(t, py, job, two, 2, "--batch-size", "2")
	assertLossesClose(t, "2 processes at batch 2 vs 1 at batch 4", jobLosses(t, one), jobLosses(t, two), 5)
	l, err := trainlog.Read(filepath.Join(two, trainlog.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if l.Steps[0].Processes != 2 {
		t.Errorf("log says %d processes, want 2", l.Steps[0].Processes)
	}
	img := filepath.Join(data, "synth_00000.png")
	if code, stdout, stderr := runCLI(t, "caption", "--model", two, "--device", "cpu", img); code != 0 || !strings.HasPrefix(stdout, img+"\t") {
		t.Errorf("captune caption with the 2-process model: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}

// A base model from the Hugging Face cache is named by its repo id and commit in the job; any
// other folder is linked into it.
func TestHubSnapshot(t *testing.T) {
	tests := []struct{ dir, repo, rev string }{
		{"/cache/hub/models--Salesforce--blip-image-captioning-base/snapshots/82a1fd0", "Salesforce/blip-image-captioning-base", "82a1fd0"},
		{"/home/me/models/blip-tuned", "", ""},
		{"/cache/hub/models--a--b/blobs", "", ""},
	}
	for _, tc := range tests {
		if repo, rev := hubSnapshot(tc.dir); repo != tc.repo || rev != tc.rev {
			t.Errorf("hubSnapshot(%s) = %q, %q; want %q, %q", tc.dir, repo, rev, tc.repo, tc.rev)
		}
	}
}

// export-job takes every flag of captune finetune.
func TestExportJobTakesEveryFinetuneFlag(t *testing.T) {
	flags := func(cmd string) []string {
		_, _, help := runCLI(t, cmd, "--help")
		var names []string
		for _, line := range strings.Split(help, "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  -") {
				names = append(names, f[0])
			}
		}
		return names
	}
	ft, job := flags("finetune"), flags("export-job")
	if len(ft) < 20 {
		t.Fatalf("captune finetune --help lists %d flags: %v", len(ft), ft)
	}
	for _, f := range ft {
		if !slices.Contains(job, f) {
			t.Errorf("export-job lacks finetune's flag %s", f)
		}
	}
}
