// The few libtorch calls gotch v0.9.1 does not expose to Go.
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/version.h>
#include "torchx.h"

extern "C" {
int captune_get_num_threads(void) { return at::get_num_threads(); }
void captune_set_num_threads(int n) { at::set_num_threads(n); }
void captune_manual_seed(long long seed) { at::manual_seed((uint64_t)seed); }
const char *captune_torch_version(void) { return TORCH_VERSION; }
int captune_cxx11_abi(void) { return _GLIBCXX_USE_CXX11_ABI; }
}
