#!/usr/bin/env bash
# Builds CAF 0.17.6 (core and io) with ThreadSanitizer into a prefix of the
# project's own, from the source of the Debian package that libcaf-dev was
# built from. Debian's libcaf is not instrumented, and TSan misses (or
# falsely reports) synchronisation that happens inside uninstrumented code.
#
#   tools/tsan/build_caf.sh [PREFIX]    (default: build-tsan-caf/prefix)
#
# Idempotent: a prefix whose stamp matches this script and its patch is kept.
# Needs root (or sudo) once, to add a deb-src entry for the running suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${1:-$root/build-tsan-caf/prefix}"
work="$(dirname "$prefix")"
patch_file="$here/caf-0.17.6.patch"

stamp_want="$(cat "$0" "$patch_file" | sha256sum | cut -d' ' -f1)"
if [[ -f "$prefix/.stamp" && "$(cat "$prefix/.stamp")" == "$stamp_want" ]]; then
  echo "build_caf.sh: TSan CAF up to date in $prefix"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "build_caf.sh: need root to add a deb-src entry" >&2
    exit 1
  }
  sudo=(sudo)
fi

# The source package's version: the one libcaf-dev was built from.
src_version="$(dpkg-query -W -f='${source:Version}' libcaf-dev)"
src_upstream="${src_version%%-*}"
if [[ "$src_upstream" != 0.17.6 ]]; then
  echo "build_caf.sh: libcaf-dev comes from CAF $src_upstream;" \
       "$patch_file is for 0.17.6" >&2
  exit 1
fi

# apt-get source needs a deb-src entry for the suite the machine runs.
if ! apt-cache showsrc actor-framework 2>/dev/null | grep -q '^Package:'; then
  . /etc/os-release
  "${sudo[@]}" tee /etc/apt/sources.list.d/actorflow-deb-src.sources \
    >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME} ${VERSION_CODENAME}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  "${sudo[@]}" apt-get update -qq
fi

rm -rf "$work/src" "$work/build" "$prefix"
mkdir -p "$work/src"
# Only the upstream tarball (apt checks its hash against the index): our
# patch carries the two build fixes this build needs.
(cd "$work/src" && apt-get source -qq --tar-only "actor-framework=$src_version")
tar xzf "$work/src/actor-framework_${src_upstream}.orig.tar.gz" -C "$work/src"
srcdir="$work/src/actor-framework-${src_upstream}"
patch -d "$srcdir" -p1 --quiet < "$patch_file"

# A unity build: about 3 minutes on 2 cores instead of about 20.
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$srcdir" -B "$work/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g1" \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCAF_NO_OPENSSL=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes \
  -DCAF_NO_TOOLS=yes -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes \
  -DCAF_NO_SUMMARY=yes >"$work/configure.log"
cmake --build "$work/build" -j"$(nproc 2>/dev/null || echo 2)"
cmake --install "$work/build" >"$work/install.log"
echo "$stamp_want" >"$prefix/.stamp"
echo "build_caf.sh: TSan CAF installed in $prefix"
