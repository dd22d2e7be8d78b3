#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60).
#   scripts/fuzz.sh [SECONDS]
# Corpora live in build-fuzz/corpus/<target>; crashes are written to build-fuzz/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds=${1:-60}
gpupv_install_deps clang libclang-rt-14-dev
build="$GPUPV_ROOT/build-fuzz"
CC=clang gpupv_build "$build" -DGPUPV_FUZZ=ON -DGPUPV_TESTS=OFF
for target in bundle frame msg manifest path; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  [ "$target" = manifest ] && cp "$GPUPV_ROOT/tests/data/manifest-v1.json" "$corpus/"
  [ "$target" = bundle ] && cp "$GPUPV_ROOT/tests/data/bundle-header.json" "$corpus/"
  echo "==> fuzz-$target for ${seconds}s"
  (cd "$build" && "./tests/fuzz/fuzz-$target" -max_total_time="$seconds" -max_len=70000 \
    -print_final_stats=1 "$corpus" 2>&1 | grep -E "^Done|ERROR|SUMMARY" || true)
  # a crash leaves crash-* behind and makes the run fail
  if compgen -G "$build/crash-*" >/dev/null || compgen -G "$build/leak-*" >/dev/null ||
    compgen -G "$build/timeout-*" >/dev/null; then
    echo "fuzz-$target found a failing input in $build" >&2
    exit 1
  fi
done
