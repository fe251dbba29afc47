package inference

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// WeightSource is a checkpoint's tensors by Hugging Face key.
type WeightSource interface {
	// Names lists every key the checkpoint holds.
	Names() []string
	// Shape returns a tensor's shape without reading its data.
	Shape(name string) ([]int64, bool)
	// Load reads a tensor onto the CPU in its stored dtype.
	Load(name string) (*ts.Tensor, error)
	// Close releases open files.
	Close() error
}

// LoadReport tells what loading a checkpoint found besides the weights.
type LoadReport struct {
	Missing    []string // keys the model needs that the checkpoint lacks (loading fails on any)
	Unexpected []string // keys the checkpoint has that the captioner does not use (a warning)
	Tied       []string // keys filled from another tensor, e.g. the LM head from the word embeddings
	Source     string   // the file(s) read
}

// Warnings returns human-readable warnings for the report.
func (r LoadReport) Warnings() []string {
	var w []string
	if len(r.Unexpected) > 0 {
		w = append(w, fmt.Sprintf("%d unused tensors in the checkpoint: %s", len(r.Unexpected), abbreviate(r.Unexpected, 8)))
	}
	for _, t := range r.Tied {
		w = append(w, "tied: "+t)
	}
	return w
}

func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}

type initKind int

const (
	initNormal initKind = iota // N(0, 0.02) as transformers' BlipPreTrainedModel._init_weights for text layers
	initZeros
	initOnes
)

// builder creates the model's parameters in a VarStore under their Hugging Face keys, taking each
// from a checkpoint when one is given, and records what was missing or mis-shaped.
type builder struct {
	root      *nn.Path
	src       WeightSource
	device    gotch.Device
	used      map[string]bool
	missing   []string
	shapeErrs []string
	loadErrs  []error
	// aliases fill a missing key from another parameter already built (tied weights).
	aliases map[string]string
	built   map[string]*ts.Tensor
	tied    []string
	// linears are the Linear layers built, by module name (for LoRA).
	linears map[string]*Linear
}

// kp is a dotted Hugging Face key prefix such as "text_decoder.bert.embeddings". Model code builds
// keys with it rather than with gotch's nn.Path, whose Sub appends to a shared slice: two siblings
// taken from one parent can overwrite each other's last element.
type kp string

// Sub returns the prefix extended by one name.
func (k kp) Sub(name string) kp {
	if k == "" {
		return kp(name)
	}
	return k + "." + kp(name)
}

func keyOf(p kp, name string) string { return string(p.Sub(name)) }

// nnPath walks a fresh gotch path from the root for a prefix; each intermediate is used once.
func (b *builder) nnPath(p kp) *nn.Path {
	np := b.root
	for _, part := range strings.Split(string(p), ".") {
		np = np.Sub(part)
	}
	return np
}

func (b *builder) param(p kp, name string, shape []int64, init initKind) *ts.Tensor {
	key := keyOf(p, name)
	t := b.source(key, shape, init)
	v, err := b.nnPath(p).Add(name, t, true)
	if err != nil {
		b.loadErrs = append(b.loadErrs, fmt.Errorf("add %s: %w", key, err))
		return t
	}
	t.MustDrop()
	b.built[key] = v
	return v
}

func (b *builder) source(key string, shape []int64, init initKind) *ts.Tensor {
	if b.src == nil {
		return initTensor(shape, init, b.device)
	}
	got, ok := b.src.Shape(key)
	if !ok {
		if alias, ok := b.aliases[key]; ok {
			if t, ok := b.built[alias]; ok && sameShape(t.MustSize(), shape) {
				b.tied = append(b.tied, fmt.Sprintf("%s from %s", key, alias))
				return t.MustDetachCopy(false)
			}
		}
		b.missing = append(b.missing, key)
		return initTensor(shape, initZeros, b.device)
	}
	b.used[key] = true
	if !sameShape(got, shape) {
		b.shapeErrs = append(b.shapeErrs, fmt.Sprintf("%s: checkpoint has shape %v, the config needs %v", key, got, shape))
		return initTensor(shape, initZeros, b.device)
	}
	t, err := b.src.Load(key)
	if err != nil {
		b.loadErrs = append(b.loadErrs, err)
		return initTensor(shape, initZeros, b.device)
	}
	dtype := t.DType()
	loaded, err := asFloatOn(t, b.device) // frees t
	if err != nil {
		b.loadErrs = append(b.loadErrs, fmt.Errorf("%s: convert the %v tensor to float32 on %v: %w", key, dtype, b.device, err))
		return initTensor(shape, initZeros, b.device)
	}
	return loaded
}

func (b *builder) finish(report *LoadReport) error {
	if b.src == nil {
		return nil
	}
	for _, n := range b.src.Names() {
		if !b.used[n] && !ignoredKey(n) {
			report.Unexpected = append(report.Unexpected, n)
		}
	}
	sort.Strings(report.Unexpected)
	report.Missing = b.missing
	report.Tied = b.tied
	if len(b.loadErrs) > 0 {
		return b.loadErrs[0]
	}
	if len(b.shapeErrs) > 0 {
		return fmt.Errorf("checkpoint does not fit config.json: %s", strings.Join(b.shapeErrs, "; "))
	}
	if len(b.missing) > 0 {
		return fmt.Errorf("checkpoint is missing %d tensors: %s", len(b.missing), abbreviate(b.missing, 10))
	}
	return nil
}

// ignoredKey names keys that transformers itself derives rather than reads: the LM head's decoder
// bias is tied to cls.predictions.bias, and position_ids is a non-persistent buffer in new versions.
func ignoredKey(k string) bool {
	return k == "text_decoder.cls.predictions.decoder.bias" || strings.HasSuffix(k, ".position_ids")
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func initTensor(shape []int64, init initKind, device gotch.Device) *ts.Tensor {
	switch init {
	case initOnes:
		return ts.MustOnes(shape, gotch.Float, device)
	case initNormal:
		return ts.MustRandn(shape, gotch.Float, device).MustMulScalar(ts.FloatScalar(0.02), true)
	default:
		return ts.MustZeros(shape, gotch.Float, device)
	}
}
