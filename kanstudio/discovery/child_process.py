"""Run a discovery in a child process, so that the caller's process stays responsive.

The symbolic engine (Operon) holds the interpreter lock for the length of a
slice of its search (a few hundred ms), and the KAN training kernels keep
both cores busy: in a thread of the app's own process the window would
stall that long.  In a child process the caller's thread only waits on a
queue.  Progress comes back as it happens and a cancel reaches the child
within one poll (the child then answers with what it has, like ``discover``).

The child is started with ``spawn`` (never ``fork``: the parent may run Qt
threads), so it imports the engine afresh, about 2 s before the search starts.
Only this program's own objects cross the pipe (the result as pickled bytes).
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
import queue as queue_mod
from typing import Callable, Optional

__all__ = ["discover_in_child", "ChildFailed"]

POLL = 0.1          # seconds between looks at the cancel flag and the child's health


class ChildFailed(RuntimeError):
    """The child process died or raised; the message is one readable line."""


NICENESS = 10       # the child yields the cores to the window whenever it needs one


def _lower_priority():
    """Background work: the window's thread must get a core the moment it has
    something to draw (on 2 cores the search's threads otherwise starve it for
    a few hundred milliseconds at a time).  Before any thread starts, so the
    engine's threads inherit it; where a platform has no nice(), nothing."""
    try:
        import os
        os.nice(NICENESS)
    except (AttributeError, OSError):      # pragma: no cover - Windows / a refusing system
        pass


def _child(out, cancel_flag, dataset, config):
    _lower_priority()
    from .pipeline import discover
    try:
        res = discover(dataset, config, progress=lambda stage, f: out.put(("progress", stage, f)),
                       cancel=cancel_flag.is_set)
        # plain pickle, by value: torch's queue reducers would share tensors
        # through file descriptors that die with this process
        out.put(("result", pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)))
    except Exception as exc:  # noqa: BLE001 - sent back as one line, shown by the caller
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def discover_in_child(dataset, config=None, progress: Optional[Callable[[str, float], None]] = None,
                      cancel=None):
    """``discover(dataset, config)`` in a child process; same result, same
    progress callback and cancel (a callable or a threading.Event, polled every
    POLL seconds)."""
    if cancel is not None and hasattr(cancel, "is_set"):
        cancel = cancel.is_set
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    flag = ctx.Event()
    proc = ctx.Process(target=_child, args=(out, flag, dataset, config), daemon=True,
                       name="kanstudio-discover")
    proc.start()
    try:
        while True:
            if cancel is not None and cancel() and not flag.is_set():
                flag.set()
            try:
                msg = out.get(timeout=POLL)
            except queue_mod.Empty:
                if not proc.is_alive():
                    raise ChildFailed(f"the discovery process stopped without an answer "
                                      f"(exit code {proc.exitcode})") from None
                continue
            if msg[0] == "progress":
                if progress is not None:
                    progress(msg[1], msg[2])
            elif msg[0] == "result":
                return pickle.loads(msg[1])     # our own child's answer, never a file
            else:
                raise ChildFailed(msg[1])
    finally:
        proc.join(timeout=2.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
        out.close()
