#!/usr/bin/env bash
# Build the extension quickly (profile dev-fast: optimised, incremental, no LTO) and put it
# next to the Python sources, so `PYTHONPATH=python python -m pytest` uses this tree.
# Usage: tools/dev-build.sh   (run from anywhere inside the repository)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
cargo build -q --profile dev-fast --features python --lib
target="${CARGO_TARGET_DIR:-target}"
# Copy, then rename: replacing the file a running Python has mapped must not change it in place.
cp -f "$target/dev-fast/libferrograd.so" python/ferrograd/_C.abi3.so.tmp
mv -f python/ferrograd/_C.abi3.so.tmp python/ferrograd/_C.abi3.so
