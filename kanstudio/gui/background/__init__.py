"""What runs off the UI thread: the worker thread and its runner (``worker``), the
jobs it runs, each a function of copies of the UI's state (``worker_jobs``), and
the window's side that starts them and applies their results (``jobs``)."""
from .jobs import Jobs
from .worker import JobContext, JobRunner
from .worker_jobs import (finish_preload, hold_collections, late_warm_up_job, predictions_job, preload_torch,
                          release_collections, warm_up_job)

__all__ = ["Jobs", "JobContext", "JobRunner", "finish_preload", "hold_collections", "late_warm_up_job",
           "predictions_job", "preload_torch", "release_collections", "warm_up_job"]
