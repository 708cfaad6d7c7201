"""The budget of a discovery: deadline, user cancellation, progress and per-stage timing."""
from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Clock", "Cancelled", "StageTime"]


@dataclass
class StageTime:
    name: str
    seconds: float

    def as_dict(self) -> dict:
        return {"name": self.name, "seconds": round(float(self.seconds), 4)}


class Cancelled(Exception):
    pass


class Clock:
    """Budget, cancellation, progress and per-stage timing in one place."""

    def __init__(self, budget, progress, cancel):
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + float(budget)
        self.budget = float(budget)
        self.progress, self.user_cancel = progress, cancel
        self.stages: list[StageTime] = []
        self.cancelled = False

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def user_cancelled(self) -> bool:
        if self.user_cancel is None:
            return False
        c = self.user_cancel
        flag = c.is_set() if hasattr(c, "is_set") else bool(c())
        self.cancelled = self.cancelled or flag
        return flag

    def stop_training(self) -> bool:
        """Cancel flag for training loops: user cancel or budget spent."""
        return self.user_cancelled() or self.left() <= 0

    def check(self):
        if self.user_cancelled():
            raise Cancelled

    def stage(self, name: str):
        clock = self

        class _S:
            def __enter__(self):
                clock.check()
                if clock.progress is not None:
                    clock.progress(name, min(1.0, (time.perf_counter() - clock.t0) / max(clock.budget, 1e-9)))
                self.t = time.perf_counter()
                return self

            def __exit__(self, *exc):
                clock.stages.append(StageTime(name, time.perf_counter() - self.t))
                return False
        return _S()


