// Tensors over a memory-mapped file, and taking a tensor's data off such a mapping.
#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <ATen/ATen.h>
#include "mapping.h"

namespace {

// A mapping is reference-counted: one reference for its Go owner (released by
// captune_mapping_release) and one for each tensor storage built over it (released by the storage's
// deleter, whenever libtorch frees the last view of it). The last release unmaps.
struct mapping {
  void *addr;
  size_t len;
  std::atomic<long> refs;
};

std::mutex mu;
std::set<mapping *> live;  // guarded by mu

void unref(mapping *m) {
  if (m->refs.fetch_sub(1) == 1) {
    {
      std::lock_guard<std::mutex> l(mu);
      live.erase(m);
    }
    munmap(m->addr, m->len);
    delete m;
  }
}

char *dup_error(const char *msg) {
  size_t n = std::strlen(msg) + 1;
  char *s = static_cast<char *>(std::malloc(n));
  if (s) std::memcpy(s, msg, n);
  return s;
}

}  // namespace

extern "C" {

// The file is mapped private and writable: the file itself is never written (MAP_PRIVATE), and a
// page written by mistake becomes a private copy instead of a crash. Captune never writes mapped
// weights (training copies them first, see captune_own_data).
void *captune_mapping_new(int fd, size_t len, int *err) {
  void *addr = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  auto *m = new mapping{addr, len, {1}};
  std::lock_guard<std::mutex> l(mu);
  live.insert(m);
  return m;
}

void captune_mapping_release(void *m) { unref(static_cast<mapping *>(m)); }

const void *captune_mapping_addr(void *m) { return static_cast<mapping *>(m)->addr; }

long long captune_mappings_live(void) {
  std::lock_guard<std::mutex> l(mu);
  return static_cast<long long>(live.size());
}

// A CPU tensor of the given dtype (a c10::ScalarType) over len bytes at offset, owning one reference.
void *captune_mapping_tensor(void *mv, size_t offset, int64_t *dims, size_t ndims, int scalar_type, char **err) {
  auto *m = static_cast<mapping *>(mv);
  m->refs.fetch_add(1);
  try {
    auto opts = at::TensorOptions().dtype(static_cast<at::ScalarType>(scalar_type)).device(at::kCPU);
    at::Tensor t = at::from_blob(static_cast<char *>(m->addr) + offset, at::IntArrayRef(dims, ndims),
                                 [m](void *) { unref(m); }, opts);
    return new at::Tensor(t);
  } catch (const std::exception &e) {
    unref(m);
    *err = dup_error(e.what());
    return nullptr;
  }
}

// Replaces the tensor's data with a copy the tensor owns (as Python's `p.data = p.data.clone()`):
// every holder of the tensor, autograd included, sees the copy, and the mapping loses a reference.
int captune_own_data(void *tv, char **err) {
  try {
    auto *t = static_cast<at::Tensor *>(tv);
    t->set_data(t->detach().clone(at::MemoryFormat::Contiguous));
    return 0;
  } catch (const std::exception &e) {
    *err = dup_error(e.what());
    return -1;
  }
}

// Whether the tensor's data lies in a live mapping.
int captune_shares_mapping(void *tv) {
  auto *t = static_cast<at::Tensor *>(tv);
  if (!t->defined() || !t->has_storage() || t->storage().nbytes() == 0) return 0;
  auto *p = static_cast<const char *>(t->storage().data());
  std::lock_guard<std::mutex> l(mu);
  for (auto *m : live) {
    auto *a = static_cast<const char *>(m->addr);
    if (p >= a && p < a + m->len) return 1;
  }
  return 0;
}
}
