"""kanstudio as a library: ``discover`` (a formula for a table), ``KANRegressor``
(a scikit-learn estimator with the KAN loop as methods), ``open_project`` /
``save_project`` (the app's .kanproj files), the formula exports and batches
of discoveries on Ray (``run_batch``).

``import kanstudio`` stays light: these are imported on first use
(``kanstudio.discover``, ``kanstudio.KANRegressor``, ...).
"""
from .batch import BatchJob, jobs_from_spec, run_batch
from .discovery import Discovery, discover
from .exports import FORMATS, export_text, to_latex, to_numpy, to_python, to_torch
from .projects import Project, open_project, save_project
from .regressor import KANRegressor

__all__ = ["BatchJob", "export_text", "jobs_from_spec", "run_batch", "Discovery", "FORMATS", "KANRegressor", "Project", "discover", "open_project", "save_project",
           "to_latex", "to_numpy", "to_python", "to_torch"]
