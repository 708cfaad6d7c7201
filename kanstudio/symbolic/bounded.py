"""Running a sympy computation with a deadline.

sympy's rewrites (cancel, together, simplify) are exact: on a formula with a
dozen floating-point constants a polynomial gcd can run for minutes and take
gigabytes.  No size rule foresees every such case, so these calls run under a
deadline instead: a trace function checks the clock on every Python call and
stops the computation by raising ``Overtime`` (a BaseException, so that
sympy's own ``except Exception`` blocks cannot swallow it).  Tracing slows the
traced code down somewhat; it is only on while the bounded call runs, in its
own thread, and works in any thread (a signal-based alarm works in the main
thread only).
"""
from __future__ import annotations

import inspect
import sys
import time
from typing import Callable, TypeVar

__all__ = ["Overtime", "run_bounded"]

T = TypeVar("T")


class Overtime(BaseException):
    """A bounded computation ran past its deadline."""


_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _in_generator(frame) -> bool:
    """A generator's frame, or a call made from one.  Overtime is not raised
    there: a generator dropped past the deadline is closed by the garbage
    collector, whose finalizer prints and swallows the exception, and Python
    then turns the tracing off, so the computation would run on unbounded.
    The next ordinary call raises it instead."""
    back = frame.f_back
    return bool(frame.f_code.co_flags & _GENERATOR_FLAGS) or (
        back is not None and bool(back.f_code.co_flags & _GENERATOR_FLAGS))


def run_bounded(fn: Callable[..., T], *args, seconds: float) -> T:
    """fn(*args), or Overtime once ``seconds`` have passed."""
    deadline = time.perf_counter() + max(0.0, seconds)
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if time.perf_counter() > deadline and not _in_generator(frame):
            raise Overtime
        return None              # calls only: no per-line tracing

    sys.settrace(tracer)
    try:
        return fn(*args)
    finally:
        sys.settrace(previous)
