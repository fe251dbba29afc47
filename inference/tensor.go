package inference

import (
	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// T is a bare libtorch handle used by the model's hot paths; see package tx for why.
type T = tx.T

// W borrows a gotch tensor (a weight) as a T; never Free it.
func W(t *ts.Tensor) T { return tx.W(t) }

func nullable(t *T) lib.Ctensor {
	if t == nil {
		return nil
	}
	return t.C
}

func linear(x, w, b T) T {
	return tx.Call("linear", func(p *lib.Ctensor) { lib.AtgLinear(p, x.C, w.C, b.C) })
}
func layerNorm(x T, dim int64, w, b T, eps float64) T {
	return tx.Call("layer_norm", func(p *lib.Ctensor) { lib.AtgLayerNorm(p, x.C, []int64{dim}, 1, w.C, b.C, eps, 1) })
}
func gelu(x T, approx string) T {
	return tx.Call("gelu", func(p *lib.Ctensor) { lib.AtgGelu(p, x.C, approx) })
}
func relu(x T) T    { return tx.Call("relu", func(p *lib.Ctensor) { lib.AtgRelu(p, x.C) }) }
func sigmoid(x T) T { return tx.Call("sigmoid", func(p *lib.Ctensor) { lib.AtgSigmoid(p, x.C) }) }
func add(a, b T) T  { return tx.Call("add", func(p *lib.Ctensor) { lib.AtgAdd(p, a.C, b.C) }) }
func mul(a, b T) T  { return tx.Call("mul", func(p *lib.Ctensor) { lib.AtgMul(p, a.C, b.C) }) }
func mulScalar(a T, v float64) T {
	return tx.ScalarOp("mul", v, func(p *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar(p, a.C, s) })
}
func rsubScalar(a T, v float64) T {
	return tx.ScalarOp("rsub", v, func(p *lib.Ctensor, s lib.Cscalar) { lib.AtgRsubScalar(p, a.C, s) })
}
func matmul(a, b T) T { return tx.Call("matmul", func(p *lib.Ctensor) { lib.AtgMatmul(p, a.C, b.C) }) }
func view(x T, shape ...int64) T {
	return tx.Call("view", func(p *lib.Ctensor) { lib.AtgView(p, x.C, shape, len(shape)) })
}
func reshape(x T, shape ...int64) T {
	return tx.Call("reshape", func(p *lib.Ctensor) { lib.AtgReshape(p, x.C, shape, len(shape)) })
}
func transpose(x T, a, b int64) T {
	return tx.Call("transpose", func(p *lib.Ctensor) { lib.AtgTranspose(p, x.C, a, b) })
}
func permute(x T, dims ...int64) T {
	return tx.Call("permute", func(p *lib.Ctensor) { lib.AtgPermute(p, x.C, dims, len(dims)) })
}
func selectAt(x T, dim, i int64) T {
	return tx.Call("select", func(p *lib.Ctensor) { lib.AtgSelect(p, x.C, dim, i) })
}
func softmax(x T, dim int64) T {
	return tx.Call("softmax", func(p *lib.Ctensor) { lib.AtgSoftmax(p, x.C, dim, int32(gotch.Float.CInt())) })
}
func logSoftmax(x T, dim int64) T {
	return tx.Call("log_softmax", func(p *lib.Ctensor) { lib.AtgLogSoftmax(p, x.C, dim, int32(gotch.Float.CInt())) })
}
func embedding(w, ids T) T {
	return tx.Call("embedding", func(p *lib.Ctensor) { lib.AtgEmbedding(p, w.C, ids.C, -1, 0, 0) })
}
func narrow(x T, dim, start, length int64) T {
	return tx.Call("narrow", func(p *lib.Ctensor) { lib.AtgNarrow(p, x.C, dim, start, length) })
}
func cat(dim int64, xs ...T) T {
	cs := make([]lib.Ctensor, len(xs))
	for i, x := range xs {
		cs[i] = x.C
	}
	return tx.Call("cat", func(p *lib.Ctensor) { lib.AtgCat(p, cs, len(cs), dim) })
}
func conv2d(x, w, b T, stride int64) T {
	return tx.Call("conv2d", func(p *lib.Ctensor) {
		lib.AtgConv2d(p, x.C, w.C, b.C, []int64{stride, stride}, 2, []int64{0, 0}, 2, []int64{1, 1}, 2, 1)
	})
}
func flatten(x T, start, end int64) T {
	return tx.Call("flatten", func(p *lib.Ctensor) { lib.AtgFlatten(p, x.C, start, end) })
}
func expand(x T, shape ...int64) T {
	return tx.Call("expand", func(p *lib.Ctensor) { lib.AtgExpand(p, x.C, shape, len(shape), 0) })
}
func indexSelect(x T, dim int64, idx T) T {
	return tx.Call("index_select", func(p *lib.Ctensor) { lib.AtgIndexSelect(p, x.C, dim, idx.C) })
}
func unsqueeze(x T, dim int64) T {
	return tx.Call("unsqueeze", func(p *lib.Ctensor) { lib.AtgUnsqueeze(p, x.C, dim) })
}
func contiguous(x T) T {
	return tx.Call("contiguous", func(p *lib.Ctensor) { lib.AtgContiguous(p, x.C) })
}
func squeezeDim(x T, dim int64) T {
	return tx.Call("squeeze", func(p *lib.Ctensor) { lib.AtgSqueezeDim(p, x.C, dim) })
}

// free releases several handles.
func free(ts ...T) { tx.Free(ts...) }
