package inference

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/tx"
)

// LoRA (low-rank adaptation) as the peft library defines it: a targeted Linear layer y = x·Wᵀ + b
// gains a trainable path scaling · B·A·dropout(x), with A [r, in] and B [out, r], while W and b stay
// frozen. An adapter is a few MB where the model is hundreds; adapters of one base model sit side by
// side and load onto it. Captune reads and writes peft's files (lora_config.go) and names the
// adapter tensors as peft saves them, so an adapter moves between Captune and Python unchanged.

// Lora is the set of adapters attached to a model's Linear layers.
type Lora struct {
	Config   LoraConfig
	adapters map[string]*loraAdapter // by module name, e.g. text_decoder.bert.encoder.layer.0.attention.self.query
	// training turns the adapters' input dropout on (peft applies it in train mode only).
	training bool
}

// loraAdapter is one layer's A and B (requires-grad leaves) and its scaling.
type loraAdapter struct {
	A, B    *ts.Tensor
	scaling float64
	dropout float64
	set     *Lora
}

// forward adds the adapter's path for input x to y, the frozen layer's output.
func (a *loraAdapter) forward(s *tx.Scope, x, y T) T {
	in := x
	if a.set.training && a.dropout > 0 {
		in = dropoutTrain(s, x, a.dropout)
	}
	d := linear(s, linear(s, in, W(a.A), T{}), W(a.B), T{})
	return add(s, y, mulScalar(s, d, a.scaling))
}

// LoraTargetNames are the names `--lora-targets` offers and the module-name suffixes they stand
// for, matched as peft matches a list of target_modules (a module named exactly so, or ending in
// "." and the suffix). Any other suffix that names Linear layers of the model is taken as is.
var LoraTargetNames = map[string]string{
	"query":        "query",              // text self- and cross-attention
	"key":          "key",                // text self- and cross-attention
	"value":        "value",              // text self- and cross-attention
	"output":       "output.dense",       // text attention outputs and feed-forward output
	"intermediate": "intermediate.dense", // text feed-forward input
	"qkv":          "qkv",                // vision encoder's fused attention input
}

// DefaultLoraTargets are peft's usual choice for BERT-like decoders: the text decoder's self- and
// cross-attention query and value projections.
var DefaultLoraTargets = []string{"query", "value"}

// LoraTargetModules turns names of `--lora-targets` into peft target_modules (see LoraTargetNames).
func LoraTargetModules(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if t, ok := LoraTargetNames[n]; ok {
			n = t
		}
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// LoraModules lists the Linear layers of m that targets select, sorted, as peft selects them: a
// list matches a module named exactly as an entry or ending in "." plus the entry; a regex (peft's
// target_modules given as one string) must match the whole name. A target that selects nothing, or
// selects only layers LoRA cannot adapt here, is an error naming it.
func (m *Model) LoraModules(targets LoraTargets) ([]string, error) {
	return matchLoraTargets(slices.Collect(maps.Keys(m.linears)), targets)
}

// matchLoraTargets lists, sorted, the names among layers that targets select (see LoraModules); a
// target that selects none is the error. Model.LoraModules and Config.LoraPlan both match with it.
func matchLoraTargets(layers []string, targets LoraTargets) ([]string, error) {
	var out []string
	if targets.Regex != "" {
		re, err := regexp.Compile("^(?:" + targets.Regex + ")$")
		if err != nil {
			return nil, fmt.Errorf("lora target_modules %q: %w", targets.Regex, err)
		}
		for _, name := range layers {
			if re.MatchString(name) {
				out = append(out, name)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("lora target_modules %q: matches no Linear layer of the model", targets.Regex)
		}
	}
	for _, t := range targets.List {
		n := 0
		for _, name := range layers {
			if name == t || strings.HasSuffix(name, "."+t) {
				n++
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("lora target %q: matches no Linear layer of the model (known: %s, or the end of a layer name such as attention.self.query)", t, strings.Join(LoraTargetNameList(), ", "))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoraTargetNameList is the names of LoraTargetNames, sorted.
func LoraTargetNameList() []string { return slices.Sorted(maps.Keys(LoraTargetNames)) }

// AddLora attaches fresh adapters as cfg describes to the layers its targets select: A drawn as
// peft draws it (Kaiming-uniform with a = √5, i.e. uniform in ±1/√in) from seed, B zero, so that
// the model computes exactly what it did before training. It refuses a rank larger than a layer's
// input or output size and a model that already has adapters.
func (m *Model) AddLora(cfg LoraConfig, seed uint64) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	modules, err := m.LoraModules(cfg.TargetModules)
	if err != nil {
		return err
	}
	tensors := map[string]*ts.Tensor{}
	for i, name := range modules {
		l := m.linears[name]
		out, in := l.Weight.MustSize()[0], l.Weight.MustSize()[1]
		r := cfg.rankOf(name)
		if r > min(in, out) {
			freeAll(tensors)
			return fmt.Errorf("lora rank %d: larger than layer %s (%d inputs, %d outputs)", r, name, in, out)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		bound := 1 / math.Sqrt(float64(in))
		a := make([]float32, r*in)
		for j := range a {
			a[j] = float32((2*rng.Float64() - 1) * bound)
		}
		tensors[LoraKey(name, "A")] = ts.MustOfSlice(a).MustView([]int64{r, in}, true).MustTo(m.Device, true)
		tensors[LoraKey(name, "B")] = ts.MustZeros([]int64{out, r}, gotch.Float, m.Device)
	}
	return m.attachLora(cfg, tensors)
}

// LoraKey is the name peft saves a module's adapter tensor under (part "A" or "B"):
// base_model.model.MODULE.lora_A.weight.
func LoraKey(module, part string) string {
	return loraKeyPrefix + module + ".lora_" + part + ".weight"
}

const loraKeyPrefix = "base_model.model."

// attachLora attaches adapters built from tensors (by LoraKey; attachLora owns them from here),
// checking every key and shape against the model; the first mismatch is the error.
func (m *Model) attachLora(cfg LoraConfig, tensors map[string]*ts.Tensor) error {
	if m.Lora != nil {
		freeAll(tensors)
		return fmt.Errorf("the model already has a LoRA adapter")
	}
	set := &Lora{Config: cfg, adapters: map[string]*loraAdapter{}}
	fail := func(err error) error {
		freeAll(tensors)
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(tensors)) {
		module, part, err := splitLoraKey(key)
		if err != nil {
			return fail(err)
		}
		l, ok := m.linears[module]
		if !ok {
			return fail(fmt.Errorf("adapter tensor %s: the model has no Linear layer %s", key, module))
		}
		ad := set.adapters[module]
		if ad == nil {
			ad = &loraAdapter{set: set, dropout: cfg.Dropout}
			set.adapters[module] = ad
		}
		if part == "A" {
			ad.A = tensors[key]
		} else {
			ad.B = tensors[key]
		}
		if err := checkLoraShape(key, tensors[key], l); err != nil {
			return fail(err)
		}
	}
	for module, ad := range set.adapters {
		if ad.A == nil || ad.B == nil {
			return fail(fmt.Errorf("adapter for %s: has only one of lora_A and lora_B", module))
		}
		if ra, rb := ad.A.MustSize()[0], ad.B.MustSize()[1]; ra != rb {
			return fail(fmt.Errorf("adapter tensor %s: rank %d, but lora_A has rank %d", LoraKey(module, "B"), rb, ra))
		}
		ad.scaling = cfg.scaling(module, ad.A.MustSize()[0])
	}
	if len(set.adapters) == 0 {
		return fmt.Errorf("the adapter holds no lora_A/lora_B tensors")
	}
	for module, ad := range set.adapters {
		m.linears[module].lora = ad
	}
	m.Lora = set
	return nil
}

// checkLoraShape checks an adapter tensor against its layer: A is [r, in], B is [out, r].
func checkLoraShape(key string, t *ts.Tensor, l *Linear) error {
	got, w := t.MustSize(), l.Weight.MustSize()
	if len(got) != 2 {
		return fmt.Errorf("adapter tensor %s: shape %v, want 2 dimensions", key, got)
	}
	if strings.HasSuffix(key, ".lora_A.weight") && got[1] != w[1] {
		return fmt.Errorf("adapter tensor %s: shape %v, but the layer takes %d inputs (another base model?)", key, got, w[1])
	}
	if strings.HasSuffix(key, ".lora_B.weight") && got[0] != w[0] {
		return fmt.Errorf("adapter tensor %s: shape %v, but the layer has %d outputs (another base model?)", key, got, w[0])
	}
	return nil
}

// splitLoraKey parses base_model.model.MODULE.lora_{A,B}[.ADAPTER].weight (peft saves without the
// adapter name; its in-memory names have ".default").
func splitLoraKey(key string) (module, part string, err error) {
	rest, ok := strings.CutPrefix(key, loraKeyPrefix)
	if !ok || !strings.HasSuffix(rest, ".weight") {
		return "", "", fmt.Errorf("adapter tensor %s: not a LoRA weight (want %sMODULE.lora_A.weight or lora_B.weight)", key, loraKeyPrefix)
	}
	rest = strings.TrimSuffix(rest, ".weight")
	rest = strings.TrimSuffix(rest, ".default")
	for _, p := range []string{"A", "B"} {
		if module, ok := strings.CutSuffix(rest, ".lora_"+p); ok {
			return module, p, nil
		}
	}
	return "", "", fmt.Errorf("adapter tensor %s: not a LoRA weight (Captune reads lora_A and lora_B of Linear layers)", key)
}

// LoraParams returns the adapter tensors under peft's saved names, sorted; nil without adapters.
func (m *Model) LoraParams() []safetensors.Named {
	if m.Lora == nil {
		return nil
	}
	var out []safetensors.Named
	for _, module := range m.Lora.Modules() {
		ad := m.Lora.adapters[module]
		out = append(out, safetensors.Named{Name: LoraKey(module, "A"), Tensor: ad.A}, safetensors.Named{Name: LoraKey(module, "B"), Tensor: ad.B})
	}
	return out
}

// Modules lists the adapted layers, sorted.
func (l *Lora) Modules() []string { return slices.Sorted(maps.Keys(l.adapters)) }

// SetTraining turns the adapters' input dropout on (training) or off (evaluation, captioning).
func (l *Lora) SetTraining(on bool) { l.training = on }

// MergeLora folds the adapters into the layers' weights (W += scaling·B·A, as peft's
// merge_and_unload) and removes them: the model then computes the same without the extra path, and
// saves as a plain Hugging Face model. Weights read from a memory-mapped checkpoint are copied first.
func (m *Model) MergeLora() error {
	if m.Lora == nil {
		return nil
	}
	if err := m.OwnWeights(); err != nil {
		return err
	}
	// Grad mode is a libtorch thread-local: the in-place update of the (requires-grad) weights
	// must run on the thread the guard switched it off on.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	for module, ad := range m.Lora.adapters {
		delta := ad.B.MustMm(ad.A, false).MustMulScalar(ts.FloatScalar(ad.scaling), true)
		w := m.linears[module].Weight
		w.MustAdd_(delta)
		delta.MustDrop()
	}
	m.DropLora()
	return nil
}

// DropLora removes the adapters from the model and frees them.
func (m *Model) DropLora() {
	if m.Lora == nil {
		return
	}
	for module, ad := range m.Lora.adapters {
		m.linears[module].lora = nil
		ad.A.MustDrop()
		ad.B.MustDrop()
	}
	m.Lora = nil
}

func freeAll(tensors map[string]*ts.Tensor) {
	for _, t := range tensors {
		t.MustDrop()
	}
}
