"""Timing helper shared by the GUI benchmarks (no Qt, no torch)."""
from __future__ import annotations

import statistics
import time


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall and thread-CPU milliseconds of single calls, after one
    warm-up call (fonts, glyph rasteriser).  The CPU time is what the calling
    (UI) thread itself spent: it does not grow when other processes share the
    machine, the wall time does."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3
