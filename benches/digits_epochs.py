"""Per-epoch time of examples/train_digits.py, ferrograd beside PyTorch.

    PYTHONPATH=python python benches/digits_epochs.py --rounds 3 --epochs 8

Runs the example alternately with each backend (so a busy machine slows both alike), reads
the per-epoch times it prints, drops each run's first epoch (warm-up) and reports the
median per model and backend, with the final test accuracies. ``--threads N`` sets
OMP_NUM_THREADS / MKL_NUM_THREADS (PyTorch) and FERROGRAD_NUM_THREADS (ferrograd).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "train_digits.py")
EPOCH = re.compile(r"epoch\s+\d+\s+loss\s+\S+\s+test acc\s+(\S+)\s+(\S+) ms")
HEADER = re.compile(r"^(MLP|CNN): \d+ parameters")


def run(backend, epochs, threads):
    env = dict(os.environ)
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "FERROGRAD_NUM_THREADS"):
            env[var] = str(threads)
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--backend", backend, "--epochs", str(epochs), "--no-plot"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    times, accs, model = {}, {}, None
    for line in out.replace("\r", "\n").splitlines():
        if m := HEADER.match(line):
            model = m.group(1)
        elif (m := EPOCH.search(line)) and model:
            times.setdefault(model, []).append(float(m.group(2)))
            accs[model] = float(m.group(1))
    return {k: v[1:] for k, v in times.items()}, accs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="threads per backend (0: default)")
    args = p.parse_args()
    times, accs = {}, {}
    for r in range(args.rounds):
        for backend in ("ferrograd", "torch") if r % 2 == 0 else ("torch", "ferrograd"):
            t, a = run(backend, args.epochs, args.threads)
            for model, ms in t.items():
                times.setdefault((model, backend), []).extend(ms)
                accs.setdefault((model, backend), []).append(a[model])
            print(f"round {r + 1} {backend}: " + ", ".join(f"{m} {a[m]:.4f}" for m in a))
    print(f"{'model':5} {'backend':10} {'median ms/epoch':>16} {'epochs':>7}  test acc")
    for (model, backend), ms in sorted(times.items()):
        acc = " ".join(f"{a:.4f}" for a in accs[(model, backend)])
        print(f"{model:5} {backend:10} {statistics.median(ms):16.1f} {len(ms):7d}  {acc}")


if __name__ == "__main__":
    main()
