"""``.kanproj`` files: a zip holding

* ``project.json``  versioned description: data (column roles, split indices,
  normalisation, where the CSV came from), edit history, fit and UI settings;
* ``model.safetensors``  the model (engine.io bytes), when there is one;
* ``data.csv``  the data itself (embedded by default, so a project travels).

Saving is atomic (a temporary file in the same folder, then a rename).
Loading trusts nothing: zip structure, member names and sizes (no zip
bombs), schema version, JSON types, tensor shapes (engine.io) and the match
between the data's columns and the model are all checked; any problem is one
``ProjectError`` sentence naming the file and what is wrong.  No pickle, no
eval: JSON, CSV and safetensors only.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import KanstudioError
from .document import DEFAULT_SETTINGS, DEFAULT_UI, Project
from .settings_check import check_settings, check_ui

__all__ = ["ProjectError", "save_project", "load_project", "write_project_file", "read_project_json",
           "project_to_json", "FORMAT", "SCHEMA_VERSION", "PROJECT_SUFFIX"]

FORMAT = "kanstudio-project"
SCHEMA_VERSION = 1
PROJECT_SUFFIX = ".kanproj"
JSON_NAME, MODEL_NAME, DATA_NAME = "project.json", "model.safetensors", "data.csv"
ALLOWED_MEMBERS = (JSON_NAME, MODEL_NAME, DATA_NAME)
MAX_TOTAL_BYTES = 2 * 1024 ** 3            # refuse archives that unpack to more (zip bombs)
MAX_JSON_BYTES = 512 * 1024 ** 2
# what kanstudio writes packs CSV text about 2-3:1, JSON up to ~20:1 and model
# tensors hardly at all; a member packed much tighter than this is a zip bomb
MAX_RATIO = 200
RATIO_FROM_BYTES = 1024 ** 2               # (tiny members can pack tightly: not worth a look)


class ProjectError(KanstudioError, ValueError):
    """A project file that cannot be opened; the message is one sentence."""


# ------------------------------------------------------------------ saving
def _app_version() -> str:
    from ..version import __version__
    return __version__


def _data_csv(project: Project) -> bytes:
    """The dataset as CSV (exact float64 round trip), cached per Dataset object
    so frequent recovery writes do not re-serialise unchanged data."""
    ds = project.dataset
    cache = getattr(project, "_csv_cache", None)
    if cache is not None and cache[0] is ds:
        return cache[1]
    blob = ds.to_frame().to_csv(index=False, lineterminator="\n").encode("utf-8")
    project._csv_cache = (ds, blob)
    return blob


def project_to_json(project: Project, embedded: bool) -> dict:
    ds = project.dataset
    data = None
    if ds is not None:
        data = {"source_path": project.source_path or ds.source_path, "embedded": bool(embedded),
                "file": DATA_NAME if embedded else None, "dataset": ds.to_dict(),
                "train_idx": np.asarray(ds.train_idx).tolist(), "test_idx": np.asarray(ds.test_idx).tolist()}
    return {
        "format": FORMAT, "schema": SCHEMA_VERSION, "app_version": _app_version(),
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": data,
        "model": {"file": MODEL_NAME} if project.model is not None else None,
        "history": project.history.to_json(),
        "settings": dict(project.settings), "ui": dict(project.ui),
        "results": {"pareto": project.pareto},
    }


def write_project_file(project: Project, path, *, embed_data: Optional[bool] = None,
                       extra: Optional[dict] = None) -> Path:
    """Write ``project`` to ``path`` atomically; the project itself is not
    marked saved (recovery files use this too)."""
    from ..model import to_bytes
    path = Path(path)
    embedded = project.embed_data if embed_data is None else bool(embed_data)
    if project.dataset is not None and not embedded and not (project.source_path or project.dataset.source_path):
        embedded = True        # nothing to refer to: the data must travel inside
    doc = project_to_json(project, embedded)
    doc.update(extra or {})
    try:
        text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"cannot save {path.name}: the project holds a value JSON cannot store ({exc})") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                zf.writestr(JSON_NAME, text.encode("utf-8"))
                if project.model is not None:
                    zf.writestr(MODEL_NAME, to_bytes(project.model))
                if project.dataset is not None and embedded:
                    zf.writestr(DATA_NAME, _data_csv(project))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)   # atomic: a crash never leaves half a project behind
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def save_project(project: Project, path=None, *, embed_data: Optional[bool] = None) -> Path:
    """Save to ``path`` (default: ``project.path``) and mark the project saved."""
    path = Path(path) if path is not None else project.path
    if path is None:
        raise ProjectError("the project has no file name yet: choose where to save it")
    if embed_data is not None:
        project.embed_data = bool(embed_data)
    try:
        write_project_file(project, path)
    except OSError as exc:
        raise ProjectError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    project.mark_saved(path)
    return path


# ----------------------------------------------------------------- loading
def _open_zip(path: Path) -> zipfile.ZipFile:
    name = path.name
    if not path.exists():
        raise ProjectError(f"{name} does not exist")
    if not path.is_file():
        raise ProjectError(f"{name} is not a file")
    if path.stat().st_size > MAX_TOTAL_BYTES:
        raise ProjectError(f"{name} is too large to be a kanstudio project")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise ProjectError(f"{name} is not a kanstudio project (not a zip file, or a truncated one)") from None
    except OSError as exc:
        raise ProjectError(f"{name} cannot be read: {exc.strerror or exc}") from None
    try:
        _check_members(zf, name)
    except BaseException:
        zf.close()
        raise
    return zf


def _check_members(zf: zipfile.ZipFile, name: str):
    seen, total = set(), 0
    for info in zf.infolist():
        member = info.filename
        if member not in ALLOWED_MEMBERS:
            raise ProjectError(f"{name} is not a kanstudio project (it contains an unexpected file '{member[:80]}')")
        if member in seen:
            raise ProjectError(f"{name} is damaged ('{member}' appears twice)")
        if info.flag_bits & 0x1:
            raise ProjectError(f"{name} is encrypted, kanstudio projects never are")
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise ProjectError(f"{name} is not a kanstudio project ('{member}' would unpack to "
                               f"{info.file_size // max(1, info.compress_size)} times its packed size)")
        seen.add(member)
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise ProjectError(f"{name} would unpack to more than {_size(MAX_TOTAL_BYTES)}, "
                           "which no kanstudio project does")
    if JSON_NAME not in seen:
        raise ProjectError(f"{name} is not a kanstudio project (there is no {JSON_NAME} inside)")


def _size(n: int) -> str:
    return f"{n / 1024 ** 3:g} GB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.3g} MB"


def _read_member(zf: zipfile.ZipFile, member: str, limit: int, name: str) -> bytes:
    """Read at most ``limit`` bytes (the sizes in the zip headers can lie)."""
    limit = min(limit, zf.getinfo(member).file_size)      # checked against the totals already
    try:
        with zf.open(member) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ProjectError(f"{name} is damaged: {member} cannot be read ({exc})") from None
    if len(data) > limit:
        raise ProjectError(f"{name} is damaged: {member} unpacks to more than its declared size")
    return data


def _fail(name: str, what: str):
    raise ProjectError(f"{name}: {what}")


def _validate_header(doc, name: str) -> dict:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProjectError(f"{name} is not a kanstudio project ({JSON_NAME} does not say format '{FORMAT}')")
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        _fail(name, f"{JSON_NAME} has no valid schema version ({schema!r})")
    if schema > SCHEMA_VERSION:
        raise ProjectError(f"{name} was written by a newer kanstudio (schema {schema}, "
                           f"this version reads up to {SCHEMA_VERSION}); please update kanstudio")
    for key, types, label in (("settings", dict, "an object"), ("ui", dict, "an object"),
                              ("history", list, "a list"), ("data", (dict, type(None)), "an object or null"),
                              ("model", (dict, type(None)), "an object or null"),
                              ("results", (dict, type(None)), "an object or null")):
        if key in doc and not isinstance(doc[key], types):
            _fail(name, f"'{key}' in {JSON_NAME} must be {label}")
    for n, rec in enumerate(doc.get("history", [])):
        if not isinstance(rec, dict) or not isinstance(rec.get("type"), str) \
                or not isinstance(rec.get("label", ""), str):
            _fail(name, f"history entry {n + 1} in {JSON_NAME} is not a valid edit record")
    pareto = (doc.get("results") or {}).get("pareto")
    if pareto is not None and not (isinstance(pareto, list) and all(isinstance(c, dict) for c in pareto)):
        _fail(name, f"the formula candidates in {JSON_NAME} are not a list of objects")
    return doc


def _parse_json(raw: bytes, name: str) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ProjectError(f"{name} is damaged: {JSON_NAME} is not valid JSON") from None
    return _validate_header(doc, name)


def read_project_json(path) -> dict:
    """The validated project.json of a project file (for quick previews)."""
    path = Path(path)
    with _open_zip(path) as zf:
        return _parse_json(_read_member(zf, JSON_NAME, MAX_JSON_BYTES, path.name), path.name)


def _load_model(zf, doc: dict, name: str):
    from ..model import from_bytes
    spec = doc.get("model")
    if spec is None:
        return None
    if spec.get("file") != MODEL_NAME:
        _fail(name, f"the model entry must name '{MODEL_NAME}', not {spec.get('file')!r}")
    if MODEL_NAME not in zf.namelist():
        _fail(name, f"{MODEL_NAME} is missing from the archive")
    raw = _read_member(zf, MODEL_NAME, MAX_TOTAL_BYTES, name)
    try:
        return from_bytes(raw, source=f"{name} ({MODEL_NAME})")
    except ValueError as exc:
        raise ProjectError(str(exc)) from None


def _read_embedded(zf, name: str, columns: list[str]) -> np.ndarray:
    import pandas as pd
    if DATA_NAME not in zf.namelist():
        _fail(name, f"the project says its data is embedded but {DATA_NAME} is missing")
    raw = _read_member(zf, DATA_NAME, MAX_TOTAL_BYTES, name)
    kw = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=np.float64, **kw)
    except (ValueError, TypeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{name}: the embedded {DATA_NAME} cannot be read ({str(exc).splitlines()[0]})") from None
    if [str(c) for c in frame.columns] != columns:
        _fail(name, f"the embedded {DATA_NAME} has columns {list(frame.columns)[:6]}, expected {columns[:6]}")
    return frame.to_numpy(dtype=np.float64)


def _read_external(path: Path, name: str, d: dict, columns: list[str]) -> np.ndarray:
    from ..data import DataError, build_dataset, read_table
    if not path.is_file():
        _fail(name, f"its data file {path} was not found (re-open the CSV, or save projects with embedded data)")
    try:
        raw = read_table(path)
        ds = build_dataset(raw, d["input_names"], d["target_names"], normalization="none")
    except (DataError, OSError) as exc:
        raise ProjectError(f"{name}: its data file {path.name} cannot be used ({exc})") from None
    return np.column_stack([ds.X, ds.Y])


def _index_array(values, n: int, what: str, name: str) -> np.ndarray:
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        _fail(name, f"the {what} rows in {JSON_NAME} must be a list of row numbers")
    arr = np.asarray(values, dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        _fail(name, f"the {what} rows in {JSON_NAME} refer to rows the data does not have")
    return arr


def _load_dataset(zf, doc: dict, name: str, data_path=None):
    from ..data import Dataset, DataError
    spec = doc.get("data")
    if spec is None:
        return None, None
    d = spec.get("dataset")
    if not isinstance(d, dict) or not all(isinstance(d.get(k), list) and d.get(k) and
                                          all(isinstance(c, str) for c in d[k])
                                          for k in ("input_names", "target_names")):
        _fail(name, f"the data description in {JSON_NAME} has no valid input and target column names")
    columns = list(d["input_names"]) + list(d["target_names"])
    source = spec.get("source_path")
    if source is not None and not isinstance(source, str):
        _fail(name, "the data source path must be a string")
    if data_path is None and spec.get("embedded") is True:
        table = _read_embedded(zf, name, columns)
    else:
        where = data_path or source
        if not where:
            _fail(name, "the project refers to no data file and embeds none")
        table = _read_external(Path(where), name, d, columns)
    n_rows = d.get("n_rows")
    if isinstance(n_rows, int) and n_rows != table.shape[0]:
        _fail(name, f"the data has {table.shape[0]} rows but the project was saved with {n_rows} "
                    "(the data file has changed)")
    n_in = len(d["input_names"])
    try:
        ds = Dataset.from_dict(d, table[:, :n_in], table[:, n_in:])
    except (DataError, KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{name}: the stored dataset is invalid ({exc})") from None
    if "train_idx" in spec or "test_idx" in spec:      # the exact split, whatever produced it
        ds.train_idx = _index_array(spec.get("train_idx"), ds.n_rows, "training", name)
        ds.test_idx = _index_array(spec.get("test_idx"), ds.n_rows, "test", name)
        if ds.train_idx.size == 0:
            _fail(name, "the project's split has no training rows")
    if isinstance(d.get("small_table"), bool):
        ds.small_table = d["small_table"]
    if source and ds.source_path is None:
        ds.source_path = source
    return ds, (source if data_path is None else str(data_path))


def load_project(path, *, data_path=None) -> Project:
    """Open a .kanproj; ``data_path`` reads the data from another CSV (e.g. a
    moved file) instead of the embedded copy or the recorded source."""
    path = Path(path)
    name = path.name
    with _open_zip(path) as zf:
        doc = _parse_json(_read_member(zf, JSON_NAME, MAX_JSON_BYTES, name), name)
        model = _load_model(zf, doc, name)
        dataset, source = _load_dataset(zf, doc, name, data_path)
    if model is not None and dataset is not None:
        if model.n_inputs != len(dataset.input_names) or model.n_outputs != len(dataset.target_names):
            _fail(name, f"the model has {model.n_inputs} inputs and {model.n_outputs} outputs but the data has "
                        f"{len(dataset.input_names)} input and {len(dataset.target_names)} target columns")
    settings, notes = check_settings(doc.get("settings"), DEFAULT_SETTINGS)
    ui, more = check_ui(doc.get("ui"), DEFAULT_UI)
    project = Project(dataset=dataset, model=model, path=path, source_path=source, settings=settings, ui=ui)
    project.load_notes = notes + more
    project.embed_data = bool((doc.get("data") or {}).get("embedded", True))
    project.history.clear(past=doc.get("history", []))
    # after the history, which defines the auxiliary inputs: rows saved in their columns read in the originals
    from .aux_formula import substitute_pareto
    project.pareto = substitute_pareto((doc.get("results") or {}).get("pareto"), project)
    project.mark_saved()
    return project
