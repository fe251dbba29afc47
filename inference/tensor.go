package inference

import (
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// T is a bare libtorch handle used by the model's hot paths; see package tx for why.
type T = tx.T

// W borrows a gotch tensor (a weight) as a T; never Free it.
func W(t *ts.Tensor) T { return tx.W(t) }

// The functions below are the libtorch operations the model uses, called directly (package tx says
// why). Each makes its result in the scope s, which frees it; none frees its arguments.

func linear(s *tx.Scope, x, w, b T) T {
	return s.Call("linear", func(p *lib.Ctensor) { lib.AtgLinear(p, x.C, w.C, b.C) })
}
func layerNorm(s *tx.Scope, x T, dim int64, w, b T, eps float64) T {
	return s.Call("layer_norm", func(p *lib.Ctensor) { lib.AtgLayerNorm(p, x.C, []int64{dim}, 1, w.C, b.C, eps, 1) })
}
func gelu(s *tx.Scope, x T, approx string) T {
	return s.Call("gelu", func(p *lib.Ctensor) { lib.AtgGelu(p, x.C, approx) })
}
func dropoutTrain(s *tx.Scope, x T, p float64) T {
	return s.Call("dropout", func(q *lib.Ctensor) { lib.AtgDropout(q, x.C, p, 1) })
}
func relu(s *tx.Scope, x T) T  { return s.Call("relu", func(p *lib.Ctensor) { lib.AtgRelu(p, x.C) }) }
func silu(s *tx.Scope, x T) T  { return s.Call("silu", func(p *lib.Ctensor) { lib.AtgSilu(p, x.C) }) }
func mish(s *tx.Scope, x T) T  { return s.Call("mish", func(p *lib.Ctensor) { lib.AtgMish(p, x.C) }) }
func relu6(s *tx.Scope, x T) T { return s.Call("relu6", func(p *lib.Ctensor) { lib.AtgRelu6(p, x.C) }) }
func tanh(s *tx.Scope, x T) T  { return s.Call("tanh", func(p *lib.Ctensor) { lib.AtgTanh(p, x.C) }) }
func sigmoid(s *tx.Scope, x T) T {
	return s.Call("sigmoid", func(p *lib.Ctensor) { lib.AtgSigmoid(p, x.C) })
}
func add(s *tx.Scope, a, b T) T {
	return s.Call("add", func(p *lib.Ctensor) { lib.AtgAdd(p, a.C, b.C) })
}
func mul(s *tx.Scope, a, b T) T {
	return s.Call("mul", func(p *lib.Ctensor) { lib.AtgMul(p, a.C, b.C) })
}
func mulScalar(s *tx.Scope, a T, v float64) T {
	return s.ScalarOp("mul", v, func(p *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar(p, a.C, s) })
}
func rsubScalar(s *tx.Scope, a T, v float64) T {
	return s.ScalarOp("rsub", v, func(p *lib.Ctensor, s lib.Cscalar) { lib.AtgRsubScalar(p, a.C, s) })
}
func matmul(s *tx.Scope, a, b T) T {
	return s.Call("matmul", func(p *lib.Ctensor) { lib.AtgMatmul(p, a.C, b.C) })
}
func view(s *tx.Scope, x T, shape ...int64) T {
	return s.Call("view", func(p *lib.Ctensor) { lib.AtgView(p, x.C, shape, len(shape)) })
}
func reshape(s *tx.Scope, x T, shape ...int64) T {
	return s.Call("reshape", func(p *lib.Ctensor) { lib.AtgReshape(p, x.C, shape, len(shape)) })
}
func transpose(s *tx.Scope, x T, a, b int64) T {
	return s.Call("transpose", func(p *lib.Ctensor) { lib.AtgTranspose(p, x.C, a, b) })
}
func permute(s *tx.Scope, x T, dims ...int64) T {
	return s.Call("permute", func(p *lib.Ctensor) { lib.AtgPermute(p, x.C, dims, len(dims)) })
}
func selectAt(s *tx.Scope, x T, dim, i int64) T {
	return s.Call("select", func(p *lib.Ctensor) { lib.AtgSelect(p, x.C, dim, i) })
}
func softmax(s *tx.Scope, x T, dim int64) T {
	return s.Call("softmax", func(p *lib.Ctensor) { lib.AtgSoftmax(p, x.C, dim, int32(gotch.Float.CInt())) })
}
func logSoftmax(s *tx.Scope, x T, dim int64) T {
	return s.Call("log_softmax", func(p *lib.Ctensor) { lib.AtgLogSoftmax(p, x.C, dim, int32(gotch.Float.CInt())) })
}
func embedding(s *tx.Scope, w, ids T) T {
	return s.Call("embedding", func(p *lib.Ctensor) { lib.AtgEmbedding(p, w.C, ids.C, -1, 0, 0) })
}
func narrow(s *tx.Scope, x T, dim, start, length int64) T {
	return s.Call("narrow", func(p *lib.Ctensor) { lib.AtgNarrow(p, x.C, dim, start, length) })
}
func cat(s *tx.Scope, dim int64, xs ...T) T {
	cs := make([]lib.Ctensor, len(xs))
	for i, x := range xs {
		cs[i] = x.C
	}
	return s.Call("cat", func(p *lib.Ctensor) { lib.AtgCat(p, cs, len(cs), dim) })
}
func conv2d(s *tx.Scope, x, w, b T, stride int64) T {
	return s.Call("conv2d", func(p *lib.Ctensor) {
		lib.AtgConv2d(p, x.C, w.C, b.C, []int64{stride, stride}, 2, []int64{0, 0}, 2, []int64{1, 1}, 2, 1)
	})
}
func flatten(s *tx.Scope, x T, start, end int64) T {
	return s.Call("flatten", func(p *lib.Ctensor) { lib.AtgFlatten(p, x.C, start, end) })
}
func expand(s *tx.Scope, x T, shape ...int64) T {
	return s.Call("expand", func(p *lib.Ctensor) { lib.AtgExpand(p, x.C, shape, len(shape), 0) })
}
func indexSelect(s *tx.Scope, x T, dim int64, idx T) T {
	return s.Call("index_select", func(p *lib.Ctensor) { lib.AtgIndexSelect(p, x.C, dim, idx.C) })
}
func unsqueeze(s *tx.Scope, x T, dim int64) T {
	return s.Call("unsqueeze", func(p *lib.Ctensor) { lib.AtgUnsqueeze(p, x.C, dim) })
}
func contiguous(s *tx.Scope, x T) T {
	return s.Call("contiguous", func(p *lib.Ctensor) { lib.AtgContiguous(p, x.C) })
}
func squeezeDim(s *tx.Scope, x T, dim int64) T {
	return s.Call("squeeze", func(p *lib.Ctensor) { lib.AtgSqueezeDim(p, x.C, dim) })
}

// mulScalarInPlace multiplies x by v in place: it saves a buffer the size of x where x is not needed
// afterwards (attention scores), with the same result as mulScalar.
func mulScalarInPlace(s *tx.Scope, x T, v float64) T {
	return s.ScalarOp("mul_", v, func(p *lib.Ctensor, c lib.Cscalar) { lib.AtgMulScalar_(p, x.C, c) })
}
func addInPlace(s *tx.Scope, x, y T) T {
	return s.Call("add_", func(p *lib.Ctensor) { lib.AtgAdd_(p, x.C, y.C) })
}
func ones(s *tx.Scope, device gotch.Device, shape ...int64) T {
	return s.Call("ones", func(p *lib.Ctensor) { lib.AtgOnes(p, shape, len(shape), gotch.Float.CInt(), device.CInt()) })
}
func zeros(s *tx.Scope, device gotch.Device, shape ...int64) T {
	return s.Call("zeros", func(p *lib.Ctensor) { lib.AtgZeros(p, shape, len(shape), gotch.Float.CInt(), device.CInt()) })
}
func tril(s *tx.Scope, x T, diagonal int64) T {
	return s.Call("tril", func(p *lib.Ctensor) { lib.AtgTril(p, x.C, diagonal) })
}
func toFloat(s *tx.Scope, x T) T {
	return s.Call("to float", func(p *lib.Ctensor) { lib.AtgTotype(p, x.C, gotch.Float.CInt()) })
}

// share returns a second handle to x's tensor (no copy), owned by s: a tensor another scope owns
// can so be held beyond that scope.
func share(s *tx.Scope, x T) T {
	return s.Call("shallow_clone", func(p *lib.Ctensor) { *p = lib.AtShallowClone(x.C) })
}

// idsTensor makes an int64 tensor [len(rows), len(rows[0])] of token ids (or row indices) on device.
func idsTensor(s *tx.Scope, rows [][]int64, device gotch.Device) T {
	flat := make([]int64, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		flat = append(flat, r...)
	}
	shape := []int64{int64(len(rows)), int64(len(rows[0]))}
	x := s.Call("tensor", func(p *lib.Ctensor) {
		*p = lib.AtTensorOfData(unsafe.Pointer(&flat[0]), shape, uint(len(shape)), 8, int(gotch.Int64.CKind()))
	})
	if device != gotch.CPU {
		x = to(s, x, device)
	}
	return x
}

// indexTensor is idsTensor for one row of indices: an int64 tensor [len(idx)].
func indexTensor(s *tx.Scope, idx []int64, device gotch.Device) T {
	return view(s, idsTensor(s, [][]int64{idx}, device), int64(len(idx)))
}

func to(s *tx.Scope, x T, device gotch.Device) T {
	return s.Call("to", func(p *lib.Ctensor) { lib.AtgTo(p, x.C, int32(device.CInt())) })
}

// floats copies x, a float32 tensor on any device, into a new slice.
func floats(s *tx.Scope, x T) []float32 {
	if lib.AtDevice(x.C) != int(gotch.CPU.CInt()) {
		x = to(s, x, gotch.CPU)
	}
	x = contiguous(s, x)
	n := 1
	for _, d := range x.Shape() {
		n *= int(d)
	}
	out := make([]float32, n)
	if n > 0 {
		lib.AtCopyData(x.C, unsafe.Pointer(&out[0]), uint(n), 4)
		tx.Check("copy")
	}
	return out
}

// crossEntropy is the mean cross-entropy of logits [N, vocab] against targets [N], leaving out
// targets equal to ignore, with label smoothing.
func crossEntropy(s *tx.Scope, logits, targets T, ignore int64, smoothing float64) T {
	return s.Call("cross_entropy", func(p *lib.Ctensor) {
		lib.AtgCrossEntropyLoss(p, logits.C, targets.C, nil, 1, ignore, smoothing)
	})
}
