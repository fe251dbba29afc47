package inference

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// TextEmbeddings are word plus absolute position embeddings, then LayerNorm
// (text_decoder.bert.embeddings.*).
type TextEmbeddings struct {
	WordEmbeddings     *ts.Tensor // word_embeddings.weight [vocab, hidden]
	PositionEmbeddings *ts.Tensor // position_embeddings.weight [max_positions, hidden]
	LayerNorm          *LayerNorm
}

// Forward embeds ids [B, T] at positions past..past+T-1.
func (e *TextEmbeddings) Forward(s *tx.Scope, ids T, past int64) T {
	pos := narrow(s, W(e.PositionEmbeddings), 0, past, ids.Shape()[1])
	return e.LayerNorm.Forward(s, add(s, embedding(s, W(e.WordEmbeddings), ids), pos))
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

// keyValue projects a source sequence [B, S, C] into heads [B, H, S, D]; s owns only the two
// results (not the projections they are views of).
func (a *TextAttention) keyValue(s *tx.Scope, src T) (k, v T) {
	project := func(l *Linear) T {
		return s.Run(func(s *tx.Scope) T { return splitHeads(s, l.Forward(s, src), a.heads) })
	}
	return project(a.Key), project(a.Value)
}

// attend runs attention of h's queries over k, v and the output block: LayerNorm(h + dense(attn)).
// mask is nil or an additive mask (see attention). Each row of k and v serves beams rows of h
// (see groupedAttention).
func (a *TextAttention) attend(s *tx.Scope, h, k, v T, mask *T, beams int64) T {
	q := splitHeads(s, a.Query.Forward(s, h), a.heads)
	o := groupedAttention(s, q, k, v, mask, beams, 1/math.Sqrt(float64(q.Shape()[3])))
	return a.OutputLayerNorm.Forward(s, add(s, a.OutputDense.Forward(s, mergeHeads(s, o)), h))
}

// TextLayer is one decoder block: causal self-attention, cross-attention over image tokens, and the
// feed-forward block (text_decoder.bert.encoder.layer.N.*).
type TextLayer struct {
	Attention         *TextAttention
	CrossAttention    *TextAttention
	IntermediateDense *Linear
	OutputDense       *Linear
	OutputLayerNorm   *LayerNorm
	act               activation
}

// LayerCache holds one layer's keys and values across decoding steps: the self-attention ones grow
// by one token per step, the cross-attention ones are computed once per image. The scope the cache
// was made in (NewCache) owns them.
//
// With a capacity (Reserve), SelfK and SelfV are buffers [B, H, capacity, D] allocated once: each
// step writes its keys and values in place behind the used positions, attention reads a view of
// the used ones, and beam reordering gathers them into a spare pair of buffers that then swaps in.
// Without one (the training path, one call), each step concatenates.
type LayerCache struct {
	SelfK, SelfV   T
	CrossK, CrossV T     // one row per image
	beams          int64 // rows of the self-attention cache (and of the hidden states) per image
	own            *tx.Scope

	capacity, used int64 // reserved and filled positions of SelfK and SelfV (capacity 0: concatenate)
	spareK, spareV T     // reorder targets, the same shape as SelfK and SelfV
}

// Reserve makes the self-attention caches of cs preallocate room for n positions when they are
// first written, so that decoding writes in place instead of concatenating each step. Call it on
// fresh caches, with n the longest sequence the decoder will see.
func Reserve(cs []*LayerCache, n int64) {
	for _, c := range cs {
		c.capacity = n
	}
}

// grow appends new self-attention keys and values [B, H, T, D] and returns all of them so far. The
// cache's scope owns its buffers; the returned tensors are views owned by s (or, when concatenating,
// the cache's own tensors).
func (c *LayerCache) grow(s *tx.Scope, k, v T) (T, T) {
	if c.capacity == 0 {
		return c.concat(k, v)
	}
	t := k.Shape()[2]
	if c.used+t > c.capacity {
		panic(fmt.Errorf("decoder cache: %d positions past its capacity %d", c.used+t, c.capacity))
	}
	if c.SelfK.C == nil {
		c.SelfK, c.SelfV = c.own.Own(emptyLike(k, 2, c.capacity)), c.own.Own(emptyLike(v, 2, c.capacity))
	}
	copyInto(narrow(s, c.SelfK, 2, c.used, t), k)
	copyInto(narrow(s, c.SelfV, 2, c.used, t), v)
	c.used += t
	return narrow(s, c.SelfK, 2, 0, c.used), narrow(s, c.SelfV, 2, 0, c.used)
}

// concat is grow without a capacity: the new keys and values are concatenated to the old ones.
func (c *LayerCache) concat(k, v T) (T, T) {
	appendTo := func(x T) func(*tx.Scope, T) T {
		return func(s *tx.Scope, past T) T {
			if past.C == nil {
				return share(s, x)
			}
			return cat(s, 2, past, x)
		}
	}
	c.SelfK = c.own.Update(c.SelfK, appendTo(k))
	c.SelfV = c.own.Update(c.SelfV, appendTo(v))
	return c.SelfK, c.SelfV
}

// reorder keeps rows idx of the self-attention cache.
func (c *LayerCache) reorder(idx T) {
	if c.SelfK.C == nil {
		return
	}
	if c.capacity == 0 {
		pick := func(s *tx.Scope, x T) T { return indexSelect(s, x, 0, idx) }
		c.SelfK, c.SelfV = c.own.Update(c.SelfK, pick), c.own.Update(c.SelfV, pick)
		return
	}
	if c.spareK.C == nil {
		c.spareK = c.own.Own(emptyLike(c.SelfK, 2, c.capacity))
		c.spareV = c.own.Own(emptyLike(c.SelfV, 2, c.capacity))
	}
	s := tx.NewScope()
	defer s.Free()
	gather := func(dst, src T) {
		d := narrow(s, dst, 2, 0, c.used)
		s.Call("index_select_out", func(p *lib.Ctensor) { lib.AtgIndexSelectOut(p, d.C, narrow(s, src, 2, 0, c.used).C, 0, idx.C) })
	}
	gather(c.spareK, c.SelfK)
	gather(c.spareV, c.SelfV)
	c.SelfK, c.spareK = c.spareK, c.SelfK
	c.SelfV, c.spareV = c.spareV, c.SelfV
}

// emptyLike returns an uninitialised tensor shaped as x but with size n along dim, of x's type and
// device; the caller owns it. Its pages are only touched where it is written.
func emptyLike(x T, dim, n int64) T {
	shape := x.Shape()
	shape[dim] = n
	return tx.Call("new_empty", func(p *lib.Ctensor) {
		lib.AtgNewEmpty(p, x.C, shape, len(shape), lib.AtScalarType(x.C), int32(lib.AtDevice(x.C)))
	})
}

// copyInto copies src into dst (a view of a cache buffer) in place.
func copyInto(dst, src T) {
	tx.Call("copy_", func(*lib.Ctensor) { lib.AtCopy_(dst.C, src.C) })
}

// Forward runs the block on h [B, T, C]: causal self-attention (its keys and values appended to the
// cache; mask is the self-attention mask, see attention), cross-attention over the image, and the
// feed-forward block.
func (l *TextLayer) Forward(s *tx.Scope, h T, c *LayerCache, mask *T) T {
	k, v := l.Attention.keyValue(s, h)
	k, v = c.grow(s, k, v)
	x := l.Attention.attend(s, h, k, v, mask, 1)
	x = l.CrossAttention.attend(s, x, c.CrossK, c.CrossV, nil, c.beams)
	ff := l.OutputDense.Forward(s, l.act(s, l.IntermediateDense.Forward(s, x)))
	return l.OutputLayerNorm.Forward(s, add(s, ff, x))
}

// LMHead maps hidden states to vocabulary logits (text_decoder.cls.predictions.*).
type LMHead struct {
	TransformDense     *Linear    // transform.dense
	TransformLayerNorm *LayerNorm // transform.LayerNorm
	DecoderWeight      *ts.Tensor // decoder.weight [vocab, hidden]
	Bias               *ts.Tensor // bias [vocab]
	act                activation
}

// Forward returns logits [B, T, vocab].
func (l *LMHead) Forward(s *tx.Scope, h T) T {
	x := l.TransformLayerNorm.Forward(s, l.act(s, l.TransformDense.Forward(s, h)))
	return linear(s, x, W(l.DecoderWeight), W(l.Bias))
}

// TextDecoder is BLIP's BERT decoder with cross-attention and the LM head (text_decoder.*).
type TextDecoder struct {
	Embeddings *TextEmbeddings
	Layers     []*TextLayer
	Head       *LMHead
	cfg        TextConfig
}

func newTextDecoder(b *builder, p kp, c TextConfig) *TextDecoder {
	act, _ := activationOf(c.HiddenAct)
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

// NewCache prepares per-layer caches for decoding over image tokens [B, N, C], owned by s: the
// cross-attention keys and values are computed here, once.
func (d *TextDecoder) NewCache(s *tx.Scope, image T) []*LayerCache {
	return d.NewBeamCache(s, image, 1)
}

// NewBeamCache is NewCache for beam search with beams rows per image (the decoder's rows are image
// 0's beams, then image 1's, ...): the cross-attention keys and values are computed and held once
// per image, and each image's beams attend to them together (see groupedAttention).
func (d *TextDecoder) NewBeamCache(s *tx.Scope, image T, beams int64) []*LayerCache {
	cs := make([]*LayerCache, len(d.Layers))
	for i, l := range d.Layers {
		k, v := l.CrossAttention.keyValue(s, image)
		cs[i] = &LayerCache{CrossK: k, CrossV: v, beams: beams, own: s}
	}
	return cs
}

// ReorderCache keeps rows idx (an int64 tensor on the model's device) of the self-attention caches,
// as beam search does when beams are re-ranked. Cross-attention rows need no reordering: beams of
// one image share the same image tokens.
func ReorderCache(cs []*LayerCache, idx T) {
	for _, c := range cs {
		c.reorder(idx)
	}
}

// Step runs the decoder on new tokens ids [B, T] that follow the cached ones and returns hidden
// states [B, T, C]. past is the number of tokens already cached.
func (d *TextDecoder) Step(s *tx.Scope, ids T, cs []*LayerCache, past int64, device gotch.Device) T {
	var mask *T
	if t := ids.Shape()[1]; t > 1 {
		// Several new tokens at once (the start tokens): each sees the cache and the ones before it.
		m := causalMask(s, t, device)
		if past > 0 {
			m = cat(s, 1, zeros(s, device, t, past), m)
		}
		mask = &m
	}
	return d.layers(s, ids, cs, past, mask)
}

// layers embeds ids at positions past.. and runs every layer, each in a scope of its own.
func (d *TextDecoder) layers(s *tx.Scope, ids T, cs []*LayerCache, past int64, mask *T) T {
	h := s.Run(func(s *tx.Scope) T { return d.Embeddings.Forward(s, ids, past) })
	for i, l := range d.Layers {
		h = s.Update(h, func(s *tx.Scope, h T) T { return l.Forward(s, h, cs[i], mask) })
	}
	return h
}

// Forward runs the decoder over full sequences ids [B, T] with padding mask attention [B, T] (1 = token,
// 0 = pad; nil for none) against image tokens [B, N, C], and returns logits [B, T, vocab]. This is
// the training path: nothing is kept between calls.
func (d *TextDecoder) Forward(s *tx.Scope, ids T, attention *T, image T, device gotch.Device) T {
	// As transformers' get_extended_attention_mask for a decoder: causal AND key is not padding.
	t := ids.Shape()[1]
	allowed := tril(s, ones(s, device, t, t), 0)
	if attention != nil {
		keys := unsqueeze(s, unsqueeze(s, toFloat(s, *attention), 1), 1) // B,1,1,T
		allowed = mul(s, keys, allowed)                                  // B,1,T,T
	}
	mask := additiveMask(s, allowed)
	h := d.layers(s, ids, d.NewCache(s, image), 0, &mask)
	return s.Update(h, d.Head.Forward)
}
