package finetune

import (
	"bufio"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/trainlog"
	"github.com/captune/captune/inference"
)

// jobTemplate is the training job Captune hands to Hugging Face accelerate: train.py, its pinned
// requirements, accelerate configurations and the README template. It is maintained here, beside
// the trainer whose recipe train.py repeats.
//
//go:embed jobtemplate
var jobTemplate embed.FS

// JobFormatVersion is the version of job.json's layout.
const JobFormatVersion = 1

// The files and folders of a job that train.py and Captune's job watcher rely on.
const (
	JobSettingsFile = trainlog.JobSettingsFile // JobSettings
	JobOrdersFile   = "epoch_orders.txt"       // one line per epoch: the sample order, space-separated
	JobTrainDir     = "data/train"             // Hugging Face imagefolder split with metadata.jsonl
	JobValDir       = "data/validation"        // the same for the validation images (may be absent)
	JobBaseDir      = trainlog.JobBaseDir      // the base model's files, when it is a local folder
	JobOutputDir    = trainlog.JobOutputDir    // where train.py writes the log, checkpoints and model
	jobMetadataFile = "metadata.jsonl"         // an imagefolder split's captions
	jobTemplateDir  = "jobtemplate"            // in jobTemplate
	jobReadmeFile   = "README.md.tmpl"         // in jobTemplate, filled in as the job's README.md
	jobTemplateMode = 0o644                    // of the files written from the template
	jobScriptMode   = 0o755                    // of train.py
)

// JobSettings is job.json: every setting train.py trains with, resolved by Captune (the base
// model's recommendation applied, the loss recipe's smoothing and token ids read from its config).
type JobSettings struct {
	FormatVersion    int      `json:"format_version"`
	CaptuneVersion   string   `json:"captune_version,omitempty"`
	BaseModel        string   `json:"base_model"`              // JobBaseDir, or a hub repo id
	BaseRevision     string   `json:"base_revision,omitempty"` // the hub commit Captune used
	TrainDir         string   `json:"train_dir"`
	ValDir           string   `json:"val_dir"`
	EpochOrders      string   `json:"epoch_orders"`
	TrainSamples     int      `json:"train_samples"`
	ValSamples       int      `json:"val_samples"`
	Recipe           string   `json:"recipe"` // blip or hf
	LabelSmoothing   float64  `json:"label_smoothing"`
	PadTokenID       int64    `json:"pad_token_id"`
	BosTokenID       int64    `json:"bos_token_id"`
	Prompt           string   `json:"prompt"`
	MaxTextLen       int      `json:"max_text_len"`
	Epochs           int      `json:"epochs"`
	MaxSteps         int      `json:"max_steps"`
	BatchSize        int      `json:"batch_size"` // per process
	GradAccum        int      `json:"grad_accum"`
	LR               float64  `json:"lr"`
	WeightDecay      float64  `json:"weight_decay"`
	Beta1            float64  `json:"beta1"`
	Beta2            float64  `json:"beta2"`
	Eps              float64  `json:"eps"`
	WarmupSteps      int      `json:"warmup_steps"`
	Schedule         string   `json:"schedule"`
	ClipNorm         float64  `json:"clip_norm"`
	FreezeVision     bool     `json:"freeze_vision"`
	FreezeTextLayers int      `json:"freeze_text_layers"`
	Seed             uint64   `json:"seed"`
	Augment          bool     `json:"augment"`
	CheckpointEvery  int      `json:"checkpoint_every"`
	KeepLast         int      `json:"keep_last"`
	Method           string   `json:"method"`         // "full" or "lora"
	Lora             *JobLora `json:"lora,omitempty"` // the adapters of a LoRA job
}

// JobLora is how a LoRA job trains: from the adapter Run would start from (Init, a peft adapter
// folder in the job: fresh A drawn from the run's seed, B zero), so that one process steps as
// Captune does; Merge asks for the merged model beside the adapter.
type JobLora struct {
	Init    string   `json:"init"`
	Rank    int      `json:"r"`
	Alpha   float64  `json:"lora_alpha"`
	Dropout float64  `json:"lora_dropout"`
	Targets []string `json:"target_modules"`
	Merge   bool     `json:"merge"`
}

// JobLoraInitDir is the folder of a LoRA job's starting adapter.
const JobLoraInitDir = "lora_init"

// JobOptions says what a job is made of besides the training settings.
type JobOptions struct {
	DataRoot       string // the dataset folder: images keep their paths relative to it
	HubRepo        string // the base model's hub repo id when it is a cache snapshot ("" for a local folder)
	HubRevision    string // its commit
	CaptuneVersion string
}

// JobSummary says what ExportJob wrote.
type JobSummary struct {
	Dir                      string
	TrainImages, ValImages   int
	TrainSamples, ValSamples int
	Epochs, StepsPerEpoch    int // at one process
	TotalSteps               int // at one process
	Linked, Copied           int // image and model files hard-linked / copied into the job
	BaseModel                string
}

// ErrJobResume is returned when a job export is asked to resume: a job starts from its base model.
var ErrJobResume = errors.New("a training job cannot resume a Captune run")

// ExportJob writes a self-contained training job into cfg.OutDir: the training and validation
// images as a Hugging Face imagefolder (hard-linked, copied where links are impossible), the base
// model (linked, or referenced by its hub id), job.json with every setting, the epoch orders
// Captune's trainer would use, and train.py with its requirements, accelerate configurations and
// a README. One process of train.py steps exactly as Run does on the same data and settings.
func ExportJob(cfg Config, data Data, opts JobOptions) (JobSummary, error) {
	sum := JobSummary{Dir: cfg.OutDir}
	if cfg.Resume {
		return sum, ErrJobResume
	}
	if startsFromAdapter(cfg) {
		return sum, fmt.Errorf("%w: a training job starts from a whole model, not a LoRA adapter: merge it first (captune finetune --method lora --merge writes RUN/%s)", ErrBadConfig, MergedDir)
	}
	if err := cfg.Validate(); err != nil {
		return sum, err
	}
	samples, images, err := trainingSamples(data.Train)
	if err != nil {
		return sum, err
	}
	valSamples, valImages, _ := buildSamples(data.Val)
	mcfg, err := inference.LoadConfig(cfg.BaseModel)
	if err != nil {
		return sum, err
	}
	if err := prepareOutDir(cfg); err != nil {
		return sum, err
	}
	perEpoch, total := plannedSteps(cfg, len(samples))
	epochs := cfg.Epochs
	if cfg.MaxSteps > 0 {
		epochs = (total + perEpoch - 1) / perEpoch
	}
	sum.TrainImages, sum.ValImages = len(images), len(valImages)
	sum.TrainSamples, sum.ValSamples = len(samples), len(valSamples)
	sum.Epochs, sum.StepsPerEpoch, sum.TotalSteps = epochs, perEpoch, total

	w := jobWriter{dir: cfg.OutDir, sum: &sum}
	if err := w.split(JobTrainDir, data.Train, opts.DataRoot); err != nil {
		return sum, err
	}
	if len(valImages) > 0 {
		if err := w.split(JobValDir, data.Val, opts.DataRoot); err != nil {
			return sum, err
		}
	}
	base, err := w.baseModel(cfg.BaseModel, opts)
	if err != nil {
		return sum, err
	}
	sum.BaseModel = base
	if err := w.orders(len(samples), cfg, epochs); err != nil {
		return sum, err
	}
	if err := w.loraInit(cfg); err != nil {
		return sum, err
	}
	st := jobSettings(cfg, mcfg, base, opts)
	st.TrainSamples, st.ValSamples = len(samples), len(valSamples)
	if err := writeJSONFile(filepath.Join(cfg.OutDir, JobSettingsFile), st); err != nil {
		return sum, fmt.Errorf("write %s: %w", JobSettingsFile, err)
	}
	if err := w.template(st, sum); err != nil {
		return sum, err
	}
	return sum, nil
}

// jobSettings is job.json for cfg, with the recipe's smoothing and the token ids of mcfg as
// Model.PrepareBatch takes them.
func jobSettings(cfg Config, mcfg inference.Config, base string, opts JobOptions) JobSettings {
	smoothing := mcfg.Text.LabelSmoothing
	if cfg.Recipe == inference.RecipeBLIP {
		smoothing = 0.1
	}
	rev := ""
	if opts.HubRepo != "" {
		rev = opts.HubRevision
	}
	return JobSettings{
		FormatVersion: JobFormatVersion, CaptuneVersion: opts.CaptuneVersion,
		BaseModel: base, BaseRevision: rev,
		TrainDir: JobTrainDir, ValDir: JobValDir, EpochOrders: JobOrdersFile,
		Recipe: cfg.Recipe.String(), LabelSmoothing: smoothing,
		PadTokenID: mcfg.Text.PadTokenID, BosTokenID: mcfg.Text.BosTokenID,
		Prompt: cfg.Prompt, MaxTextLen: cfg.MaxTextLen,
		Epochs: cfg.Epochs, MaxSteps: cfg.MaxSteps, BatchSize: cfg.BatchSize, GradAccum: cfg.GradAccum,
		LR: cfg.LR, WeightDecay: cfg.WeightDecay, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps,
		WarmupSteps: cfg.WarmupSteps, Schedule: cfg.Schedule, ClipNorm: cfg.ClipNorm,
		FreezeVision: cfg.FreezeVision, FreezeTextLayers: cfg.FreezeTextLayers,
		Seed: cfg.Seed, Augment: cfg.Augment, CheckpointEvery: cfg.CheckpointEvery, KeepLast: cfg.KeepLast,
		Method: cfg.method(), Lora: jobLora(cfg),
	}
}

func jobLora(cfg Config) *JobLora {
	if !cfg.lora() {
		return nil
	}
	return &JobLora{Init: JobLoraInitDir, Rank: cfg.LoraRank, Alpha: cfg.LoraAlpha, Dropout: cfg.LoraDropout,
		Targets: inference.LoraTargetModules(cfg.LoraTargets), Merge: cfg.Merge}
}

// loraInit writes the adapter a LoRA run of cfg starts from into the job (see JobLora).
func (w jobWriter) loraInit(cfg Config) error {
	if !cfg.lora() {
		return nil
	}
	m, _, err := inference.LoadModel(cfg.BaseModel, gotch.CPU)
	if err != nil {
		return err
	}
	defer m.Free()
	if err := m.AddLora(freshLoraConfig(cfg.BaseModel, cfg), cfg.Seed); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return m.SaveAdapter(filepath.Join(w.dir, JobLoraInitDir))
}

// jobWriter writes the parts of a job folder.
type jobWriter struct {
	dir string
	sum *JobSummary
}

// jobRow is one line of an imagefolder split's metadata.jsonl: text is the first caption (the
// column most tools read), captions all of them (every one trains).
type jobRow struct {
	FileName string   `json:"file_name"`
	Text     string   `json:"text"`
	Captions []string `json:"captions"`
}

// split writes the images of ex that have a caption into the split folder rel with its
// metadata.jsonl, in ex's order (the order samples are numbered in).
func (w jobWriter) split(rel string, ex []Example, root string) error {
	dir := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("job split %s: %w", rel, err)
	}
	path := filepath.Join(dir, jobMetadataFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	meta := bufio.NewWriter(f)
	enc := json.NewEncoder(meta)
	enc.SetEscapeHTML(false)
	used := map[string]bool{}
	for i, e := range ex {
		var caps []string
		for _, c := range e.Captions {
			if strings.TrimSpace(c) != "" {
				caps = append(caps, c)
			}
		}
		if len(caps) == 0 {
			continue
		}
		name := jobImageName(e.Image, root, i, used)
		if err := w.place(e.Image, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			f.Close()
			return err
		}
		enc.Encode(jobRow{FileName: name, Text: caps[0], Captions: caps}) // errors surface at Flush
	}
	if err := meta.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// jobImageName is the name of image inside a split folder: its path in the dataset with the
// folders joined by "__" (Hugging Face datasets reads a folder named like a split — val/, test/,
// train-2/ — anywhere in the path as that split), or for an image outside root, its index and base
// name. A name already used gets the index in front.
func jobImageName(image, root string, i int, used map[string]bool) string {
	name := ""
	if root != "" {
		if rel, err := filepath.Rel(root, image); err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			name = strings.ReplaceAll(filepath.ToSlash(rel), "/", "__")
		}
	}
	if name == "" || used[name] {
		name = strconv.Itoa(i) + "_" + strings.ReplaceAll(filepath.ToSlash(filepath.Base(image)), "/", "__")
	}
	used[name] = true
	return name
}

// place hard-links src at dst, or copies it where a link is impossible (another file system, a
// file system without links). Symbolic links are followed (a hub cache's files are links).
func (w jobWriter) place(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := os.Link(real, dst); err == nil {
		w.sum.Linked++
		return nil
	}
	if err := copyFile(real, dst); err != nil {
		return fmt.Errorf("job: copy %s: %w", src, err)
	}
	w.sum.Copied++
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, jobTemplateMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// baseModel links a local base model's files into JobBaseDir and returns how job.json names the
// model: JobBaseDir, or the hub repo id of a cache snapshot (which train.py downloads).
func (w jobWriter) baseModel(dir string, opts JobOptions) (string, error) {
	if opts.HubRepo != "" {
		return opts.HubRepo, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("job base model: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // checkpoints and the like are not part of the model
		}
		if err := w.place(filepath.Join(dir, e.Name()), filepath.Join(w.dir, JobBaseDir, e.Name())); err != nil {
			return "", err
		}
	}
	return JobBaseDir, nil
}

// orders writes the sample order of each epoch, as Run draws them.
func (w jobWriter) orders(n int, cfg Config, epochs int) error {
	path := filepath.Join(w.dir, JobOrdersFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", JobOrdersFile, err)
	}
	b := bufio.NewWriter(f)
	for e := 0; e < epochs; e++ {
		for i, v := range epochOrder(n, cfg.Seed, e, cfg.Shuffle) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(v))
		}
		b.WriteByte('\n')
	}
	if err := b.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", JobOrdersFile, err)
	}
	return f.Close()
}

// template writes train.py, requirements.txt, the accelerate configurations and README.md.
func (w jobWriter) template(st JobSettings, sum JobSummary) error {
	return fs.WalkDir(jobTemplate, jobTemplateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, jobTemplateDir+"/")
		data, err := jobTemplate.ReadFile(p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(jobTemplateMode)
		switch {
		case rel == jobReadmeFile:
			rel = "README.md"
			if data, err = jobReadme(string(data), st, sum); err != nil {
				return err
			}
		case strings.HasSuffix(rel, ".py"):
			mode = jobScriptMode
		}
		dst := filepath.Join(w.dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		return os.Chmod(dst, mode)
	})
}

// jobReadme fills in the README template.
func jobReadme(tmpl string, st JobSettings, sum JobSummary) ([]byte, error) {
	t, err := template.New("README").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("job README template: %w", err)
	}
	var b strings.Builder
	err = t.Execute(&b, struct {
		S   JobSettings
		Sum JobSummary
		Hub bool
	}{st, sum, st.BaseModel != JobBaseDir})
	if err != nil {
		return nil, fmt.Errorf("job README: %w", err)
	}
	return []byte(b.String()), nil
}
