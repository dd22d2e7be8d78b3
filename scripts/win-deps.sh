#!/usr/bin/env bash
# Builds libuv, cJSON, OpenSSL (libcrypto), libarchive and libmicrohttpd as static libraries for
# x86_64-w64-mingw32, from Debian's source packages, into a cache outside the checkout.
#
#   scripts/win-deps.sh            build what is missing; print the prefixes, one per line
#
# Sources come from `apt-get source` with a private apt configuration (in the cache) that adds
# deb-src lines for the mirrors this machine already uses; the system's apt setup is not
# touched. Each library lands in $GPUPV_CACHE_DIR/mingw/<source>-<version>/ and is reused
# while Debian ships that version. zlib comes from Debian's libz-mingw-w64-dev.
#
# GPUPV_CACHE_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/gpupv.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cache="$GPUPV_CACHE_DIR/mingw"
apt_dir="$cache/apt"
toolchain="$GPUPV_ROOT/cmake/mingw-w64-x86_64.cmake"
host=x86_64-w64-mingw32
jobs=$(nproc)
mkdir -p "$cache"

log() { echo "==> $*" >&2; }

# A private apt configuration: deb-src twins of the system's deb entries, own lists and cache.
apt_setup() {
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  local f n=0
  : >"$apt_dir/sources.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" >>"$apt_dir/sources.list"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    sed 's/^Types:.*\bdeb\b.*$/Types: deb-src/' "$f" >"$apt_dir/sources.list.d/system-$n.sources"
  done
  cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/sources.list.d";
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
EOF
  export APT_CONFIG="$apt_dir/apt.conf"
  log "updating the private deb-src index"
  apt-get update -qq >&2
}

# source_versions PKG: the versions Debian offers, newest first.
source_versions() {
  apt-cache showsrc "$1" | sed -n 's/^Version: //p' | sort -r -V -u
}

# fetch PKG VERSION DIR: downloads and unpacks source package PKG at VERSION into DIR/tree.
fetch() {
  (cd "$3" && apt-get source -qq --download-only "$1=$2" >/dev/null 2>&1) || return 1
  dpkg-source -x --no-check "$3/${1}_${2#*:}.dsc" "$3/tree" >/dev/null
}

cmake_cross() {
  cmake -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release "$@" >&2
}

build_libuv() { # src prefix
  cmake_cross -S "$1" -B "$1/build" -DCMAKE_INSTALL_PREFIX="$2" -DLIBUV_BUILD_TESTS=OFF \
    -DLIBUV_BUILD_BENCH=OFF
  cmake --build "$1/build" -j "$jobs" --target uv_a >&2
  mkdir -p "$2/lib" "$2/include"
  cp "$1/build/libuv_a.a" "$2/lib/libuv.a"
  cp -r "$1/include/." "$2/include/"
}

build_cjson() {
  mkdir -p "$2/lib" "$2/include/cjson"
  $host-gcc -std=c89 -O2 -c "$1/cJSON.c" -o "$1/cJSON.o"
  $host-ar rcs "$2/lib/libcjson.a" "$1/cJSON.o"
  cp "$1/cJSON.h" "$2/include/cjson/"
}

build_openssl() {
  (cd "$1" && ./Configure mingw64 no-shared no-tests no-engine no-module \
    --cross-compile-prefix=$host- --prefix="$2" --libdir=lib >&2 &&
    make -j "$jobs" build_libs >&2 && make install_dev >&2)
}

build_libarchive() {
  # try_run needs an emulator when cross-compiling, or CMake 3.25 crashes. zlib is linked
  # statically (libz.a, not the DLL's import library), so no zlib1.dll is needed.
  cmake_cross -S "$1" -B "$1/build" -DCMAKE_INSTALL_PREFIX="$2" \
    -DCMAKE_CROSSCOMPILING_EMULATOR=wine -DENABLE_TEST=OFF -DENABLE_TAR=OFF -DENABLE_CPIO=OFF \
    -DENABLE_CAT=OFF -DENABLE_OPENSSL=OFF -DENABLE_CNG=OFF -DENABLE_LIBXML2=OFF \
    -DENABLE_EXPAT=OFF -DENABLE_LZMA=OFF -DENABLE_BZip2=OFF -DENABLE_ZSTD=OFF -DENABLE_LZ4=OFF \
    -DENABLE_LZO=OFF -DENABLE_LIBB2=OFF -DENABLE_ICONV=OFF -DENABLE_ACL=OFF -DENABLE_XATTR=OFF \
    -DENABLE_ZLIB=ON -DENABLE_WERROR=OFF -DZLIB_LIBRARY=/usr/$host/lib/libz.a
  WINEDEBUG=-all cmake --build "$1/build" -j "$jobs" --target archive_static >&2
  mkdir -p "$2/lib" "$2/include"
  cp "$1/build/libarchive/libarchive_static.a" "$2/lib/libarchive.a"
  cp "$1/libarchive/archive.h" "$1/libarchive/archive_entry.h" "$2/include/"
}

build_libmicrohttpd() {
  # --with-threads=w32 skips its own check and then fails; auto picks w32 threads on mingw
  (cd "$1" && ./configure --host=$host --prefix="$2" --enable-static --disable-shared \
    --disable-https --disable-doc --disable-examples --disable-curl --disable-nls \
    --with-threads=auto >&2 && make -C src/microhttpd -j "$jobs" >&2 &&
    make -C src/microhttpd install >&2)
  mkdir -p "$2/include"
  cp "$1/src/include/microhttpd.h" "$2/include/"
}

# ensure PKG BUILDER: prints the prefix of the newest version of PKG that is cached or can be
# built. A mirror can list a version whose files are not there yet, so older ones are tried.
ensure() {
  local pkg=$1 builder=$2 version prefix scratch started
  for version in $(source_versions "$pkg"); do
    prefix="$cache/$pkg-$version"
    if [ -f "$prefix/.done" ]; then
      echo "$prefix"
      return 0
    fi
    scratch=$(mktemp -d "$cache/src.XXXXXX")
    if ! fetch "$pkg" "$version" "$scratch"; then
      log "$pkg $version is listed but cannot be downloaded; trying an older version"
      rm -rf "$scratch"
      continue
    fi
    log "building $pkg $version for $host"
    started=$SECONDS
    rm -rf "$prefix"
    "$builder" "$scratch/tree" "$prefix"
    touch "$prefix/.done"
    rm -rf "$scratch"
    log "$pkg $version built in $((SECONDS - started)) s"
    echo "$prefix"
    return 0
  done
  echo "scripts/win-deps.sh: no version of $pkg could be downloaded" >&2
  return 1
}

gpupv_install_deps gcc-mingw-w64-x86-64 libz-mingw-w64-dev dpkg-dev wine wine64
apt_setup
ensure libuv1 build_libuv
ensure cjson build_cjson
ensure openssl build_openssl
ensure libarchive build_libarchive
ensure libmicrohttpd build_libmicrohttpd
