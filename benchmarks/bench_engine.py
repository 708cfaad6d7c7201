"""Engine speed against pykan 0.2.8, measured in one run on the same data.

    python benchmarks/bench_engine.py [--threads 2] [--skip-pykan] [--device cuda --rows 1000000]

(a) [2,5,1], grid 5, 1000 rows, 50 LBFGS steps, lamb = 0
(b) the same with lamb = 0.002
(c) [10,20,20,1], grid 10, 10,000 rows: seconds per Adam step, forward-only time
pykan is optional (pip install pykan==0.2.8 in the benchmark's environment);
it runs from a temporary directory because it writes ./model/.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from kanstudio.engine.network import KAN  # noqa: E402
from kanstudio.engine.train import fit  # noqa: E402


def hello_data(n=1000, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    f = lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    xtr = (torch.rand(n, 2, generator=g) * 2 - 1).to(dtype)
    xte = (torch.rand(n, 2, generator=g) * 2 - 1).to(dtype)
    return xtr, f(xtr), xte, f(xte)


def wide_data(n, seed=0, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 10, generator=g) * 2 - 1).to(dtype)
    y = torch.sin(x[:, :5].sum(1, keepdim=True)) + (x[:, 5:] ** 2).sum(1, keepdim=True)
    return x.to(device), y.to(device)


def ours_lbfgs(lamb, dtype):
    xtr, ytr, xte, yte = hello_data(dtype=torch.float64 if dtype == "float64" else torch.float32)
    m = KAN([2, 5, 1], grid=5, seed=0, dtype=dtype)
    t = time.perf_counter()
    r = fit(m, xtr, ytr, xte, yte, steps=50, lamb=lamb)
    return time.perf_counter() - t, r.final.test_rmse


def pykan_lbfgs(lamb):
    from kan import KAN as PyKAN
    xtr, ytr, xte, yte = hello_data()
    ds = {"train_input": xtr, "train_label": ytr, "test_input": xte, "test_label": yte}
    torch.manual_seed(0)  # pykan reseeds globally anyway
    m = PyKAN(width=[2, 5, 1], grid=5, k=3, seed=0, auto_save=False)
    t = time.perf_counter()
    res = m.fit(ds, opt="LBFGS", steps=50, lamb=lamb, log=10 ** 9)
    return time.perf_counter() - t, float(res["test_loss"][-1])


def ours_adam(rows, device, dtype, steps=5):
    x, y = wide_data(rows, dtype=torch.float32 if dtype == "float32" else torch.float64, device=device)
    m = KAN([10, 20, 20, 1], grid=10, seed=0, dtype=dtype, device=device)
    fit(m, x, y, steps=1, optimizer="adam", update_grid=False)  # warm-up
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    fit(m, x, y, steps=steps, optimizer="adam", update_grid=False)
    sync()
    per_step = (time.perf_counter() - t) / steps
    with torch.no_grad():
        m(x)
        sync()
        t = time.perf_counter()
        for _ in range(3):
            m(x)
        sync()
        fwd = (time.perf_counter() - t) / 3
    return per_step, fwd


def pykan_adam(rows, steps=2):
    from kan import KAN as PyKAN
    x, y = wide_data(rows)
    ds = {"train_input": x, "train_label": y, "test_input": x[:100], "test_label": y[:100]}
    m = PyKAN(width=[10, 20, 20, 1], grid=10, k=3, seed=0, auto_save=False)
    m.fit(ds, opt="Adam", steps=1, update_grid=False, log=10 ** 9)
    t = time.perf_counter()
    m.fit(ds, opt="Adam", steps=steps, update_grid=False, log=10 ** 9)
    per_step = (time.perf_counter() - t) / steps
    with torch.no_grad():
        t = time.perf_counter()
        m(x)
        fwd = time.perf_counter() - t
    return per_step, fwd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-pykan", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--dtype", default="float64", help="our dtype for (a)/(b); (c) uses float32 like pykan")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    have_pykan = False
    if not args.skip_pykan:
        try:
            import kan  # noqa: F401
            have_pykan = True
        except ImportError:
            print("pykan not importable: pip install pykan==0.2.8 (benchmark environment only); skipping it")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # pykan writes ./model/ even with auto_save=False
        try:
            print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
            for label, lamb in (("(a) [2,5,1] LBFGS x50, lamb=0", 0.0), ("(b) [2,5,1] LBFGS x50, lamb=0.002", 0.002)):
                t_ours, e_ours = ours_lbfgs(lamb, args.dtype)
                line = f"{label}: ours {t_ours:.2f} s (test RMSE {e_ours:.2e})"
                if have_pykan:
                    t_py, e_py = pykan_lbfgs(lamb)
                    line += f" | pykan {t_py:.2f} s (test RMSE {e_py:.2e}) | speed-up {t_py / t_ours:.1f}x (target 20x)"
                print(line, flush=True)
            step, fwd = ours_adam(args.rows, args.device, "float32")
            line = (f"(c) [10,20,20,1] grid 10, {args.rows} rows, Adam: ours {step * 1e3:.1f} ms/step, "
                    f"forward {fwd * 1e3:.1f} ms, {args.rows / step:,.0f} rows/s")
            if have_pykan and args.device == "cpu":
                p_step, p_fwd = pykan_adam(args.rows)
                line += (f" | pykan {p_step * 1e3:.0f} ms/step, forward {p_fwd * 1e3:.0f} ms | speed-up "
                         f"{p_step / step:.1f}x per step (target 50x), {p_fwd / fwd:.1f}x forward")
            print(line, flush=True)
        finally:
            os.chdir(cwd)


if __name__ == "__main__":
    main()
