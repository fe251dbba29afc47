#!/usr/bin/env bash
# test_package.sh checks the Linux archive the way a machine without Python and without libtorch
# would run it:
#   1. builds it with scripts/package.sh in a fresh worktree of HEAD (or takes the archive given as
#      $1) and checks that `git status --porcelain` there is still empty: packaging writes only
#      temporary or git-ignored files. The worktree keeps other edits of this checkout out of both
#      the archive and the check, so commit a change to the packaging before testing it;
#   2. unpacks it into a temporary folder, lists its size and contents, and checks that LICENSE and
#      THIRD_PARTY_NOTICES.md are the checkout's;
#   3. checks with readelf that bin/captune's only search path is $ORIGIN/../lib and that no library
#      in lib/ carries an absolute one;
#   4. runs `captune doctor` and `captune caption` from the unpacked folder with an empty environment
#      (LD_LIBRARY_PATH empty, HOME a temporary folder) inside a private mount namespace where the
#      development libtorch (~/.cache/captune) and the virtualenv (.venv) are empty folders, and checks
#      with LD_DEBUG that every library came from the package or the system;
#   5. installs it with its install.sh into a temporary HOME and runs the command link.
# Takes a few minutes (compression; the first package build also recompiles the cgo packages).
# Run by `CAPTUNE_PACKAGE_TEST=1 go test -run TestPackage ./app/`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source build/env.sh

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'test_package: FAIL: %s\n' "$*" >&2; exit 1; }
VERSION=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
TMP=$(mktemp -d /tmp/captune-package-test.XXXXXX)
TREE=$TMP/checkout
trap 'git -C "$ROOT" worktree remove --force "$TREE" 2>/dev/null || true; rm -rf "$TMP"' EXIT
SRCROOT=$ROOT  # the checkout the archive was built from

if [ $# -ge 1 ]; then
  TARBALL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
  say "packaging HEAD ($(git rev-parse --short HEAD)) in a fresh worktree"
  git worktree add -q --detach "$TREE" HEAD
  mkdir -p "$TREE/build" && cp build/env.sh "$TREE/build/"  # setup's output: paths into the shared cache
  [ -z "$(git -C "$TREE" status --porcelain=v1 --untracked-files=all)" ] || fail "the fresh worktree is not clean"
  TARBALL=$(cd "$TREE" && OUT="$ROOT/dist" bash scripts/package.sh | tail -n1)
  SRCROOT=$TREE
  say "git status --porcelain after packaging"
  status=$(git -C "$TREE" status --porcelain=v1 --untracked-files=all)
  [ -z "$status" ] || fail "packaging changed the checkout; every file it writes must be temporary or git-ignored:
$status"
  echo "(empty: packaging changed no tracked file and left no file that is not git-ignored)"
fi
[ -f "$TARBALL" ] || fail "no archive at $TARBALL"
mkdir -p "$TMP/unpacked" "$TMP/home" "$TMP/empty"
tar -xJf "$TARBALL" -C "$TMP/unpacked"
PKG=$(echo "$TMP"/unpacked/captune-*)
[ -x "$PKG/bin/captune" ] || fail "no bin/captune in the archive"

say "license files"
for f in LICENSE THIRD_PARTY_NOTICES.md; do
  cmp -s "$PKG/$f" "$SRCROOT/$f" || fail "$f in the archive is missing or differs from the checkout's"
  echo "$f: $(stat -c %s "$PKG/$f") bytes, the same as the checkout's"
done

say "archive"
echo "$(basename "$TARBALL"): $(stat -c %s "$TARBALL") bytes ($(du -h "$TARBALL" | cut -f1)), unpacked $(du -sh "$PKG" | cut -f1)"
say "contents"
tar -tvJf "$TARBALL" | awk '{ printf "%12s  %s%s%s\n", $3, $6, ($7 ? " " $7 : ""), ($8 ? " " $8 : "") }'

say "dynamic section of bin/captune"
readelf -d "$PKG/bin/captune" | grep -E 'NEEDED|RPATH|RUNPATH'
runpath=$(readelf -d "$PKG/bin/captune" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
[ "$runpath" = '$ORIGIN/../lib' ] || fail "RUNPATH [$runpath], want [\$ORIGIN/../lib]"
! readelf -d "$PKG/bin/captune" | grep -q '(RPATH)' || fail "bin/captune has an RPATH entry"
for l in "$PKG"/lib/*.so*; do
  for p in $(readelf -d "$l" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr ':' ' '); do
    case "$p" in '$ORIGIN'*) ;; *) fail "$(basename "$l") has the absolute search path $p" ;; esac
  done
done
echo "no absolute rpath or runpath in bin/captune or lib/*"

# Everything below runs in a private mount namespace where the development libtorch and the
# virtualenv are empty folders, so that only the package can provide libtorch.
HIDE=("${CAPTUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/captune}" "$ROOT/.venv")
IMAGE=$ROOT/inference/testdata/images/photo.jpg
MODEL=$ROOT/inference/testdata/models/tiny-a
[ -f "$IMAGE" ] && [ -f "$MODEL/config.json" ] || fail "missing test image $IMAGE or model $MODEL"
# The bundled model and sample exist once scripts/make_bundled.sh has run; then they are captioned too.
SAMPLE=""
[ -f "$ROOT/assets/model/config.json" ] && [ -d "$ROOT/assets/sample" ] && SAMPLE=$ROOT/assets/sample
cat > "$TMP/inside.sh" <<'INSIDE'
set -euo pipefail
PKG=$1 TMP=$2 IMAGE=$3 MODEL=$4 SAMPLE=$5; shift 5
for d in "$@"; do
  [ -d "$d" ] && mount --bind "$TMP/empty" "$d" && echo "hidden: $d ($(ls -A "$d" | wc -l) entries visible)"
done
clean() { env -i PATH=/usr/bin:/bin HOME="$TMP/home" LD_LIBRARY_PATH= "$@"; }
echo; echo "== ldd bin/captune (LD_LIBRARY_PATH empty)"
clean ldd "$PKG/bin/captune"
! clean ldd "$PKG/bin/captune" | grep -q 'not found' || { echo "FAIL: unresolved libraries"; exit 1; }
echo; echo "== captune --version"
clean "$PKG/bin/captune" --version
echo; echo "== captune doctor"
clean "$PKG/bin/captune" doctor | tee "$TMP/doctor.txt"
grep -q "loaded 2.1.0 from $PKG/lib" "$TMP/doctor.txt" || { echo "FAIL: doctor did not load libtorch 2.1.0 from the package"; exit 1; }
echo; echo "== captune caption --model tiny-a $(basename "$IMAGE")"
clean LD_DEBUG=libs LD_DEBUG_OUTPUT="$TMP/ld" "$PKG/bin/captune" caption --model "$MODEL" --device cpu "$IMAGE" | tee "$TMP/caption.txt"
[ "$(wc -l < "$TMP/caption.txt")" = 1 ] && grep -q "^$IMAGE	." "$TMP/caption.txt" || { echo "FAIL: no caption line"; exit 1; }
echo "(tiny-a is a randomly initialised test model: its words mean nothing, only that it ran)"
if [ -n "$SAMPLE" ]; then
  echo; echo "== captune caption (bundled model, bundled sample: first 5 images)"
  clean "$PKG/bin/captune" caption --device cpu $(ls "$SAMPLE"/*.png "$SAMPLE"/*.jpg 2>/dev/null | head -n5) |
    tee "$TMP/bundled.txt"
  [ "$(wc -l < "$TMP/bundled.txt")" -ge 1 ] || { echo "FAIL: no caption from the bundled model"; exit 1; }
fi
echo; echo "== libraries the caption process loaded (LD_DEBUG=libs)"
sed -n 's/.*calling init: //p' "$TMP"/ld.* | while read -r l; do realpath -m "$l"; done | sort -u | tee "$TMP/loaded.txt"
grep -q "^$PKG/lib/libtorch_cpu.so$" "$TMP/loaded.txt" || { echo "FAIL: libtorch_cpu.so not loaded from the package"; exit 1; }
if grep -v -e "^$PKG/lib/" -e '^/lib/' -e '^/usr/lib/' -e '^/lib64/' "$TMP/loaded.txt"; then
  echo "FAIL: libraries above came from neither the package nor the system"; exit 1
fi
INSIDE
say "running the unpacked package (private mount namespace)"
unshare -m bash -c 'mount --make-rprivate / && exec bash "$0" "$@"' "$TMP/inside.sh" "$PKG" "$TMP" "$IMAGE" "$MODEL" "$SAMPLE" "${HIDE[@]}" \
  || fail "the unpacked package does not run on its own"

# DEST and PREFIX always point into the temporary HOME: run as root, install.sh would otherwise
# install into /opt and /usr/local.
say "install.sh into a temporary HOME"
inst=(env -i PATH=/usr/bin:/bin HOME="$TMP/home" DEST="$TMP/home/.local/opt/captune" PREFIX="$TMP/home/.local")
"${inst[@]}" "$PKG/install.sh"
env -i PATH=/usr/bin:/bin HOME="$TMP/home" LD_LIBRARY_PATH= "$TMP/home/.local/bin/captune" version | tee "$TMP/version.txt"
grep -q "^captune $VERSION\$" "$TMP/version.txt" || fail "captune version does not print FyneApp.toml's version $VERSION"
grep '^Exec=' "$TMP/home/.local/share/applications/"*.desktop
grep -q "^Exec=$TMP/home/.local/opt/captune/bin/captune" "$TMP/home/.local/share/applications/"*.desktop || fail "desktop entry Exec"
"${inst[@]}" "$TMP/home/.local/opt/captune/install.sh" --uninstall
[ ! -e "$TMP/home/.local/bin/captune" ] && [ ! -e "$TMP/home/.local/opt/captune" ] || fail "uninstall left files"

say "PASS: $(basename "$TARBALL") runs unpacked with no libtorch or Python of the machine"
