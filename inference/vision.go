package inference

import (
	"math"
	"strconv"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
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
func (e *VisionEmbeddings) Forward(s *tx.Scope, pixels T) T {
	patches := conv2d(s, pixels, W(e.PatchEmbeddingW), W(e.PatchEmbeddingB), e.patch)
	x := transpose(s, flatten(s, patches, 2, -1), 1, 2) // B, patches, hidden
	sh := x.Shape()
	cls := expand(s, W(e.ClassEmbedding), sh[0], 1, sh[2])
	pos := narrow(s, W(e.PositionEmbedding), 1, 0, sh[1]+1)
	return add(s, cat(s, 1, cls, x), pos)
}

// VisionAttention is multi-head self-attention with one fused qkv projection (self_attn.*).
type VisionAttention struct {
	QKV, Projection *Linear
	heads           int64
}

// Forward attends over all tokens.
func (a *VisionAttention) Forward(s *tx.Scope, x T) T {
	sh := x.Shape() // B, T, C
	qkv := view(s, a.QKV.Forward(s, x), sh[0], sh[1], 3, a.heads, sh[2]/a.heads)
	qkv = permute(s, qkv, 2, 0, 3, 1, 4) // 3, B, H, T, D
	q, k, v := selectAt(s, qkv, 0, 0), selectAt(s, qkv, 0, 1), selectAt(s, qkv, 0, 2)
	o := attention(s, q, k, v, nil, 1/math.Sqrt(float64(sh[2]/a.heads)))
	return a.Projection.Forward(s, mergeHeads(s, o))
}

// VisionLayer is one pre-LayerNorm transformer block (vision_model.encoder.layers.N.*).
type VisionLayer struct {
	LayerNorm1 *LayerNorm
	SelfAttn   *VisionAttention
	LayerNorm2 *LayerNorm
	FC1, FC2   *Linear // mlp.fc1, mlp.fc2
	act        activation
}

// Forward applies the block: x + attn(ln1(x)), then x + fc2(act(fc1(ln2(x)))).
func (l *VisionLayer) Forward(s *tx.Scope, x T) T {
	x = add(s, l.SelfAttn.Forward(s, l.LayerNorm1.Forward(s, x)), x)
	return add(s, l.FC2.Forward(s, l.act(s, l.FC1.Forward(s, l.LayerNorm2.Forward(s, x)))), x)
}

// VisionModel is BLIP's ViT image encoder (vision_model.*).
type VisionModel struct {
	Embeddings    *VisionEmbeddings
	Layers        []*VisionLayer
	PostLayerNorm *LayerNorm
}

func newVisionModel(b *builder, p kp, c VisionConfig) *VisionModel {
	act, _ := activationOf(c.HiddenAct) // validated with the config
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
// Each layer runs in a scope of its own.
func (m *VisionModel) Forward(s *tx.Scope, pixels T) T {
	x := s.Run(func(s *tx.Scope) T { return m.Embeddings.Forward(s, pixels) })
	for _, l := range m.Layers {
		x = s.Update(x, l.Forward)
	}
	return s.Update(x, m.PostLayerNorm.Forward)
}
