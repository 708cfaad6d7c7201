"""The worker thread: every engine call that can take more than ~20 ms runs here.

``JobRunner`` (lives in the UI thread) owns a ``Worker`` QObject moved to a
QThread.  ``runner.submit(label, fn, on_done=..., ...)`` queues ``fn(ctx)`` to
the worker; its return value comes back to ``on_done`` in the UI thread
through a queued signal, an exception to ``on_error(message, details)``.

Main jobs run one at a time (FIFO); ``runner.busy`` / ``busyChanged`` say
whether one is running or pending (the Stop action follows it).  ``cancel()``
sets the running job's ``threading.Event`` (``ctx.cancel``, handed to the
engine's generators) and drops pending ones; a job that finishes after being
cancelled has its result discarded unless it was submitted with
``keep_on_cancel=True`` (training: the model up to the last good step is
still wanted).

Side jobs (``side=True``: quick reads such as an edge's detail) do not make the
runner busy.  While a main job that calls ``ctx.service()`` is running (the
training loop does, between steps, when the model is consistent), side jobs
run at that point and can read ``ctx.live`` (e.g. the live training model);
otherwise they run as soon as the worker is free.

Jobs receive copies of whatever the UI owns (models are copied before
submission), so nothing is shared across threads while it can change.
The job functions the main window submits are in ``worker_jobs``.
"""
from __future__ import annotations

import itertools
import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

__all__ = ["Job", "JobContext", "Worker", "JobRunner", "Throttle"]

_ids = itertools.count(1)
SWITCH_INTERVAL = 0.0005   # seconds (see JobRunner.__init__)


@dataclass(eq=False)
class Job:
    label: str
    fn: Callable[["JobContext"], Any]
    on_done: Optional[Callable[[Any], None]] = None
    on_partial: Optional[Callable[[Any], None]] = None
    on_progress: Optional[Callable[[float, str], None]] = None
    on_error: Optional[Callable[[str, str], None]] = None
    on_cancelled: Optional[Callable[[], None]] = None
    keep_on_cancel: bool = False
    side: bool = False
    kind: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event)


class JobContext:
    """What a job function sees: cancel flag, progress/partial reporting, side jobs."""

    def __init__(self, worker: "Worker", job: Job, live: Optional[dict] = None):
        self._worker, self.job = worker, job
        self.cancel = job.cancel
        self.live: dict = live if live is not None else {}

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def progress(self, fraction: float = -1.0, text: str = ""):
        """fraction in [0, 1], or < 0 for 'busy, no fraction known'."""
        self._worker.progressed.emit(self.job, float(fraction), str(text))

    def emit(self, payload: Any):
        """A partial result (e.g. training snapshots) for ``on_partial``."""
        self._worker.partial.emit(self.job, payload)

    def service(self):
        """Run queued side jobs now (call where the main job's state is consistent)."""
        self._worker.run_side_jobs(self.live)


class Throttle:
    """True at most once per ``interval`` seconds (always True the first time)."""

    def __init__(self, interval: float):
        self.interval, self._last = interval, -1e18

    def ready(self, force: bool = False) -> bool:
        now = time.perf_counter()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False


class Worker(QObject):
    started = Signal(object)                 # Job
    finished = Signal(object, object)        # Job, result
    failed = Signal(object, str, str)        # Job, message, details
    partial = Signal(object, object)         # Job, payload
    progressed = Signal(object, float, str)  # Job, fraction, text

    def __init__(self):
        super().__init__()
        self.side_queue: "queue.SimpleQueue[Job]" = queue.SimpleQueue()
        self._ready = False

    def _ensure_ready(self):
        """Once, in the worker thread, before its first job: leave one core to the
        UI thread.  Lazy, so that torch is not imported while the window is built."""
        if self._ready:
            return
        self._ready = True
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))

    @Slot()
    def drain(self):
        self._ensure_ready()
        self.run_side_jobs({})

    @Slot(object)
    def execute(self, job: Job):
        self._ensure_ready()
        if job.cancel.is_set() and not job.keep_on_cancel:
            self.finished.emit(job, None)
            return
        try:
            self._run(job, {})
        finally:
            self.run_side_jobs({})

    def _run(self, job: Job, live: dict):
        self.started.emit(job)
        try:
            result = job.fn(JobContext(self, job, live))
        except Exception as exc:  # noqa: BLE001 - reported to the UI, never lost
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if isinstance(exc, ValueError) and str(exc):
                message = str(exc)   # the engine's ValueErrors are written for people
            self.failed.emit(job, message, traceback.format_exc())
            return
        self.finished.emit(job, result)

    def run_side_jobs(self, live: dict):
        while True:
            try:
                job = self.side_queue.get_nowait()
            except queue.Empty:
                return
            self._run(job, live)


class JobRunner(QObject):
    """UI-side façade over the worker thread."""
    busyChanged = Signal(bool)
    jobStarted = Signal(str)                 # label
    jobFinished = Signal(str)                # label
    progress = Signal(float, str)            # fraction (< 0: unknown), text
    _dispatch = Signal(object)
    _drain = Signal()

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        # PySide releases the GIL around most Qt calls, and a CPU-bound worker
        # then keeps it for a whole switch interval (5 ms by default) each time:
        # a paint event making a hundred Qt calls would wait ~0.5 s.  A short
        # interval keeps the UI thread responsive at a negligible cost.
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread = QThread()
        self._thread.setObjectName("kanstudio-worker")
        self._worker = Worker()
        self._worker.moveToThread(self._thread)
        self._dispatch.connect(self._worker.execute)
        self._drain.connect(self._worker.drain)
        # bound methods of this UI-thread object: queued into the UI thread
        self._worker.finished.connect(self._finished_answer)
        self._worker.failed.connect(self._failed_answer)
        self._worker.partial.connect(self._on_partial)
        self._worker.progressed.connect(self._on_progress)
        self._current: Optional[Job] = None
        self._pending: list[Job] = []
        self._side_in_flight = 0
        self._answers: list = []          # finished jobs' answers not yet handed to their callbacks
        self._answering = False
        self._handovers: list = []         # jobs for the worker, sent in the next turn (_hand_over)
        self._busy = False
        self._shut = False
        self._thread.start()

    # ------------------------------------------------------------- API
    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def current(self) -> Optional[Job]:
        return self._current

    @property
    def is_shut(self) -> bool:
        return self._shut

    def current_label(self) -> str:
        return self._current.label if self._current else ""

    def idle(self) -> bool:
        """No main job and no side job in flight (tests wait on this)."""
        return not self._busy and self._side_in_flight == 0

    def submit(self, label: str, fn: Callable[[JobContext], Any], *, on_done=None, on_partial=None,
               on_progress=None, on_error=None, on_cancelled=None, keep_on_cancel: bool = False,
               side: bool = False) -> Job:
        if self._shut:
            raise RuntimeError("the worker has been shut down")
        job = Job(label, fn, on_done, on_partial, on_progress, on_error, on_cancelled,
                  keep_on_cancel, side)
        if side:
            # Queued, then a drain request: a serviced main job runs it between
            # steps, otherwise the worker runs it as soon as it is free.
            self._side_in_flight += 1
            self._hand_over(lambda: (self._worker.side_queue.put(job), self._drain.emit()))
            return job
        if self._current is None:
            self._start(job)
        else:
            self._pending.append(job)
        return job

    def cancel(self):
        """Stop the running job (cooperatively) and drop pending ones."""
        dropped, self._pending = self._pending, []
        for job in dropped:
            job.cancel.set()
            if job.on_cancelled:
                job.on_cancelled()
        if self._current is not None:
            self._current.cancel.set()
            self.progress.emit(-1.0, f"Stopping {self._current.label.lower()}\u2026")
        self._update_busy()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and stop the thread; True when it stopped in time."""
        if self._shut:
            return True
        self._shut = True
        self.cancel()
        self._thread.quit()
        ok = self._thread.wait(timeout_ms)
        return bool(ok)

    # ------------------------------------------------------------ internals
    def _start(self, job: Job):
        self._current = job
        self._update_busy()
        self.jobStarted.emit(job.label)
        self.progress.emit(-1.0, f"{job.label}\u2026")
        self._hand_over(lambda: self._dispatch.emit(job))

    def _update_busy(self):
        busy = self._current is not None or bool(self._pending)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _next(self):
        self._current = None
        if self._pending and not self._shut:
            self._start(self._pending.pop(0))
        else:
            self._update_busy()

    def _hand_over(self, send: Callable[[], Any]):
        """Give the worker its new jobs in the next turn of the event loop, after
        the paint this turn's changes asked for: started at once, the worker's
        Python would share the interpreter lock with that paint and double its
        time (a Discover result's formula rendered while its Pareto plot is drawn)."""
        self._handovers.append(send)
        if len(self._handovers) == 1:
            QTimer.singleShot(0, self, self._send_handovers)

    def _send_handovers(self):
        sends, self._handovers = self._handovers, []
        if not self._shut:
            for send in sends:
                send()

    def _finished_answer(self, job: Job, result):
        self._answer(self._on_finished, job, result)

    def _failed_answer(self, job: Job, message: str, details: str):
        self._answer(self._on_failed, job, message, details)

    def _answer(self, handler, *args):
        """Hand the jobs' answers to their callbacks one per turn of the event
        loop: several finishing together (a formula, its network's picture,
        its attribution) would otherwise run back to back, their costs adding
        up to one long stall with no paint or timer between them."""
        self._answers.append((handler, args))
        if not self._answering:
            self._answering = True
            QTimer.singleShot(0, self, self._next_answer)

    def _next_answer(self):
        self._answering = False
        if not self._answers:
            return
        handler, args = self._answers.pop(0)
        if self._answers:
            self._answering = True
            QTimer.singleShot(0, self, self._next_answer)
        handler(*args)

    def _on_finished(self, job: Job, result):
        if job.side:
            self._side_in_flight -= 1
            if job.on_done and not job.cancel.is_set():
                job.on_done(result)
            return
        try:
            if job.cancel.is_set() and not job.keep_on_cancel:
                if job.on_cancelled:
                    job.on_cancelled()
            elif job.on_done:
                job.on_done(result)
        finally:
            if job is self._current:
                self.jobFinished.emit(job.label)
                self._next()

    def _on_failed(self, job: Job, message: str, details: str):
        if job.side:
            self._side_in_flight -= 1
        try:
            if job.on_error:
                job.on_error(message, details)
        finally:
            if not job.side and job is self._current:
                self.jobFinished.emit(job.label)
                self._next()

    def _on_partial(self, job: Job, payload):
        if job.on_partial and (job.keep_on_cancel or not job.cancel.is_set()):
            job.on_partial(payload)

    def _on_progress(self, job: Job, fraction: float, text: str):
        if job.on_progress:
            job.on_progress(fraction, text)
        if not job.side and not job.cancel.is_set():
            self.progress.emit(fraction, text)
