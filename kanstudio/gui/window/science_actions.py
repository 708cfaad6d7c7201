"""Model ▸ Science: KAN 2.0 tools (auxiliary inputs, modules, compiling a
formula, growing the network, auto-swap, hypothesis tests, a tutorial).

``science_menu.ScienceController`` owns the menu (``SCIENCE_ACTIONS``), its
actions and the Input attribution dock.  Each action opens a dialog
and, on accept, calls a plain function taking the parameters directly
(``add_aux_input(window, name, expr)`` ...), which tests call without dialogs.
Edits are project commands pushed with ``window.doc.push`` (undoable, shown in
the History panel).  Compiling, expanding and auto-swapping are computed
commands: their heavy part runs on the window's worker and the command is
pushed when it comes back; the two tests that train or differentiate a model
also run there.  ``background=False`` runs them in place (for tests and
scripts).  Errors go to ``window.show_error``.
"""
from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtWidgets import QMenu

from ...project import (AddAuxInput, AutoSwap, CompileFormula, DefineModule, ExpandDepth, ExpandWidth,
                        PruneInputs, weakest_inputs)
from ..dialogs import (AuxInputDialog, EdgeFunctionDialog, ExpandWidthDialog, ResultDialog,
                       TextSpecDialog, check_formula)

__all__ = ["SCIENCE_ACTIONS", "NEEDS_MODEL", "NEEDS_DATA", "install_science_actions", "add_aux_input",
           "define_module", "compile_formula",
           "expand_width", "expand_depth", "auto_swap", "prune_weakest_inputs", "hypothesis_tests",
           "hypothesis_report", "test_formula", "show_tutorial"]

HYPOTHESIS_ROWS = 256      # rows used by the separability/symmetry tests (enough for a median)
NEEDS_MODEL = ("action_define_module", "action_expand_width", "action_expand_depth", "action_auto_swap",
                "action_hypothesis_tests", "action_test_formula")
NEEDS_DATA = ("action_add_aux_input", "action_compile_formula")


# ------------------------------------------------------------ helpers
def _ready(window, title: str, need_model: bool = True) -> bool:
    if window.runner.busy:
        window.show_error(title, "Stop the running job first.")
        return False
    if not window.doc.has_data:
        window.show_error(title, "Open a dataset first.")
        return False
    if need_model and not window.doc.has_model:
        window.show_error(title, "There is no model yet: fit one first.")
        return False
    return True


def _push(window, cmd, title: str, need_model: bool = True):
    """Apply ``cmd`` through the undo stack; the command, or None after an error."""
    if not _ready(window, title, need_model):
        return None
    try:
        window.doc.push(cmd)
    except ValueError as exc:          # CommandError and DataError are ValueErrors
        window.show_error(title, str(exc))
        return None
    window.show_status(cmd.label, 8000)
    return cmd


def _run(window, title: str, fn: Callable, on_done: Callable, background: bool):
    """fn() on the worker (background) or right here; on_done(result) in the UI thread."""
    if background:
        def job(ctx):
            ctx.progress(-1.0, f"{title}\u2026")
            return fn()
        def finished(result):
            window.show_status(f"{title}: done", 5000)
            on_done(result)
        window.runner.submit(title, job, on_done=finished,
                             on_error=lambda message, details: window.show_error(f"{title} failed", message, details))
        return None
    try:
        result = fn()
    except ValueError as exc:
        window.show_error(f"{title} failed", str(exc))
        return None
    on_done(result)
    return result


def _computed(window, cmd, title: str, background: bool):
    """A ComputedCommand: inputs copied here (``begin``), the heavy part on the
    worker (``run``), then pushed as one undoable step.  Returns the command
    once it is on its way (in the background) or applied (background=False);
    None after an error."""
    if not _ready(window, title, need_model=cmd.needs_model):
        return None
    try:
        cmd.begin(window.doc.project)
    except ValueError as exc:
        window.show_error(title, str(exc))
        return None

    def work():
        cmd.run()
        return cmd

    applied = []

    def done(c):
        if window.doc.project is None or c.is_stale(window.doc.project):
            # the model changed while the job ran: applying would drop that change
            window.show_error(title, "The model changed while this ran; nothing was applied.")
            return
        try:
            window.doc.push(c)
        except ValueError as exc:
            window.show_error(title, str(exc))
            return
        applied.append(c)
        window.show_status(c.label, 8000)
        window.last_science_result = c
    _run(window, title, work, done, background)
    return cmd if background or applied else None


# ------------------------------------------------------------ edits
def add_aux_input(window, name: str, expr: str):
    return _push(window, AddAuxInput(name, expr), "Add auxiliary input", need_model=False)


def prune_weakest_inputs(window, threshold: float):
    """Remove the inputs whose attribution score is below ``threshold`` (one
    undoable PruneInputs); None when none is that weak."""
    title = "Prune weakest inputs"
    if not _ready(window, title):
        return None
    names = weakest_inputs(window.doc.model, window.doc.tensors("train")[0], list(window.doc.dataset.input_names),
                           float(threshold))
    if not names:
        window.show_status(f"No input scores below {threshold:g}.", 6000)
        return None
    return _push(window, PruneInputs(names), title)


def define_module(window, spec: str):
    return _push(window, DefineModule(spec), "Define module")


def compile_formula(window, formula: str, background: bool = True):
    return _computed(window, CompileFormula(formula), "Compile formula", background)


def expand_width(window, level: int, n_new: int = 1, kind: str = "sum", background: bool = True):
    return _computed(window, ExpandWidth(level, n_new, kind), "Add hidden nodes", background)


def expand_depth(window, background: bool = True):
    return _computed(window, ExpandDepth(), "Add a layer", background)


def auto_swap(window, background: bool = True):
    return _computed(window, AutoSwap(), "Auto-swap", background)


# ------------------------------------------------------------ tests
def hypothesis_report(model, dataset, threshold: float = 0.1, rows: int = HYPOTHESIS_ROWS) -> str:
    """Separability (additive, multiplicative) and symmetry verdicts of the
    model's first output over the training inputs, as text (science.structure's
    report, as ``kanstudio-cli structure`` prints it)."""
    from ...science import structure_report
    report = structure_report(model, dataset, threshold, rows)
    return "\n".join([f"Structure of {report.target} as the current network computes it ({report.rows} training rows):"]
                     + report.lines()
                     + ["(The verdicts are only as good as the fit: retrain first if the RMSE is high.)"])


def hypothesis_tests(window, background: bool = True) -> Optional[str]:
    """Run the structure tests on a copy of the model; shows and returns the text
    (None when it runs in the background: the dialog appears when it is done)."""
    title = "Hypothesis tests"
    if not _ready(window, title):
        return None
    model, ds = window.doc.model.copy(), window.doc.dataset

    def done(text):
        window.last_science_result = text
        _show(window, title, text)
    return _run(window, title, lambda: hypothesis_report(model, ds), done, background)


def test_formula(window, layer: int, i: int, j: int, name: str, steps: int = 20, background: bool = True):
    """Is edge (layer, i, j) the library function ``name``?  Returns the engine's
    HypothesisResult (None in the background); its verdict is shown."""
    title = "Test formula hypothesis"
    if not _ready(window, title):
        return None
    from ...science import test_formula_hypothesis
    model = window.doc.model
    if not (0 <= layer < model.depth and 0 <= i < model.layers[layer].in_dim and 0 <= j < model.layers[layer].out_dim):
        window.show_error(title, f"There is no edge ({layer}, {i}, {j}) in this network.")
        return None
    model = model.copy()
    x, y = window.doc.tensors("train")
    xt, yt = window.doc.tensors("test")

    def work():
        return test_formula_hypothesis(model, x, y, layer, i, j, name, steps=steps, x_test=xt, y_test=yt)

    def done(res):
        res.model = None        # the retrained copy is not needed here
        text = (f"Hypothesis: {res.hypothesis}\nVerdict: {res.verdict}\n\n"
                f"test RMSE (normalised) without the constraint: {res.loss_reference:.4g}\n"
                f"with it, before retraining: {res.loss_before:.4g}\n"
                f"with it, after {steps} steps: {res.loss_after:.4g}  (ratio {res.ratio:.3g})")
        window.last_science_result = res
        _show(window, title, text)
    return _run(window, title, work, done, background)


test_formula.__test__ = False     # not a pytest test, whatever its name says


def _show(window, title: str, text: str):
    dlg = ResultDialog(title, text, parent=window)
    dlg.open()
    window.last_science_dialog = dlg
    return dlg


def show_tutorial(window):
    """Help ▸ Tutorial: the guided tour (kanstudio.gui.window.tutorial)."""
    from .tutorial import start_tour
    return start_tour(window)


# ------------------------------------------------------------ dialogs
def _ask_aux(window):
    if not _ready(window, "Add auxiliary input", need_model=False):
        return
    dlg = AuxInputDialog(window.doc.dataset, window)
    dlg.accepted.connect(lambda: add_aux_input(window, *dlg.values()))
    dlg.open()
    return dlg


def _ask_module(window):
    if not _ready(window, "Define module"):
        return

    def validate(text):
        from ...science import parse_module_spec
        try:
            spec = parse_module_spec(text, window.doc.model)
        except ValueError as exc:
            return False, str(exc)
        return True, f"levels {spec.start_level}..{spec.start_level + len(spec.nodes) - 1}: {spec.nodes}"
    dlg = TextSpecDialog("Define module", "module_dialog", "Module:", "e.g. x1,x2->h0,h1  or  @1: 0,1 -> 0",
                         validate, parent=window)
    dlg.accepted.connect(lambda: define_module(window, dlg.text()))
    dlg.open()
    return dlg


def _ask_compile(window):
    if not _ready(window, "Compile formula", need_model=False):
        return
    dlg = TextSpecDialog("Compile formula", "compile_dialog", "Formula:", "e.g. (u+v)/(1+u*v)",
                         lambda t: check_formula(t, window.doc.dataset), parent=window)
    dlg.accepted.connect(lambda: compile_formula(window, dlg.text()))
    dlg.open()
    return dlg


def _ask_width(window):
    if not _ready(window, "Add hidden nodes"):
        return
    dlg = ExpandWidthDialog(window.doc.model.depth, window)
    dlg.accepted.connect(lambda: expand_width(window, *dlg.values()))
    dlg.open()
    return dlg


def _ask_test_formula(window):
    if not _ready(window, "Test formula hypothesis"):
        return
    from ...model import library_names
    edge = window.network_view.selected_edge()
    dlg = EdgeFunctionDialog(window.doc.model, library_names(), edge if isinstance(edge, tuple) else None, window)
    dlg.accepted.connect(lambda: test_formula(window, *dlg.values()))
    dlg.open()
    return dlg


# ------------------------------------------------------------ menu
SCIENCE_ACTIONS = (
    ("action_add_aux_input", "Add &auxiliary input…", _ask_aux,
     "Add an input column defined by a formula of the others (e.g. u*v)"),
    ("action_define_module", "Define &module…", _ask_module,
     "Keep a chain of node groups to itself (mask the edges to the rest)"),
    ("action_compile_formula", "&Compile formula…", _ask_compile,
     "Replace the network by one that computes a formula exactly"),
    ("action_expand_width", "Add hidden &nodes…", _ask_width, "Add fresh nodes to a hidden layer"),
    ("action_expand_depth", "Add a &layer", expand_depth, "Add an identity layer on top of the network"),
    ("action_auto_swap", "Auto-&swap nodes", auto_swap, "Reorder hidden nodes to shorten the connections"),
    ("action_hypothesis_tests", "&Hypothesis tests", hypothesis_tests,
     "Test the network's function for separability and symmetries"),
    ("action_test_formula", "&Test formula hypothesis…", _ask_test_formula,
     "Is this edge a given library function? (fix, retrain and compare)"),
    ("action_tutorial", "&Tutorial: guided tour", show_tutorial,
     "A guided tour on real physics: find the energy of a harmonic oscillator"),
)


def install_science_actions(window) -> QMenu:
    """The Science menu, which the window's ``ScienceController`` builds with
    the window (kept for scripts written against the earlier installer)."""
    return window.science.menu
