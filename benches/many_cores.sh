#!/usr/bin/env bash
# The comparison on a many-core machine (how the README's 16-core table was made): installs
# the wheel and NumPy from ./dist (no network needed), then runs benches/compare.py twice on
# all cores and once per thread count for the thread-scaling cases. Results go to $OUT
# (default ./bench-out).
# Usage: benches/many_cores.sh      (after `maturin build --release -o dist`)
set -uo pipefail
OUT="${OUT:-bench-out}"
mkdir -p "$OUT"
python -m pip install -q --no-index --find-links dist ferrograd 2>&1 | tail -2
python -c "import numpy" 2>/dev/null || python -m pip install -q --no-index --find-links dist numpy
{
    nproc
    lscpu | grep -E "Model name|^CPU\(s\)|Thread|NUMA node\(s\)"
    python -c "import torch, numpy, ferrograd; print(torch.__version__, numpy.__version__, ferrograd.__version__)"
} > "$OUT/machine.txt" 2>&1
cd "$(dirname "$0")/.." || exit 1
for run in 1 2; do
    timeout 200 python benches/compare.py --quick > "$OUT/all_threads_run$run.txt" 2>&1
done
for t in 1 4 16; do
    timeout 60 python benches/compare.py --quick --threads "$t" D1 D2 E F256 F1024 F2048 \
        > "$OUT/threads_$t.txt" 2>&1
done
