"""Threads for the fused objective's chunks (fused/__init__.py).

A batch's chunks are independent until their gradient sums are added, and
everything a chunk runs (the numba kernels, torch's products and sigmoid)
releases the GIL, so the chunks of one evaluation run on as many threads as
torch is allowed (torch.set_num_threads): pykan's big tensor operations use
every core, and so must we.  While they run, BLAS is held to one thread per
call (the chunks' products are small; nested BLAS threads would oversubscribe
the cores).
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import torch

__all__ = ["thread_count", "run_parts"]

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_LOCK = threading.Lock()
_BLAS_LOCK = threading.Lock()      # one parallel phase at a time changes torch's thread count
_WORKER = threading.local()        # .blas_one: this pool thread's BLAS is held to one thread


def thread_count() -> int:
    """How many threads an evaluation may use: torch's intra-op setting."""
    return max(1, torch.get_num_threads())


def _pool(n: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or _POOL_SIZE < n:
            old = _POOL
            _POOL, _POOL_SIZE = ThreadPoolExecutor(max_workers=n, thread_name_prefix="kanstudio-chunks"), n
            if old is not None:
                old.shutdown(wait=False)
        return _POOL


@contextlib.contextmanager
def _single_threaded_blas():
    with _BLAS_LOCK:
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(n)


def _one_blas_thread(work: Callable[[int, Sequence], object], k: int, part: Sequence):
    """work(k, part) on a pool thread whose BLAS uses one thread.  OpenMP's
    thread count (which MKL follows) is per calling thread, and a new thread
    starts from the process default: the set_num_threads(1) of the thread
    that started the phase does not reach it, and torch only copies its own
    count into a thread at that thread's first parallel elementwise operation.
    A chunk pass starts with a product, which would start a team of threads
    on cores that are busy with the other chunks."""
    if not getattr(_WORKER, "blas_one", False):
        torch.set_num_threads(1)       # (torch's shared count is 1 already, under _BLAS_LOCK)
        _WORKER.blas_one = True
    return work(k, part)


def run_parts(work: Callable[[int, Sequence], object], parts: Sequence[Sequence]) -> list:
    """[work(k, parts[k]) for k]: part 0 on this thread, the others on the
    pool, all at once.  The first exception raised is re-raised here, after
    every part has ended (none is left running on shared scratch space)."""
    if len(parts) == 1:
        return [work(0, parts[0])]
    pool = _pool(len(parts) - 1)
    with _single_threaded_blas():
        futures = [pool.submit(_one_blas_thread, work, k, part) for k, part in enumerate(parts) if k > 0]
        first_error = None
        try:
            results = [work(0, parts[0])]
        except BaseException as exc:      # (wait for the others before leaving)
            first_error, results = exc, [None]
        for f in futures:
            try:
                results.append(f.result())
            except BaseException as exc:
                first_error = first_error or exc
                results.append(None)
    if first_error is not None:
        raise first_error
    return results
