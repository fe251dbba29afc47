package torchx

// #include "grad.h"
import "C"

import "unsafe"

// ClearGrad drops a tensor's gradient (a libtorch tensor handle), as Python's `p.grad = None`: the
// buffer is freed now and the next backward pass allocates a fresh one. Between training steps
// that keeps a model's worth of gradient memory free while the next forward pass builds its
// activations, as torch.optim's zero_grad(set_to_none=True) does.
func ClearGrad(tensor unsafe.Pointer) { C.captune_clear_grad(tensor) }
