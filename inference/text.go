package inference

import (
	"math"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TextEmbeddings are word plus absolute position embeddings, then LayerNorm
// (text_decoder.bert.embeddings.*).
type TextEmbeddings struct {
	WordEmbeddings     *ts.Tensor // word_embeddings.weight [vocab, hidden]
	PositionEmbeddings *ts.Tensor // position_embeddings.weight [max_positions, hidden]
	LayerNorm          *LayerNorm
}

// Forward embeds ids [B, T] at positions past..past+T-1.
func (e *TextEmbeddings) Forward(ids T, past int64) T {
	t := ids.Shape()[1]
	w := embedding(W(e.WordEmbeddings), ids)
	pos := narrow(W(e.PositionEmbeddings), 0, past, t)
	x := add(w, pos)
	out := e.LayerNorm.Forward(x)
	free(w, pos, x)
	return out
}

// TextAttention is BERT attention with its output block: attention.self.{query,key,value} and
// attention.output.{dense,LayerNorm}, or the same under crossattention.
type TextAttention struct {
	Query, Key, Value *Linear
	OutputDense       *Linear
	OutputLayerNorm   *LayerNorm
	heads             int64
}

func newTextAttention(b *builder, p kp, hidden, kvIn, heads int64, eps float64) *TextAttention {
	s, o := p.Sub("self"), p.Sub("output")
	return &TextAttention{
		Query:           newLinear(b, s.Sub("query"), hidden, hidden),
		Key:             newLinear(b, s.Sub("key"), kvIn, hidden),
		Value:           newLinear(b, s.Sub("value"), kvIn, hidden),
		OutputDense:     newLinear(b, o.Sub("dense"), hidden, hidden),
		OutputLayerNorm: newLayerNorm(b, o.Sub("LayerNorm"), hidden, eps),
		heads:           heads,
	}
}

// keyValue projects a source sequence [B, S, C] into heads [B, H, S, D].
func (a *TextAttention) keyValue(src T) (k, v T) {
	return splitHeads(a.Key.Forward(src), a.heads), splitHeads(a.Value.Forward(src), a.heads)
}

// attend runs attention of h's queries over k, v and the output block; h is not freed.
// mask is nil or an additive mask (see attention).
func (a *TextAttention) attend(h, k, v T, mask *T) T {
	q := splitHeads(a.Query.Forward(h), a.heads)
	d := q.Shape()[3]
	o := attention(q, k, v, mask, 1/math.Sqrt(float64(d)))
	q.Free()
	o = mergeHeads(o)
	dense := a.OutputDense.Forward(o)
	r := add(dense, h)
	out := a.OutputLayerNorm.Forward(r)
	free(o, dense, r)
	return out
}

// TextLayer is one decoder block: causal self-attention, cross-attention over image tokens, and the
// feed-forward block (text_decoder.bert.encoder.layer.N.*).
type TextLayer struct {
	Attention         *TextAttention
	CrossAttention    *TextAttention
	IntermediateDense *Linear
	OutputDense       *Linear
	OutputLayerNorm   *LayerNorm
	act               func(T) T
}

// LayerCache holds one layer's keys and values across decoding steps: the self-attention ones grow
// by one token per step, the cross-attention ones are computed once per image.
type LayerCache struct {
	SelfK, SelfV   T
	CrossK, CrossV T
}

// Forward runs the block on h [B, T, C]; h is not freed. Self-attention keys and values are
// appended to the cache; mask is the self-attention mask (see attention).
func (l *TextLayer) Forward(h T, c *LayerCache, mask *T) T {
	k, v := l.Attention.keyValue(h)
	if c.SelfK.C != nil {
		k2, v2 := cat(2, c.SelfK, k), cat(2, c.SelfV, v)
		free(k, v, c.SelfK, c.SelfV)
		k, v = k2, v2
	}
	a := l.Attention.attend(h, k, v, mask)
	c.SelfK, c.SelfV = k, v
	x := l.CrossAttention.attend(a, c.CrossK, c.CrossV, nil)
	m := l.act(l.IntermediateDense.Forward(x))
	d := l.OutputDense.Forward(m)
	r := add(d, x)
	out := l.OutputLayerNorm.Forward(r)
	free(a, x, m, d, r)
	return out
}

// LMHead maps hidden states to vocabulary logits (text_decoder.cls.predictions.*).
type LMHead struct {
	TransformDense     *Linear    // transform.dense
	TransformLayerNorm *LayerNorm // transform.LayerNorm
	DecoderWeight      *ts.Tensor // decoder.weight [vocab, hidden]
	Bias               *ts.Tensor // bias [vocab]
	act                func(T) T
}

// Forward returns logits [B, T, vocab]; h is not freed.
func (l *LMHead) Forward(h T) T {
	x := l.act(l.TransformDense.Forward(h))
	y := l.TransformLayerNorm.Forward(x)
	out := linear(y, W(l.DecoderWeight), W(l.Bias))
	free(x, y)
	return out
}

// TextDecoder is BLIP's BERT decoder with cross-attention and the LM head (text_decoder.*).
type TextDecoder struct {
	Embeddings *TextEmbeddings
	Layers     []*TextLayer
	Head       *LMHead
	cfg        TextConfig
}

func newTextDecoder(b *builder, p kp, c TextConfig) *TextDecoder {
	act, _ := activation(c.HiddenAct)
	bert := p.Sub("bert")
	ep := bert.Sub("embeddings")
	d := &TextDecoder{cfg: c, Embeddings: &TextEmbeddings{
		WordEmbeddings:     b.param(ep.Sub("word_embeddings"), "weight", []int64{c.VocabSize, c.HiddenSize}, initNormal),
		PositionEmbeddings: b.param(ep.Sub("position_embeddings"), "weight", []int64{c.MaxPositionEmbeddings, c.HiddenSize}, initNormal),
		LayerNorm:          newLayerNorm(b, ep.Sub("LayerNorm"), c.HiddenSize, c.LayerNormEps),
	}}
	lp := bert.Sub("encoder").Sub("layer")
	for i := int64(0); i < c.NumHiddenLayers; i++ {
		q := lp.Sub(strconv.FormatInt(i, 10))
		d.Layers = append(d.Layers, &TextLayer{
			Attention:         newTextAttention(b, q.Sub("attention"), c.HiddenSize, c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps),
			CrossAttention:    newTextAttention(b, q.Sub("crossattention"), c.HiddenSize, c.EncoderHiddenSize, c.NumAttentionHeads, c.LayerNormEps),
			IntermediateDense: newLinear(b, q.Sub("intermediate").Sub("dense"), c.HiddenSize, c.IntermediateSize),
			OutputDense:       newLinear(b, q.Sub("output").Sub("dense"), c.IntermediateSize, c.HiddenSize),
			OutputLayerNorm:   newLayerNorm(b, q.Sub("output").Sub("LayerNorm"), c.HiddenSize, c.LayerNormEps),
			act:               act,
		})
	}
	pp := p.Sub("cls").Sub("predictions")
	tp := pp.Sub("transform")
	d.Head = &LMHead{
		TransformDense:     newLinear(b, tp.Sub("dense"), c.HiddenSize, c.HiddenSize),
		TransformLayerNorm: newLayerNorm(b, tp.Sub("LayerNorm"), c.HiddenSize, c.LayerNormEps),
		act:                act,
	}
	decKey := keyOf(pp.Sub("decoder"), "weight")
	if c.TieWordEmbeddings {
		b.aliases[decKey] = keyOf(ep.Sub("word_embeddings"), "weight")
	}
	d.Head.DecoderWeight = b.param(pp.Sub("decoder"), "weight", []int64{c.VocabSize, c.HiddenSize}, initNormal)
	d.Head.Bias = b.param(pp, "bias", []int64{c.VocabSize}, initZeros)
	return d
}

// NewCache prepares per-layer caches for decoding over image tokens [B, N, C]: the cross-attention
// keys and values are computed here, once.
func (d *TextDecoder) NewCache(image T) []*LayerCache {
	cs := make([]*LayerCache, len(d.Layers))
	for i, l := range d.Layers {
		k, v := l.CrossAttention.keyValue(image)
		cs[i] = &LayerCache{CrossK: k, CrossV: v}
	}
	return cs
}

// FreeCache releases every tensor of a cache.
func FreeCache(cs []*LayerCache) {
	for _, c := range cs {
		free(c.SelfK, c.SelfV, c.CrossK, c.CrossV)
		*c = LayerCache{}
	}
}

// ReorderCache keeps rows idx (an int64 tensor on the model's device) of the self-attention caches,
// as beam search does when beams are re-ranked. Cross-attention rows need no reordering: beams of
// one image share the same image tokens.
func ReorderCache(cs []*LayerCache, idx T) {
	for _, c := range cs {
		if c.SelfK.C == nil {
			continue
		}
		k, v := indexSelect(c.SelfK, 0, idx), indexSelect(c.SelfV, 0, idx)
		free(c.SelfK, c.SelfV)
		c.SelfK, c.SelfV = k, v
	}
}

// Step runs the decoder on new tokens ids [B, T] that follow the cached ones and returns hidden
// states [B, T, C]. past is the number of tokens already cached.
func (d *TextDecoder) Step(ids T, cs []*LayerCache, past int64, device gotch.Device) T {
	h := d.Embeddings.Forward(ids, past)
	var mask *T
	if t := ids.Shape()[1]; t > 1 {
		// Several new tokens at once (the start tokens): each sees the cache and the ones before it.
		c := causalMask(t, device)
		if past > 0 {
			seen := ts.MustZeros([]int64{t, past}, gotch.Float, device)
			c2 := cat(1, W(seen), c)
			seen.MustDrop()
			c.Free()
			c = c2
		}
		mask = &c
	}
	for i, l := range d.Layers {
		y := l.Forward(h, cs[i], mask)
		h.Free()
		h = y
	}
	if mask != nil {
		mask.Free()
	}
	return h
}

// Forward runs the decoder over full sequences ids [B, T] with padding mask attention [B, T] (1 = token,
// 0 = pad; nil for none) against image tokens [B, N, C], and returns logits [B, T, vocab]. This is
// the training path: nothing is kept between calls.
func (d *TextDecoder) Forward(ids T, attention *ts.Tensor, image T, device gotch.Device) T {
	// As transformers' get_extended_attention_mask for a decoder: causal AND key is not padding.
	t := ids.Shape()[1]
	var mask T
	if attention != nil {
		tri := ts.MustOnes([]int64{t, t}, gotch.Float, device).MustTril(0, true)
		keys := attention.MustTotype(gotch.Float, false).MustUnsqueeze(1, true).MustUnsqueeze(1, true) // B,1,1,T
		allowed := keys.MustMul(tri, true)                                                             // B,1,T,T
		tri.MustDrop()
		mask = additiveMask(W(allowed), allowed)
	} else {
		mask = causalMask(t, device)
	}
	cs := d.NewCache(image)
	h := d.Embeddings.Forward(ids, 0)
	for i, l := range d.Layers {
		y := l.Forward(h, cs[i], &mask)
		h.Free()
		h = y
	}
	FreeCache(cs)
	mask.Free()
	logits := d.Head.Forward(h)
	h.Free()
	return logits
}
