"""Whether this machine's cores share their vector units (hyperthreads, or a
busy host under virtual cores): the same arithmetic-bound loop timed on one
thread alone and on two threads at once.

    python benchmarks/core_sharing.py [--rounds 5]

On two real cores each thread of the pair runs as fast as the one alone
(slowdown ~1.0x); on two hyperthreads of one core ~2x; under virtual cores
it can change from minute to minute with the host's other load.  The engine's chunk
threads are arithmetic-bound (cache-resident kernels and products), so this
bounds what ``bench_engine.py --threads 2`` can gain over ``--threads 1``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from kanstudio.kernels import numba_config  # noqa: E402

numba_config.configure()           # (the engine's vector width)
from numba import njit  # noqa: E402


@njit(nogil=True, fastmath=True)
def _fma_loop(n, a):
    """8 x 16 independent multiply-add chains, all in registers: bound by
    the core's vector units, not by memory."""
    acc = np.zeros((8, 16), np.float32)
    for _ in range(n):
        for r in range(8):
            for lane in range(16):
                acc[r, lane] = acc[r, lane] * a[lane] + a[16 + lane]
    return acc.sum()


def _seconds(n, a) -> float:
    t = time.perf_counter()
    _fma_loop(n, a)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=3_000_000)
    args = ap.parse_args()
    a = np.full(32, 0.999, np.float32)
    _fma_loop(10, a)                     # compile
    slowdowns = []
    for r in range(args.rounds):
        alone = _seconds(args.iterations, a)
        pair = [0.0, 0.0]

        def work(k):
            pair[k] = _seconds(args.iterations, a)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        slowdowns.append(max(pair) / alone)
        print(f"round {r}: alone {alone * 1e3:.0f} ms; two at once {pair[0] * 1e3:.0f} / {pair[1] * 1e3:.0f} ms "
              f"-> each {slowdowns[-1]:.2f}x slower", flush=True)
    print(f"median slowdown of a thread when two run: {statistics.median(slowdowns):.2f}x "
          f"(1.0x: separate cores; 2x: one core's vector units shared)")


if __name__ == "__main__":
    main()
