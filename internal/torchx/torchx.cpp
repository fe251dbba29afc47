// The few libtorch calls gotch v0.9.1 does not expose to Go.
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <cstring>
#include <torch/version.h>
#include "torchx.h"

extern "C" {
int captune_get_num_threads(void) { return at::get_num_threads(); }
void captune_set_num_threads(int n) { at::set_num_threads(n); }
void captune_manual_seed(long long seed) { at::manual_seed((uint64_t)seed); }
const char *captune_torch_version(void) { return TORCH_VERSION; }
int captune_cxx11_abi(void) { return _GLIBCXX_USE_CXX11_ABI; }

// Autocast state is per thread (the dispatcher's thread-local key set), as in Python's
// torch.autocast: entering saves the previous state, leaving restores it and, when the outermost
// region ends, drops the cache of weights already cast to the low precision.
int captune_autocast_enter(int cuda, int bf16) {
  at::ScalarType dt = bf16 ? at::kBFloat16 : at::kHalf;
  int prev;
  if (cuda) {
    prev = at::autocast::is_enabled() ? 1 : 0;
    prev |= at::autocast::get_autocast_gpu_dtype() == at::kBFloat16 ? 2 : 0;
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dt);
  } else {
    prev = at::autocast::is_cpu_enabled() ? 1 : 0;
    prev |= at::autocast::get_autocast_cpu_dtype() == at::kBFloat16 ? 2 : 0;
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dt);
  }
  at::autocast::increment_nesting();
  return prev;
}

void captune_autocast_exit(int cuda, int prev) {
  at::ScalarType dt = (prev & 2) ? at::kBFloat16 : at::kHalf;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda) {
    at::autocast::set_enabled(prev & 1);
    at::autocast::set_autocast_gpu_dtype(dt);
  } else {
    at::autocast::set_cpu_enabled(prev & 1);
    at::autocast::set_autocast_cpu_dtype(dt);
  }
}

// The tensor keeps its handle (every holder sees the change) and takes new data: itself converted
// to scalar type dtype, as Python's `p.data = p.data.to(dtype)` does. An error is returned
// malloc'ed, else NULL.
char *captune_set_dtype(void *t, int dtype) {
  try {
    auto *x = static_cast<at::Tensor *>(t);
    x->set_data(x->to(static_cast<at::ScalarType>(dtype)));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

int captune_autocast_enabled(int cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
}
