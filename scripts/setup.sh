#!/usr/bin/env bash
# setup.sh installs what Captune needs to build, test and run, and nothing twice.
#
#   scripts/setup.sh          Debian packages for Fyne, libtorch 2.1.0 (from the torch==2.1.0 wheel on
#                             PyPI), CUDA stub archives, and build/env.sh which every build and test sources.
#   scripts/setup.sh --dev    additionally the project-local virtualenv .venv with torch 2.1.0 (all its
#                             wheels, so `import torch` works), transformers and safetensors: the Python
#                             reference used by the fixture script and the benchmarks; and .venv-latest
#                             with the newest torch + transformers PyPI serves (the benchmarks' second
#                             reference; CAPTUNE_NO_LATEST=1 skips it: with the CUDA wheels it pulls, 5.6 GB installed).
#   scripts/setup.sh --gpu    libtorch plus the nvidia-*-cu12 wheels' libraries, for `make GPU=1`.
#
# libtorch is unpacked once into a shared cache (default ~/.cache/captune/libtorch-2.1.0) rather than the
# checkout, so that the cgo flags are byte-identical for every clone and Go's build cache keeps the
# compiled gotch C++ wrapper (several minutes on 2 cores) across clones.
set -euo pipefail

TORCH_VERSION=2.1.0
CUDA_RUNTIME=12.1.105
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CAPTUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/captune}
LIBTORCH=$CACHE/libtorch-$TORCH_VERSION
WHEELS=$CACHE/wheels
STUBS=$CACHE/cudastubs
PY=${PYTHON:-python3}
DEV=0; GPU=0
for a in "$@"; do
  case "$a" in
    --dev) DEV=1 ;;
    --gpu) GPU=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $a" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: FAILED: %s\n' "$*" >&2; exit 1; }

# 1. Debian packages: a C toolchain and the X11/OpenGL headers Fyne's GLFW driver compiles against,
#    Xvfb for headless GUI tests, unzip for the wheels, libjpeg-turbo (JPEG decoded as Pillow decodes
#    it; without it, build with -tags noturbojpeg) and its cjpeg, which writes some JPEG test fixtures.
APT_PKGS=(gcc g++ pkg-config libgl1-mesa-dev xorg-dev xvfb xauth x11-utils unzip libjpeg62-turbo-dev libjpeg-turbo-progs)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null || die "apt-get update"
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]}"
fi

# 2. libtorch from the torch wheel. libtorch_cpu.so itself needs libcudart.so.12 and libcupti.so.12 (read
#    with readelf -d), so those two small nvidia wheels come along even for a CPU build.
fetch_wheel() { # name==version -> path of the cached wheel
  local spec=$1 name=${1%%==*}
  local f
  f=$(ls "$WHEELS"/"${name//-/_}"-"${spec##*==}"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$f" ]; then
    mkdir -p "$WHEELS"
    say "downloading $spec from PyPI"
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux1_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$WHEELS" "$spec" >&2 || die "pip download $spec"
    f=$(ls "$WHEELS"/"${name//-/_}"-"${spec##*==}"-*.whl | head -n1)
  fi
  echo "$f"
}
unpack_libs() { # wheel, glob inside it -> into $LIBTORCH/lib
  local tmp; tmp=$(mktemp -d)
  unzip -q -o "$1" "$2" -d "$tmp" || die "unzip $1"
  find "$tmp" -name '*.so*' -exec cp -a {} "$LIBTORCH/lib/" \;
  rm -rf "$tmp"
}
if [ ! -f "$LIBTORCH/.complete" ]; then
  whl=$(fetch_wheel "torch==$TORCH_VERSION")
  say "unpacking libtorch into $LIBTORCH"
  rm -rf "$LIBTORCH.tmp"; mkdir -p "$LIBTORCH.tmp"
  unzip -q "$whl" 'torch/lib/*' 'torch/include/*' 'torch/version.py' -d "$LIBTORCH.tmp" || die "unzip $whl"
  rm -rf "$LIBTORCH"; mv "$LIBTORCH.tmp/torch" "$LIBTORCH"; rm -rf "$LIBTORCH.tmp"
  rm -f "$LIBTORCH/lib/libtorch_python.so" "$LIBTORCH/lib/libshm.so"
  unpack_libs "$(fetch_wheel nvidia-cuda-runtime-cu12==$CUDA_RUNTIME)" 'nvidia/cuda_runtime/lib/*'
  unpack_libs "$(fetch_wheel nvidia-cuda-cupti-cu12==$CUDA_RUNTIME)" 'nvidia/cuda_cupti/lib/*'
  touch "$LIBTORCH/.complete"
fi
if [ "$GPU" = 1 ] && [ ! -f "$LIBTORCH/.cuda-complete" ]; then
  for spec in nvidia-cublas-cu12==12.1.3.1 nvidia-cudnn-cu12==8.9.2.26 nvidia-cufft-cu12==11.0.2.54 \
      nvidia-curand-cu12==10.3.2.106 nvidia-cusolver-cu12==11.4.5.107 nvidia-cusparse-cu12==12.1.0.106 \
      nvidia-nccl-cu12==2.18.1 nvidia-nvtx-cu12==12.1.105 nvidia-cuda-nvrtc-cu12==12.1.105 nvidia-nvjitlink-cu12==12.1.105; do
    unpack_libs "$(fetch_wheel "$spec")" 'nvidia/*'
  done
  touch "$LIBTORCH/.cuda-complete"
fi

# 3. Empty static archives for the CUDA libraries gotch's lib.go always names (-lcuda ... -ltorch_cuda):
#    they satisfy the linker without adding a dependency. See README.md, "How libtorch is linked".
if [ ! -f "$STUBS/.complete" ]; then
  mkdir -p "$STUBS"
  for n in cuda cudart cublas cudnn caffe2_nvrtc nvrtc-builtins nvrtc nvToolsExt c10_cuda torch_cuda; do
    rm -f "$STUBS/lib$n.a"; ar rc "$STUBS/lib$n.a"
  done
  touch "$STUBS/.complete"
fi

# 4. The env file every build and test sources. The CPU and the GPU variants differ only in CGO_LDFLAGS.
mkdir -p "$ROOT/build"
cat > "$ROOT/build/env.sh.tmp" <<ENV
# Written by scripts/setup.sh; sourced by the Makefile. Do not edit: rerun setup.
export LIBTORCH=$LIBTORCH
export CGO_ENABLED=1
export CGO_CXXFLAGS="-D_GLIBCXX_USE_CXX11_ABI=0 -I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include"
export CGO_CFLAGS="-I$LIBTORCH/include"
if [ "\${GPU:-0}" = 1 ]; then
  export CGO_LDFLAGS="-Wl,--as-needed -L$LIBTORCH/lib -L$STUBS -Wl,-rpath,$LIBTORCH/lib -Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed"
else
  export CGO_LDFLAGS="-Wl,--as-needed -L$STUBS -L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib"
fi
ENV
mv "$ROOT/build/env.sh.tmp" "$ROOT/build/env.sh"

# 5. The developer's Python reference (fixtures, benchmarks): never needed by the built program or by make test.
#    The marker holds the torch version and a hash of requirements-dev.txt, so that a pin added or changed
#    there reaches a .venv made before it (pip then installs only what differs).
DEV_STAMP="torch==$TORCH_VERSION $(sha256sum "$ROOT/scripts/requirements-dev.txt" | cut -d' ' -f1)"
if [ "$DEV" = 1 ] && [ "$(cat "$ROOT/.venv/.captune-dev-complete" 2>/dev/null)" != "$DEV_STAMP" ]; then
  [ -x "$ROOT/.venv/bin/python" ] || "$PY" -m venv "$ROOT/.venv" || die "python venv"
  say "installing the Python reference into .venv (torch $TORCH_VERSION, transformers, safetensors, peft)"
  "$ROOT/.venv/bin/pip" install -q "torch==$TORCH_VERSION" -r "$ROOT/scripts/requirements-dev.txt" >&2 || die "pip install into .venv"
  echo "$DEV_STAMP" > "$ROOT/.venv/.captune-dev-complete"
fi
# 6. The second reference: the newest torch and transformers that PyPI serves, in .venv-latest, so that
#    `make bench` also measures against what a user would install today. PyPI's Linux torch wheel pulls
#    the nvidia-*-cu12 wheels (its import needs them even on a CPU); there is no CPU-only wheel on PyPI.
#    The marker records the versions installed; remove .venv-latest to move to newer ones.
LATEST=$ROOT/.venv-latest
if [ "$DEV" = 1 ] && [ "${CAPTUNE_NO_LATEST:-0}" != 1 ] && [ ! -f "$LATEST/.captune-dev-complete" ]; then
  [ -x "$LATEST/bin/python" ] || "$PY" -m venv "$LATEST" || die "python venv .venv-latest"
  say "installing the newest torch and transformers from PyPI into .venv-latest (second benchmark reference)"
  "$LATEST/bin/pip" install -q --upgrade torch transformers safetensors pillow numpy psutil peft >&2 \
    || die "pip install into .venv-latest"
  "$LATEST/bin/python" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' \
    > "$LATEST/.captune-dev-complete.tmp" || die "import torch in .venv-latest"
  mv "$LATEST/.captune-dev-complete.tmp" "$LATEST/.captune-dev-complete"
fi
# A .venv-latest made before the LoRA rows (issue 15) lacks peft: add it, keeping its torch.
if [ "$DEV" = 1 ] && [ -f "$LATEST/.captune-dev-complete" ] && ! grep -q peft "$LATEST/.captune-dev-complete"; then
  say "adding peft to .venv-latest (the LoRA rows of make bench)"
  "$LATEST/bin/pip" install -q peft >&2 || die "pip install peft into .venv-latest"
  "$LATEST/bin/python" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' \
    > "$LATEST/.captune-dev-complete.tmp" || die "import peft in .venv-latest"
  mv "$LATEST/.captune-dev-complete.tmp" "$LATEST/.captune-dev-complete"
fi
say "ready (libtorch $TORCH_VERSION at $LIBTORCH)"
