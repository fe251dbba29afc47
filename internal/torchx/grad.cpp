// Gradient buffers.
#include <ATen/ATen.h>
#include "grad.h"

extern "C" {
// Drops the tensor's gradient (Python's `p.grad = None`), freeing its buffer.
void captune_clear_grad(void *tv) {
  auto *t = static_cast<at::Tensor *>(tv);
  if (t->defined()) t->mutable_grad().reset();
}
}
