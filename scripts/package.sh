#!/usr/bin/env bash
# package.sh builds the Linux release archive dist/captune-VERSION-linux-ARCH.tar.xz (make package):
#
#   captune-VERSION-linux-ARCH/
#     bin/captune                      RUNPATH $ORIGIN/../lib, nothing absolute
#     lib/                             the libtorch libraries the binary loads (found with ldd), and
#                                      libjpeg.so.62 (libjpeg-turbo, from the system)
#     share/applications/ID.desktop    written by `fyne package` from FyneApp.toml
#     share/icons/hicolor/256x256/apps/ID.png
#     build-version                    libtorch's version, where `captune doctor` looks for it
#     install.sh                       puts a command link, a menu entry and the icon in place
#     LICENSE                          Captune's license (GPL-3.0-or-later)
#     THIRD_PARTY_NOTICES.md           the licenses of the Go modules and of everything in lib/
#
# `fyne package` (fyne.io/tools) writes the desktop entry and icon from FyneApp.toml, but it installs
# only the executable under usr/local/bin and has no place for shared libraries, so this script builds
# the binary itself, lets fyne package that binary, and lays out the archive with lib/ beside bin/.
#
# Packaging changes no file of the checkout: `fyne package` increments Build in the FyneApp.toml of
# its source folder and rewrites the file, so it is given a copy (build/package/fyne/src) and the
# version and build number as flags. The build number is the number of commits up to HEAD: it grows
# with every commit and is the same for every package built from one commit.
#
# The binary is linked with -rpath '$ORIGIN/../lib' instead of the development build's absolute rpath
# into ~/.cache/captune. cgo records linker flags in every cgo package, so the first package build
# recompiles them (gotch's C++ wrapper included: several minutes on 2 cores); later ones are cached.
#
#   scripts/package.sh            CPU build (GPU=1 for the CUDA libraries too, see docs/PACKAGING.md)
#   OUT=DIR scripts/package.sh    write the archive into DIR instead of dist/
set -euo pipefail

FYNE_TOOLS=fyne.io/tools/cmd/fyne@v1.7.4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source build/env.sh
GPU=${GPU:-0}

say() { printf 'package: %s\n' "$*" >&2; }
die() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }

VERSION=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
APPID=$(sed -n 's/^ *ID *= *"\(.*\)"/\1/p' FyneApp.toml)
[ -n "$VERSION" ] && [ -n "$APPID" ] || die "FyneApp.toml has no Version or ID"
BUILD=$(git -C "$ROOT" rev-list --count HEAD 2>/dev/null || sed -n 's/^ *Build *= *\([0-9]*\)/\1/p' FyneApp.toml)
[ -n "$BUILD" ] || die "no build number: neither a git checkout nor a Build in FyneApp.toml"
ARCH=$(go env GOARCH)
NAME=captune-$VERSION-linux-$ARCH
[ "$GPU" = 1 ] && NAME=$NAME-cuda
OUT=${OUT:-$ROOT/dist}
WORK=$ROOT/build/package
STAGE=$WORK/$NAME
TORCHLIB=$LIBTORCH/lib

# 1. The binary, with the development rpath swapped for $ORIGIN/../lib and every other linker flag
#    (CUDA stubs, GPU forcing) kept as build/env.sh has them.
DEV_RPATH="-Wl,-rpath,$TORCHLIB"
case "$CGO_LDFLAGS" in *"$DEV_RPATH"*) ;; *) die "build/env.sh CGO_LDFLAGS has no $DEV_RPATH: rerun scripts/setup.sh" ;; esac
PKG_LDFLAGS=${CGO_LDFLAGS//"$DEV_RPATH"/'-Wl,-rpath,$ORIGIN/../lib'}
go test -count=1 -run TestNoticesListEveryModule ./internal/notices/ >/dev/null ||
  die "THIRD_PARTY_NOTICES.md does not list the modules of go.mod: run scripts/notices.sh"
rm -rf "$WORK"; mkdir -p "$WORK/exe" "$WORK/fyne" "$OUT"
say "building bin/captune $VERSION with rpath \$ORIGIN/../lib (the first package build recompiles the cgo packages)"
CGO_LDFLAGS=$PKG_LDFLAGS go build -trimpath \
  -ldflags "-s -w -X github.com/captune/captune/app.Version=$VERSION" -o "$WORK/exe/captune" . \
  || die "go build"

# 2. fyne package: desktop entry and icon from a copy of FyneApp.toml, around the binary built
#    above. Its source folder needs the metadata, the icon it names and some Go code (fyne checks
#    for a .go file even when given --executable); it never builds there.
SRC=$WORK/fyne/src
icon_rel=$(sed -n 's/^ *Icon *= *"\(.*\)"/\1/p' FyneApp.toml)
mkdir -p "$SRC/$(dirname "$icon_rel")"
cp FyneApp.toml main.go "$SRC/"
cp "$icon_rel" "$SRC/$icon_rel"
say "fyne package ($FYNE_TOOLS): version $VERSION, build $BUILD"
(cd "$WORK/fyne" && go run "$FYNE_TOOLS" package --target linux --release --src "$SRC" \
  --app-version "$VERSION" --app-build "$BUILD" --executable "$WORK/exe/captune") || die "fyne package"
fyne_tar=$(ls "$WORK"/fyne/*.tar.xz 2>/dev/null | head -n1)
[ -n "$fyne_tar" ] || die "fyne package wrote no .tar.xz"
mkdir -p "$WORK/fyne/x"
tar -xJf "$fyne_tar" -C "$WORK/fyne/x"
desktop=$(find "$WORK/fyne/x" -name "$APPID.desktop" | head -n1)
icon=$(find "$WORK/fyne/x" -path '*/pixmaps/*' -name "$APPID.png" | head -n1)
exe=$(find "$WORK/fyne/x" -path '*/bin/captune' | head -n1)
[ -n "$desktop" ] && [ -n "$icon" ] && [ -n "$exe" ] || die "fyne's archive lacks the desktop file, icon or binary"

mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/share/applications" "$STAGE/share/icons/hicolor/256x256/apps"
install -m 0755 "$exe" "$STAGE/bin/captune"
install -m 0644 "$desktop" "$STAGE/share/applications/$APPID.desktop"
install -m 0644 "$icon" "$STAGE/share/icons/hicolor/256x256/apps/$APPID.png"

# 3. The libraries: everything the loader resolves inside libtorch's folder (libtorch_cpu, libc10 and
#    what they pull in through their own $ORIGIN rpath: libgomp, libcudart, libcupti). System libraries
#    (libc, libstdc++, libGL, libX11) stay the system's: they must match the machine's drivers.
mapfile -t libs < <(LD_LIBRARY_PATH=$TORCHLIB ldd "$STAGE/bin/captune" |
  awk -v d="$TORCHLIB/" 'index($3, d) == 1 { print $3 }' | sort -u)
[ ${#libs[@]} -gt 0 ] || die "ldd found no libtorch library in $STAGE/bin/captune"
for l in "${libs[@]}"; do
  cp -L "$l" "$STAGE/lib/"
  chmod 0644 "$STAGE/lib/$(basename "$l")"
done
#    libjpeg-turbo, which decodes JPEG as Pillow does, comes along too: distributions ship libjpeg.so.62
#    from other builds or not at all, and the RUNPATH makes the bundled copy win over the system's.
jpeglib=$(ldd "$STAGE/bin/captune" | awk '$1 ~ /^libjpeg\.so\./ { print $3 }')
[ -n "$jpeglib" ] || die "bin/captune does not link libjpeg (built with -tags noturbojpeg?): install libjpeg62-turbo-dev"
cp -L "$jpeglib" "$STAGE/lib/$(basename "$jpeglib" | sed 's/^\(libjpeg\.so\.[0-9]*\).*/\1/')"
chmod 0644 "$STAGE/lib/"libjpeg.so.*
sed -n "s/^__version__ = '\(.*\)'/\1/p" "$LIBTORCH/version.py" > "$STAGE/build-version"
install -m 0644 LICENSE THIRD_PARTY_NOTICES.md "$STAGE/"

# 4. The installer. It copies the folder as a whole (the rpath needs lib/ beside bin/) and links the
#    command; the desktop entry gets an absolute Exec because menus do not search ~/.local/bin.
cat > "$STAGE/install.sh" <<'INSTALL'
#!/bin/sh
# Installs Captune from this unpacked folder. The program stays together (bin/captune finds lib/
# through its rpath $ORIGIN/../lib); only a command link, a menu entry and the icon go elsewhere.
#   ./install.sh               for this user: ~/.local/opt/captune, ~/.local/bin/captune, ~/.local/share
#   sudo ./install.sh          for everyone:  /opt/captune, /usr/local/bin/captune, /usr/local/share
#   ./install.sh --uninstall   removes what the same invocation would install
# DEST and PREFIX override the program folder and the prefix of the link, menu entry and icon.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  dest=${DEST:-/opt/captune}; prefix=${PREFIX:-/usr/local}
else
  dest=${DEST:-$HOME/.local/opt/captune}; prefix=${PREFIX:-$HOME/.local}
fi
id=@APPID@
if [ "${1:-}" = --uninstall ]; then
  rm -rf "$dest"
  rm -f "$prefix/bin/captune" "$prefix/share/applications/$id.desktop" "$prefix/share/icons/hicolor/256x256/apps/$id.png"
  echo "removed Captune from $dest"
  exit 0
fi
[ "$here" = "$dest" ] || { rm -rf "$dest.new"; mkdir -p "$(dirname "$dest")"; cp -R "$here" "$dest.new"; rm -rf "$dest"; mv "$dest.new" "$dest"; }
mkdir -p "$prefix/bin" "$prefix/share/applications" "$prefix/share/icons/hicolor/256x256/apps"
ln -sf "$dest/bin/captune" "$prefix/bin/captune"
sed "s|^Exec=captune|Exec=$dest/bin/captune|" "$dest/share/applications/$id.desktop" > "$prefix/share/applications/$id.desktop"
cp "$dest/share/icons/hicolor/256x256/apps/$id.png" "$prefix/share/icons/hicolor/256x256/apps/$id.png"
echo "installed Captune in $dest; run $prefix/bin/captune, or open it from the applications menu"
INSTALL
sed -i "s/@APPID@/$APPID/" "$STAGE/install.sh"
chmod 0755 "$STAGE/install.sh"

# 5. Checks before archiving: one relative RUNPATH, no RPATH, every library found without
#    LD_LIBRARY_PATH, and none of them from the development libtorch.
dyn=$(readelf -d "$STAGE/bin/captune")
runpath=$(sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' <<<"$dyn")
[ "$runpath" = '$ORIGIN/../lib' ] || die "RUNPATH is [$runpath], want [\$ORIGIN/../lib]"
! grep -q '(RPATH)' <<<"$dyn" || die "the binary has an RPATH entry: $(grep '(RPATH)' <<<"$dyn")"
resolved=$(env -u LD_LIBRARY_PATH ldd "$STAGE/bin/captune")
! grep -q 'not found' <<<"$resolved" || die "unresolved libraries: $(grep 'not found' <<<"$resolved")"
! grep -qF "$TORCHLIB" <<<"$resolved" || die "a library resolves into $TORCHLIB"
grep -qF "libjpeg.so.62 => $STAGE/bin/../lib/libjpeg.so.62 " <<<"$resolved" || die "libjpeg.so.62 does not resolve to the bundled copy: $(grep libjpeg <<<"$resolved")"

# 6. The archive: fixed owner and order, so two builds of the same tree give the same listing.
tarball=$OUT/$NAME.tar.xz
say "compressing $tarball"
tar -C "$WORK" --owner=0 --group=0 --numeric-owner --sort=name -cf - "$NAME" | xz -T0 -6 > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
say "wrote $tarball ($(du -h "$tarball" | cut -f1); unpacked $(du -sh "$STAGE" | cut -f1))"
echo "$tarball"
