# Shared by demo.sh, test.sh and bench: installs build dependencies and builds.
# shellcheck shell=bash

GPUPV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# slow dependency builds (the mingw libraries) are kept here, outside the checkout
GPUPV_CACHE_DIR=${GPUPV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpupv}
GPUPV_DEBS=(build-essential cmake pkg-config libuv1-dev libcjson-dev libssl-dev libarchive-dev
  libmicrohttpd-dev clang-format)

# Installs what is missing with apt-get (as root, or through sudo).
gpupv_install_deps() {
  local missing=() pkg
  for pkg in "${GPUPV_DEBS[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# gpupv_build DIR [cmake options...]: configures and builds into DIR.
gpupv_build() {
  local dir=$1
  shift
  echo "==> building in $dir"
  cmake -S "$GPUPV_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}
