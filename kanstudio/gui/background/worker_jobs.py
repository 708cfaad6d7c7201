"""What the main window runs in the worker thread (see ``worker``).

Each factory takes copies of the UI's state and returns ``fn(ctx)`` for
``JobRunner.submit``; none of them touches a widget.  Engine imports are
inside the functions so that importing the GUI stays fast (the window must
be up in under 3 s).
"""
from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .worker import JobContext, Throttle

__all__ = ["TrainProgress", "warm_up_job", "preload_torch", "finish_preload", "hold_collections", "release_collections", "training_job", "command_job", "picture_job", "edge_detail_job", "suggest_job",
           "formula_job", "candidate_job", "predictions_job", "discover_job",
           "late_warm_up_job"]

# What the window's jobs import on first use.  An import holds the GIL for
# long stretches that the switch interval cannot cut (unmarshalling, module
# bodies): done in the middle of a fit it stalls the UI for 100-200 ms.
_WARM_MODULES = ("sympy", "kanstudio.data", "kanstudio.training.loop", "kanstudio.picture",
                 "kanstudio.symbolic.formula", "kanstudio.symbolic.edges", "kanstudio.science.prune",
                 "kanstudio.project.commands_model", "kanstudio.project.commands_edges", "kanstudio.project")
# imported once the worker is idle after the warm-up (not while a first Fit runs, whose
# steps would share the interpreter lock with them): Discover's package, and
# sympy.physics.units, which sympy's pretty printer imports at its first product
# (tens of ms holding the lock, in the middle of showing a formula)
_LATE_MODULES = ("kanstudio.discovery", "sympy.physics.units")


_FROZEN: list = []
_PRELOAD: list = []


def preload_torch():
    """Start importing torch on a thread of its own (UI thread, from the window's
    constructor).  torch's C extension initialises holding the interpreter lock
    for ~0.3 s, which no switch interval cuts: begun here, that falls while the
    window is being built, before anything is on screen to press, rather than in
    the worker's warm-up, seconds after the window shows.  The warm-up's own
    ``import torch`` then waits for this one (off the UI thread)."""
    if _PRELOAD or "torch" in sys.modules:
        return
    hold_collections()          # loading creates millions of objects: no full collections meanwhile

    def load():
        try:
            import torch  # noqa: F401
        except Exception:  # noqa: BLE001 - no usable torch: the warm-up and the jobs report it
            pass
    t = threading.Thread(target=load, name="kanstudio-preload-torch", daemon=True)
    _PRELOAD.append(t)
    t.start()


def finish_preload(timeout: float = 30.0):
    """Wait for ``preload_torch``'s import (at shutdown: an interpreter must not
    exit in the middle of a C extension's initialisation)."""
    for t in _PRELOAD:
        t.join(timeout)


def hold_collections():
    """No cyclic garbage collections until the warm-up is over (UI thread, at
    start-up).  Loading the engine creates a few million objects, and each full
    collection that triggers walks them all holding the interpreter lock: the
    window stalled 100-340 ms at a time, longer as the heap grew, whether the
    user pressed Fit during the warm-up or not."""
    if not _FROZEN:
        gc.disable()


def release_collections():
    """The end of ``hold_collections``: what is loaded by now moves to the
    permanent generation (gc.freeze, once per process), which later
    collections skip -- what the engine loads once is never garbage."""
    if not _FROZEN:
        _FROZEN.append(True)
        gc.freeze()
    gc.enable()


def warm_up_job(ctx: JobContext) -> bool:
    """Pay the first-use costs while the user looks at the start page rather
    than when they press Fit: the imports, the first optimiser (it imports
    torch._dynamo, 1-2 s of Python), the training kernels and mathtext's fonts.  Returns whether
    CUDA is available (the training panel offers the device then)."""
    import importlib
    hold_collections()
    try:
        import torch
        for name in _WARM_MODULES:
            importlib.import_module(name)
        p = torch.zeros(1, requires_grad=True)
        torch.optim.Adam([p])
        torch.optim.LBFGS([p])
        from ...training import warm_up as warm_kernels
        warm_kernels(("float64",))     # the compiled training kernels (once per install) of the app's dtype
        from ..mathtext import warm_up
        warm_up()
        from ...data import registry
        registry()                     # pint's unit registry (~0.7 s), used by the import dialog's units
        return bool(torch.cuda.is_available())
    finally:
        release_collections()


def late_warm_up_job(ctx: JobContext) -> None:
    """The second part of the warm-up (_LATE_MODULES), run when nothing else is."""
    import importlib
    for name in _LATE_MODULES:
        importlib.import_module(name)


@dataclass
class TrainProgress:
    """A batch of training snapshots, and a picture of the network (≤ 10 Hz)."""
    snaps: list
    picture: Any = None


CHECKPOINT_SECONDS = 10.0    # a running fit's state reaches the crash-recovery file at least this often


def _rows(x):
    """The input rows a job draws or inspects: a tensor, or a callable that makes
    it.  The window passes the callable, so the first job after start-up builds
    the tensors (and imports torch) here in the worker, not in the UI thread."""
    return x() if callable(x) else x


def training_job(cmd, picture_x, picture_hz: float = 10.0, signal_hz: float = 10.0, checkpoint=None):
    """Run a project training command (FitModel / Retrain, ``begin`` already
    called) in the worker: snapshots are batched to ≤ ``signal_hz`` signals, a
    NetworkPicture of the live model is drawn at ≤ ``picture_hz``, and side
    jobs (edge details) run between steps against the live model.
    ``checkpoint(model)`` (Document.training_checkpoint) is given a copy of the
    live model every CHECKPOINT_SECONDS, so a crash mid-fit loses at most that."""
    def run(ctx: JobContext) -> list:
        from ...picture import network_picture
        sig, pic, prog = Throttle(1.0 / signal_hz), Throttle(1.0 / picture_hz), Throttle(0.1)
        ckpt = Throttle(CHECKPOINT_SECONDS)
        ckpt.ready()                 # the first one after CHECKPOINT_SECONDS, not at once
        pending: list = []
        rows = []

        def on_snapshot(snap, live):
            ctx.live["model"] = live
            pending.append(snap)
            if snap.done:
                return
            if checkpoint is not None and ckpt.ready():
                try:
                    checkpoint(live.copy())
                except (OSError, ValueError):
                    pass             # a recovery file that cannot be written must not stop the fit
            if sig.ready():
                if pic.ready():
                    rows[:] = rows or [_rows(picture_x)]
                    picture = network_picture(live, rows[0])
                else:
                    picture = None
                ctx.emit(TrainProgress(list(pending), picture))
                pending.clear()
            ctx.service()

        def progress(fraction, text):
            if prog.ready():
                ctx.progress(fraction, "Training: " + text)

        cmd.run(progress=progress, cancel=ctx.cancel, on_snapshot=on_snapshot)
        return pending
    return run


def command_job(cmd, text: str = ""):
    """Run a ComputedCommand's heavy part (``begin`` already called)."""
    def run(ctx: JobContext):
        if text:
            ctx.progress(-1.0, text)
        cmd.run(progress=lambda f, t: ctx.progress(f, t), cancel=ctx.cancel)
        return cmd
    return run


def picture_job(model, x, score_mode: str = "attribution"):
    def run(ctx):
        from ...picture import network_picture
        m = ctx.live.get("model", model)
        return network_picture(m, _rows(x), score_mode=score_mode)
    return run


def edge_detail_job(model, x, layer: int, i: int, j: int):
    """An edge's detail; during training, of the live model (via ctx.live)."""
    def run(ctx):
        from ...picture import edge_detail
        m = ctx.live.get("model", model)
        return edge_detail(m, _rows(x), layer, i, j)
    return run


def suggest_job(model, x, layer: int, i: int, j: int, top_k: int = 8):
    def run(ctx):
        from ...symbolic import suggest
        return suggest(model, _rows(x), layer, i, j, top_k=top_k)
    return run


def formula_job(model, dataset, digits: int, colour: str, dpr: float, aux=None):
    """The model's formula ready to show (FormulaInfo), or ("incomplete", n, rmse).
    ``aux`` (project.aux_formula.aux_expressions): auxiliary inputs are
    replaced by their expressions before anything is printed or drawn."""
    def run(ctx):
        from ...symbolic import FormulaIncomplete, model_formula
        from ...project import substitute_result
        model_rmse = _model_test_rmse(model, dataset)
        try:
            res = substitute_result(model_formula(model, dataset, digits=digits), aux)
        except FormulaIncomplete as exc:
            return ("incomplete", len(exc.edges), model_rmse)
        return _formula_info(res.exprs, res.latex, res.sympy_str, res.complexity, dataset, digits,
                             colour, dpr, model_rmse)
    return run


def candidate_job(row: dict, expr, dataset, digits: int, colour: str, dpr: float, aux=None):
    """A Pareto candidate (dict from project.pareto; ``expr`` the sympy form when
    known, else parsed from its text with the data package's safe parser),
    with the auxiliary inputs ``aux`` replaced (a no-op for the rows of
    project.pareto, which are kept substituted)."""
    def run(ctx):
        import sympy
        from ...symbolic import complexity, input_symbols, round_constants, to_latex
        from ...project import substitute_expr
        e = expr
        if e is None:
            from ...data import parse_expression
            syms = input_symbols(dataset.input_names)
            parsed = parse_expression(str(row.get("formula", "")), [s.name for s in syms])
            e = parsed.xreplace({sympy.Symbol(s.name): s for s in syms})
        e = round_constants(substitute_expr(e, aux), digits)
        rm = row.get("test_rmse")
        info = _formula_info([e], [to_latex(e)], [str(e)], complexity(e), dataset, digits, colour, dpr,
                             float("nan"))
        if rm is not None:
            info.test_rmse = float(rm)
        return info
    return run


CURVE_ROWS = 2000      # rows drawn against a formula (a subsample of bigger tables)


def against_data(expr, dataset):
    """What the formula panel draws beside a formula: with one input, the data and
    the formula's curve over that input; with several, the formula's value
    against the measured one on every row (the diagonal is a perfect fit).
    None where the formula cannot be evaluated on the rows."""
    import numpy as np
    from ...symbolic import evaluate
    X, Y = dataset.rows("all")
    if len(X) > CURVE_ROWS:
        idx = np.linspace(0, len(X) - 1, CURVE_ROWS).astype(int)
        X, Y = X[idx], Y[idx]
    try:
        with np.errstate(all="ignore"):
            pred = np.asarray(evaluate(expr, dataset.input_names, X), dtype=np.float64)
    except (ValueError, TypeError, ZeroDivisionError):
        return None
    measured = np.asarray(Y[:, 0], dtype=np.float64)
    target = str(dataset.target_names[0])
    ok = np.isfinite(pred) & np.isfinite(measured)
    if not ok.any():
        return None
    if X.shape[1] == 1:
        x = np.asarray(X[:, 0], dtype=np.float64)
        order = np.argsort(x[ok])
        return {"kind": "curve", "x": x[ok], "measured": measured[ok], "line_x": x[ok][order],
                "line_y": pred[ok][order], "x_label": str(dataset.input_names[0]), "y_label": target}
    return {"kind": "parity", "x": measured[ok], "measured": pred[ok], "line_x": None, "line_y": None,
            "x_label": f"measured {target}", "y_label": f"formula's {target}"}


def _model_test_rmse(model, dataset) -> float:
    import numpy as np
    import torch
    X, Y = dataset.rows("test")
    with torch.no_grad():
        xn = torch.as_tensor(dataset.normalize_x(X), dtype=model.dtype, device=model.device)
        pred = dataset.denormalize_y(model(xn).cpu().numpy())
    err = pred - Y
    return float(np.sqrt(np.mean(err * err))) if err.size and np.isfinite(err).all() else float("nan")


def _formula_info(exprs, latex, sympy_str, complexity, dataset, digits, colour, dpr, model_rmse):
    """``exprs`` may use original columns in place of auxiliary ones: the
    dataset still has those columns, so the test RMSE evaluates as is."""
    import numpy as np
    from ...symbolic import formula_rmse, safe_name, to_python_source
    from ..panels import FORMULA_PT, FormulaInfo, display_latex
    from ..mathtext import MathRenderer, pretty_text, render_png
    X, Y = dataset.rows("test")
    errs = []
    for k, e in enumerate(exprs):
        try:
            errs.append(formula_rmse(e, dataset.input_names, X, Y[:, k]))
        except (ValueError, TypeError):
            errs.append(float("inf"))
    rmse = float(np.sqrt(np.mean(np.square(errs)))) if errs else float("nan")
    names = list(dataset.target_names)
    pretty = "\n".join(f"{n} = {pretty_text(e)}" if "\n" not in pretty_text(e) else f"{n} =\n{pretty_text(e)}"
                       for n, e in zip(names, exprs))
    srcs = []
    for n, e in zip(names, exprs):
        try:
            srcs.append(to_python_source(e, dataset.input_names, func_name=safe_name(n)))
        except ValueError:
            pass
    python = "\n\n".join(srcs)
    info = FormulaInfo(latex=list(latex), output_names=names, pretty=pretty, sympy_str=list(sympy_str),
                       test_rmse=rmse, model_rmse=model_rmse, complexity=int(complexity), digits=digits,
                       python=python)
    info.curve = against_data(exprs[0], dataset) if exprs else None
    shown = display_latex(info)
    info.png = render_png(shown, FORMULA_PT, 100.0 * dpr, colour)
    info.png_key = MathRenderer.key(shown, FORMULA_PT, dpr, colour)
    return info


def predictions_job(model, dataset, exprs, path: str):
    """Write the data with the network's (and the formula's) predictions as CSV."""
    def run(ctx):
        import numpy as np
        import torch
        from ...symbolic import evaluate
        frame = dataset.to_frame()
        split = np.full(dataset.n_rows, "train", dtype=object)
        split[np.asarray(dataset.test_idx)] = "test"
        if dataset.small_table:
            split[:] = "train+test"
        frame.insert(0, "split", split)
        with torch.no_grad():
            xn = torch.as_tensor(dataset.normalize_x(dataset.X), dtype=model.dtype, device=model.device)
            pred = dataset.denormalize_y(model(xn).cpu().numpy())
        for k, n in enumerate(dataset.target_names):
            frame[f"{n}_network"] = pred[:, k]
        for k, e in enumerate(exprs or []):
            try:
                frame[f"{dataset.target_names[k]}_formula"] = evaluate(e, dataset.input_names, dataset.X)
            except (ValueError, TypeError):
                pass
        frame.to_csv(path, index=False, float_format="%.10g")
        return path
    return run


def discover_job(dataset, settings: dict, aux=None):
    """discover() with ``DiscoverConfig(**settings)``, its formula and Pareto
    candidates then put in the original columns (``aux``), once, here:
    project.pareto, the Pareto list and a chosen candidate all read from the
    substituted result."""
    def run(ctx):
        # in a child process: the symbolic engine holds the interpreter lock for
        # hundreds of ms at a time, which in this process would freeze the window
        from ...discovery import DiscoverConfig, discover_in_child
        from ...project import substitute_discovery
        config = DiscoverConfig(**settings)
        res = discover_in_child(dataset, config, progress=lambda stage, f: ctx.progress(f, f"Discover: {stage}"),
                                cancel=ctx.cancel)
        res = substitute_discovery(res, aux)
        # the candidates as the project keeps them (text, LaTeX): sympy's printers
        # here, not in the UI thread when the result arrives
        res.pareto_rows = [c.as_dict() for c in res.pareto]
        return res
    return run
