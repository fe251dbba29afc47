package inference

import (
	"math"
	"strconv"

	"github.com/sugarme/gotch/ts"
)

// VisionEmbeddings turns pixels into patch tokens: Conv2d patches, a prepended class token, and
// learned absolute positions (vision_model.embeddings.*).
type VisionEmbeddings struct {
	ClassEmbedding    *ts.Tensor // [1, 1, hidden]
	PatchEmbeddingW   *ts.Tensor // patch_embedding.weight [hidden, 3, patch, patch]
	PatchEmbeddingB   *ts.Tensor // patch_embedding.bias [hidden]
	PositionEmbedding *ts.Tensor // [1, 1+patches, hidden]
	patch             int64
}

func newVisionEmbeddings(b *builder, p kp, c VisionConfig) *VisionEmbeddings {
	pe := p.Sub("patch_embedding")
	return &VisionEmbeddings{
		ClassEmbedding:    b.param(p, "class_embedding", []int64{1, 1, c.HiddenSize}, initNormal),
		PatchEmbeddingW:   b.param(pe, "weight", []int64{c.HiddenSize, 3, c.PatchSize, c.PatchSize}, initNormal),
		PatchEmbeddingB:   b.param(pe, "bias", []int64{c.HiddenSize}, initZeros),
		PositionEmbedding: b.param(p, "position_embedding", []int64{1, c.NumPatches() + 1, c.HiddenSize}, initNormal),
		patch:             c.PatchSize,
	}
}

// Forward maps pixels [B, 3, H, W] to tokens [B, 1+patches, hidden].
func (e *VisionEmbeddings) Forward(pixels T) T {
	c := conv2d(pixels, W(e.PatchEmbeddingW), W(e.PatchEmbeddingB), e.patch)
	f := flatten(c, 2, -1)
	x := transpose(f, 1, 2)
	free(c, f)
	s := x.Shape()
	cls := expand(W(e.ClassEmbedding), s[0], 1, s[2])
	joined := cat(1, cls, x)
	pos := narrow(W(e.PositionEmbedding), 1, 0, s[1]+1)
	out := add(joined, pos)
	free(x, cls, joined, pos)
	return out
}

// VisionAttention is multi-head self-attention with one fused qkv projection (self_attn.*).
type VisionAttention struct {
	QKV, Projection *Linear
	heads           int64
}

// Forward attends over all tokens; x is not freed.
func (a *VisionAttention) Forward(x T) T {
	s := x.Shape() // B, T, C
	qkv := a.QKV.Forward(x)
	v5 := view(qkv, s[0], s[1], 3, a.heads, s[2]/a.heads)
	perm := permute(v5, 2, 0, 3, 1, 4)
	free(qkv, v5)
	q, k, v := selectAt(perm, 0, 0), selectAt(perm, 0, 1), selectAt(perm, 0, 2)
	perm.Free()
	o := attention(q, k, v, nil, 1/math.Sqrt(float64(s[2]/a.heads)))
	free(q, k, v)
	o = mergeHeads(o)
	out := a.Projection.Forward(o)
	o.Free()
	return out
}

// VisionLayer is one pre-LayerNorm transformer block (vision_model.encoder.layers.N.*).
type VisionLayer struct {
	LayerNorm1 *LayerNorm
	SelfAttn   *VisionAttention
	LayerNorm2 *LayerNorm
	FC1, FC2   *Linear // mlp.fc1, mlp.fc2
	act        func(T) T
}

// Forward applies the block; x is not freed.
func (l *VisionLayer) Forward(x T) T {
	h := l.LayerNorm1.Forward(x)
	a := l.SelfAttn.Forward(h)
	x1 := add(a, x)
	free(h, a)
	h = l.LayerNorm2.Forward(x1)
	m := l.act(l.FC1.Forward(h))
	m2 := l.FC2.Forward(m)
	out := add(m2, x1)
	free(h, m, m2, x1)
	return out
}

// VisionModel is BLIP's ViT image encoder (vision_model.*).
type VisionModel struct {
	Embeddings    *VisionEmbeddings
	Layers        []*VisionLayer
	PostLayerNorm *LayerNorm
}

func newVisionModel(b *builder, p kp, c VisionConfig) *VisionModel {
	act, _ := activation(c.HiddenAct) // validated with the config
	m := &VisionModel{Embeddings: newVisionEmbeddings(b, p.Sub("embeddings"), c)}
	lp := p.Sub("encoder").Sub("layers")
	for i := int64(0); i < c.NumHiddenLayers; i++ {
		q := lp.Sub(strconv.FormatInt(i, 10))
		sa := q.Sub("self_attn")
		m.Layers = append(m.Layers, &VisionLayer{
			LayerNorm1: newLayerNorm(b, q.Sub("layer_norm1"), c.HiddenSize, c.LayerNormEps),
			SelfAttn: &VisionAttention{
				QKV:        newLinear(b, sa.Sub("qkv"), c.HiddenSize, 3*c.HiddenSize),
				Projection: newLinear(b, sa.Sub("projection"), c.HiddenSize, c.HiddenSize),
				heads:      c.NumAttentionHeads,
			},
			LayerNorm2: newLayerNorm(b, q.Sub("layer_norm2"), c.HiddenSize, c.LayerNormEps),
			FC1:        newLinear(b, q.Sub("mlp").Sub("fc1"), c.HiddenSize, c.IntermediateSize),
			FC2:        newLinear(b, q.Sub("mlp").Sub("fc2"), c.IntermediateSize, c.HiddenSize),
			act:        act,
		})
	}
	m.PostLayerNorm = newLayerNorm(b, p.Sub("post_layernorm"), c.HiddenSize, c.LayerNormEps)
	return m
}

// Forward encodes pixels [B, 3, H, W] into image tokens [B, 1+patches, hidden] (last_hidden_state).
func (m *VisionModel) Forward(pixels T) T {
	x := m.Embeddings.Forward(pixels)
	for _, l := range m.Layers {
		y := l.Forward(x)
		x.Free()
		x = y
	}
	out := m.PostLayerNorm.Forward(x)
	x.Free()
	return out
}
