"""Side-by-side speed comparison of ferrograd and PyTorch (and NumPy where it gives a roofline).

Every case is written once against the PyTorch API and run on both libraries in the same
process, alternating between them, with warm-up and many repetitions. The table reports
medians and the ratio ferrograd / PyTorch (lower is better for ferrograd); one JSON line per
case follows for machines to read. Memory cases (G1M, H) run each library in a fresh
subprocess so peak RSS is that library's alone.

    python benches/compare.py               # all cases
    python benches/compare.py A1 A2 E       # some cases
    python benches/compare.py --quick       # fewer repetitions
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

# Imported in main() (or, in a memory child, only the library it measures, so that one
# library's peak RSS does not include the other's).
ferrograd = None
torch = None


def _import_libs(which=("ferrograd", "torch")):
    global ferrograd, torch
    if "ferrograd" in which:
        import ferrograd
    if "torch" in which:
        try:
            import torch
        except ImportError:  # the comparison needs PyTorch; ferrograd alone still runs
            torch = None


# ---- the cases, written with the PyTorch API ----------------------------------------------


def case_a1(lib):
    """The tutorial graph on 2x2, forward + backward, per iteration."""

    def step():
        x = lib.ones(2, 2, requires_grad=True)
        y = x + 2
        out = (y * y * 3).mean()
        out.backward()

    return step


def case_a2(lib):
    a, b = lib.ones(2, 2), lib.ones(2, 2)
    return lambda: a + b


def _mlp(lib, sizes, act, loss, batch):
    lib.manual_seed(0)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = (lib.randn(fan_in, fan_out) * (1.0 / fan_in**0.5)).requires_grad_()
        b = lib.zeros(fan_out, requires_grad=True)
        params += [w, b]
    x = lib.randn(batch, sizes[0])
    if loss == "mse":
        target = lib.randn(batch, sizes[-1])
    else:
        target = lib.randint(0, sizes[-1], (batch,))

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = getattr(h, act)()
        if loss == "mse":
            out = ((h - target) ** 2).mean()
        else:
            out = lib.nn.functional.cross_entropy(h, target)
        out.backward()
        with lib.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None

    return step


def case_b(lib):
    return _mlp(lib, [2, 16, 16, 1], "tanh", "mse", 100)


def case_c(lib):
    return _mlp(lib, [784, 256, 10], "relu", "ce", 64)


def case_d1(lib):
    x = lib.rand(10**7, requires_grad=True)

    def step():
        (x * x + x).exp().sum().backward()
        x.grad = None

    return step


def case_d2(lib):
    x = lib.rand(10**7)
    return lambda: x + x


def case_e(lib):
    x = lib.rand(10**7)
    return lambda: x.sum()


def _matmul(n):
    def make(lib):
        a, b = lib.rand(n, n), lib.rand(n, n)
        return lambda: a @ b

    return make


# NumPy versions of the cases where NumPy is a roofline (its matmul is OpenBLAS sgemm).
def _np_rand(*shape):
    return np.random.default_rng(0).random(shape, dtype=np.float32)


NUMPY = {
    "D2": lambda: (lambda x: lambda: x + x)(_np_rand(10**7)),
    "E": lambda: (lambda x: lambda: x.sum())(_np_rand(10**7)),
    "F256": lambda: (lambda a, b: lambda: a @ b)(_np_rand(256, 256), _np_rand(256, 256)),
    "F1024": lambda: (lambda a, b: lambda: a @ b)(_np_rand(1024, 1024), _np_rand(1024, 1024)),
    "F2048": lambda: (lambda a, b: lambda: a @ b)(_np_rand(2048, 2048), _np_rand(2048, 2048)),
}
FLOPS = {f"F{n}": 2 * n**3 for n in (256, 1024, 2048)}


def _chain(steps):
    def make(lib):
        def run():
            x = lib.ones(1, requires_grad=True)
            y = x
            for _ in range(steps):
                y = y * 1.0001 + 0.0
            y.sum().backward()

        return run

    return make


CASES = {
    # name: (maker, iterations per timed batch, target ratio, what it shows)
    "A1": (case_a1, 200, 0.15, "tutorial graph 2x2 fwd+bwd"),
    "A2": (case_a2, 2000, 0.4, "a + b on 2x2, no grad"),
    "B": (case_b, 50, 0.25, "MLP 2-16-16-1 tanh, batch 100, MSE, SGD step"),
    "C": (case_c, 10, 0.8, "MLP 784-256-10 relu, batch 64, CE, SGD step"),
    "D1": (case_d1, 1, 0.6, "(x*x+x).exp().sum() fwd+bwd, 1e7"),
    "D2": (case_d2, 2, 0.5, "x + x, 1e7"),
    "E": (case_e, 5, 1.1, "x.sum(), 1e7"),
    "F256": (_matmul(256), 20, 1.0, "matmul 256"),
    "F1024": (_matmul(1024), 2, 1.0, "matmul 1024"),
    "F2048": (_matmul(2048), 1, 1.0, "matmul 2048"),
    "G": (_chain(10_000), 1, 0.1, "chain of 10k y=y*1.0001+0 fwd+bwd"),
}


def time_case(name, reps):
    maker, number, target, what = CASES[name]
    libs = [("ferrograd", ferrograd)] + ([("torch", torch)] if torch else [])
    makers = [(label, lambda lib=lib: maker(lib)) for label, lib in libs]
    if name in NUMPY:
        makers.append(("numpy", NUMPY[name]))
    fns = {}
    for label, make in makers:
        try:
            fns[label] = make()
            fns[label]()  # warm-up (and a check that the case runs at all)
        except (AttributeError, TypeError, RuntimeError, NotImplementedError) as e:
            fns[label] = e
    times = {label: [] for label in fns}

    def batch(label):
        # Collect first, so that no collection of the other library's garbage lands in
        # this batch. A full collection walks every Python object (tens of ms with torch
        # loaded) and evicts the caches and TLB: the next few calls of either library run
        # up to 4x slower. Then let the previous library's worker threads stop spinning
        # (OpenMP and OpenBLAS threads busy-wait after each parallel call, taking the cores
        # the next library needs). Untimed calls (at least 3, at least 30 ms) then bring
        # the caches back, so the timed batch measures each library's steady state.
        gc.collect()
        time.sleep(0.02)
        t_end = time.perf_counter() + 0.03
        for _ in range(3):
            fns[label]()
        while time.perf_counter() < t_end:
            fns[label]()
        t0 = time.perf_counter()
        for _ in range(number):
            fns[label]()
        times[label].append((time.perf_counter() - t0) / number)

    runnable = [label for label, fn in fns.items() if not isinstance(fn, Exception)]
    for _ in range(reps):  # ferrograd and torch alternate within each repetition
        for label in runnable:
            if label != "numpy":
                batch(label)
    if "numpy" in runnable:  # the roofline on its own, after: OpenBLAS spins longest
        time.sleep(0.2)
        for _ in range(reps):
            batch("numpy")
    row = {"case": name, "what": what, "target": target}
    for label, fn in fns.items():
        if isinstance(fn, Exception):
            row[label] = None
            row[f"{label}_error"] = f"{type(fn).__name__}: {fn}"[:120]
        else:
            row[label] = statistics.median(times[label])
    if row.get("ferrograd") and row.get("torch"):
        row["ratio"] = row["ferrograd"] / row["torch"]
    if name in FLOPS:
        for label in ("ferrograd", "torch", "numpy"):
            if row.get(label):
                row[f"{label}_gflops"] = FLOPS[name] / row[label] / 1e9
        if row.get("ferrograd_gflops") and row.get("numpy_gflops"):
            row["of_openblas"] = row["ferrograd_gflops"] / row["numpy_gflops"]
    return row


# ---- memory cases, each library in its own process ---------------------------------------


def _peak_rss_mb():
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child
    # would report its (forked) parent's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(case, label):
    _import_libs((label,))
    lib = ferrograd if label == "ferrograd" else torch
    result = {}
    if case == "G1M":
        base = _peak_rss_mb()
        t0 = time.perf_counter()
        _chain(1_000_000)(lib)()
        result = {"time": time.perf_counter() - t0, "peak_mb": _peak_rss_mb() - base}
    elif case == "H":
        step = case_c(lib)
        for _ in range(200):
            step()
        result["peak_mb"] = _peak_rss_mb()
        a1 = case_a1(lib)
        for _ in range(2000):
            a1()
        gc.collect()
        before = _current_rss_mb()
        for _ in range(20_000):
            a1()
        gc.collect()
        result["growth_mb"] = _current_rss_mb() - before
    print(json.dumps(result))


def run_child(case, label):
    threads = os.environ.get("FERROGRAD_NUM_THREADS")
    extra = ["--threads", threads] if threads else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, label, *extra],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_rows(names):
    rows = []
    labels = ["ferrograd"] + (["torch"] if torch else [])
    for case in names:
        res = {label: run_child(case, label) for label in labels}
        rows.append({"case": case, **{k: v for k, v in res.items()}})
    return rows


# ---- report ------------------------------------------------------------------------------


def environment():
    info = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "ferrograd": ferrograd.__version__,
        "ferrograd_threads": ferrograd.get_num_threads(),
        "ferrograd_matmul": getattr(ferrograd._C, "MATMUL_KERNEL", "n/a"),
        "numpy": np.__version__,
    }
    if torch:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        cfg = torch.__config__.show()
        info["torch_matmul"] = next(
            (k for k in ("MKL", "OpenBLAS", "BLIS", "Accelerate") if k.lower() in cfg.lower()),
            "unknown",
        )
    return info


def numpy_note(row):
    if not row.get("numpy"):
        return ""
    note = fmt_time(row["numpy"])
    if "of_openblas" in row:
        note += (
            f"; GFLOP/s ferrograd {row['ferrograd_gflops']:.0f}, numpy (OpenBLAS) "
            f"{row['numpy_gflops']:.0f}: {100 * row['of_openblas']:.0f}%"
        )
    return note


def memory_lines(row):
    """Table rows for a memory case: each measured quantity with its ratio and target."""
    f, t = row.get("ferrograd", {}), row.get("torch", {})
    specs = {
        "G1M": [
            ("time", "s", 0.15, "1M-step chain fwd+bwd: time"),
            ("peak_mb", "MB", 0.3, "1M-step chain: peak memory"),
        ],
        "H": [
            ("peak_mb", "MB", 0.3, "peak RSS, 200 steps of C"),
            ("growth_mb", "MB", None, "RSS growth, 20k iterations of A1"),
        ],
    }[row["case"]]
    lines = []
    for key, unit, target, what in specs:
        fv, tv = f.get(key), t.get(key)
        ratio = fv / tv if fv is not None and tv else None
        if target is None:
            met = "yes" if fv is not None and fv < 1.0 else "NO"
            goal = "< 1 MB"
        else:
            met = "" if ratio is None else ("yes" if ratio <= target else "NO")
            goal = f"<= {target}"
        fmt = lambda v, unit=unit: "n/a" if v is None else f"{v:.2f} {unit}"  # noqa: E731
        rtxt = "n/a" if ratio is None or target is None else f"{ratio:.3f}"
        lines.append(
            f"| {row['case']} | {what} | {fmt(fv)} | {fmt(tv)} | {rtxt} | {goal} | {met} | |"
        )
    return lines


def fmt_time(t):
    if t is None:
        return "n/a"
    if t < 1e-3:
        return f"{t * 1e6:.2f} us"
    return f"{t * 1e3:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--threads", type=int, help="threads for both libraries (default: each one's own)"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        # Read by ferrograd when its pool starts (on the first parallel kernel).
        os.environ["FERROGRAD_NUM_THREADS"] = str(args.threads)
    if args.child:
        child(*args.child)
        return
    _import_libs()
    if args.threads and torch:
        torch.set_num_threads(args.threads)
    names = args.cases or list(CASES) + ["G1M", "H"]
    reps = 5 if args.quick else 15
    env = environment()
    print("# " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(f"| case | what | ferrograd | torch | ratio | target | met | numpy |\n|{'---|' * 8}")
    rows = []
    for name in names:
        if name not in CASES:
            continue
        row = time_case(name, reps)
        rows.append(row)
        ratio = row.get("ratio")
        met = "" if ratio is None else ("yes" if ratio <= row["target"] else "NO")
        print(
            f"| {name} | {row['what']} | {fmt_time(row.get('ferrograd'))} | "
            f"{fmt_time(row.get('torch'))} | {'n/a' if ratio is None else f'{ratio:.3f}'} | "
            f"<= {row['target']} | {met} | {numpy_note(row)} |",
            flush=True,
        )
    mem = memory_rows([n for n in names if n in ("G1M", "H")])
    for row in mem:
        for line in memory_lines(row):
            print(line)
    for row in rows + mem:
        print(json.dumps({**row, "env": env}))


if __name__ == "__main__":
    main()
