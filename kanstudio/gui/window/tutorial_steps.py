"""The guided tour's steps (Help ▸ Tutorial): what each step says, which
widget it points at and when it counts as done.  ``tutorial`` runs them.

The tour works on ``sample_datasets/physics/oscillator_energy.csv`` (states
of a 2-D harmonic oscillator and their conserved energy
E = (px² + py²)/2 + (x² + y²)/2).  A step's ``target`` maps the window to
(widget, rect in it); its ``done`` looks at the project's state and the edits
made since the tour began (``Tour.since`` / ``Tour.after``), so doing a step
early or through a menu still counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Protocol

from PySide6.QtGui import QGuiApplication

__all__ = ["TourStep", "TourProgress", "tour_steps", "tour_data_path", "TOUR_FILE"]

TOUR_FILE = "oscillator_energy.csv"


def tour_data_path() -> Optional[Path]:
    from .start_page import samples_dir
    d = samples_dir()
    p = d / "physics" / TOUR_FILE if d is not None else None
    return p if p is not None and p.is_file() else None


class TourProgress(Protocol):
    """What a step's ``done`` test reads of the running tour (tutorial.Tour has it)."""

    def since(self, kind: str) -> bool: ...

    def after(self, kind: str, first: str) -> bool: ...


@dataclass
class TourStep:
    key: str
    title: str
    text: str                                            # rich text
    target: Callable[[object], Optional[tuple]]          # window -> (widget, rect in it) or None
    done: Optional[Callable[[TourProgress], bool]] = None  # None: only Next moves on
    action_text: str = ""                                # "do it for me" button
    action: Optional[Callable[[object], None]] = None
    on_enter: Optional[Callable[[object], None]] = None   # e.g. raise a tabbed dock


# ------------------------------------------------------------------ targets
def _widget(getter):
    def target(w):
        wid = getter(w)
        return (wid, wid.rect()) if wid is not None else None
    return target


def _tool_button(action_name: str):
    def target(w):
        tb = getattr(w, "toolbar", None)
        act = getattr(w, action_name, None)
        if tb is None or act is None:
            return None
        wid = tb.widgetForAction(act)
        return (wid, wid.rect()) if wid is not None else None
    return target


def _menu_title(title: str):
    def target(w):
        mb = w.menuBar()
        for act in mb.actions():
            if act.menu() is not None and act.text().replace("&", "") == title:
                return mb, mb.actionGeometry(act)
        return None
    return target


def _dock_widget(name: str):
    return _widget(lambda w: getattr(w, name, None))


def _raise(name: str):
    def enter(w):
        d = getattr(w, name, None)
        if d is not None:
            d.show()
            d.raise_()
    return enter


# ------------------------------------------------------------------ the steps
def tour_steps() -> list:
    def open_it(w):
        p = tour_data_path()
        if p is not None:
            w.files.open_csv(str(p), accept_defaults=True)

    def set_shape(w):
        w.training_panel.width_edit.setText("4,1")
        w.training_panel.lamb_spin.setValue(0.0)

    def symbolic(t):
        return t.since("auto_symbolic") and not t.window.runner.busy

    def formula_shown(t):
        # the retrained model's own formula, not the one still up from before the retrain
        return t.after("retrain", "auto_symbolic") and not t.window.runner.busy and t.window.jobs.formula_current()

    def copied(t):
        info = t.window.formula_panel.info()
        return info is not None and QGuiApplication.clipboard().text() == t.window.formula_panel.latex()

    def tested(t):
        r = getattr(t.window, "last_science_result", None)
        return isinstance(r, str) and r is not t.mark_result and "additive" in r

    def saved(t):
        d = t.window.doc
        return d.path is not None and d.project is not None and not d.project.modified

    return [
        TourStep("open", "Open the data",
                 "<b>File ▸ Open CSV…</b> (or the <i>Open</i> button) and pick <tt>sample_datasets/physics/"
                 f"{TOUR_FILE}</tt>: 400 states of a 2-D harmonic oscillator — positions <i>x, y</i>, momenta "
                 "<i>px, py</i> — and their energy <i>E</i>. Accept <i>E</i> as the target.",
                 _tool_button("action_open"), lambda t: t.window.doc.has_data, "Open it for me", open_it),
        TourStep("shape", "Choose the network",
                 "In <b>Training</b>, set <b>Width</b> to <tt>4,1</tt>: no hidden layer, so E is modelled as "
                 "a sum of one learned function per variable (the hypothesis of independent oscillators). "
                 "Set <b>λ</b> to 0: such a small network needs no push towards sparsity.",
                 _widget(lambda w: w.training_panel.width_edit), lambda t: t.since("fit"), "Set it for me",
                 set_shape, _raise("dock_training")),
        TourStep("fit", "Fit",
                 "Press <b>Fit</b>. The loss curve drops while the network trains in the background; the "
                 "picture updates as it goes.",
                 _tool_button("action_fit"), lambda t: t.since("fit") and not t.window.runner.busy,
                 "Fit", lambda w: w.model_actions.action_fit.trigger(), _raise("dock_training")),
        TourStep("look", "Look at the network",
                 "Inputs at the bottom, the output on top; every edge is a small plot of its learned 1-D "
                 "function and its opacity is its KAN 2.0 attribution score. Click an edge to inspect it.",
                 _widget(lambda w: w.network_view), lambda t: t.since("auto_prune")),
        TourStep("prune", "Prune",
                 "Press <b>Prune (auto)</b>: weak nodes and edges go, leaving the structure the data needs "
                 "(here every coordinate carries energy, so all four edges stay).",
                 _tool_button("action_prune"), lambda t: t.since("auto_prune") and not t.window.runner.busy,
                 "Prune", lambda w: w.model_actions.action_prune.trigger()),
        TourStep("symbolic", "Make it symbolic",
                 "Press <b>Auto-symbolic</b>: every edge is replaced by its best library function "
                 "c·f(a·x+b)+d (here, squares). Right-click an edge to choose one yourself.",
                 _tool_button("action_auto_symbolic"), symbolic,
                 "Auto-symbolic", lambda w: w.model_actions.action_auto_symbolic.trigger()),
        TourStep("retrain", "Retrain",
                 "Press <b>Retrain</b>: the symbolic edges now train only their constants a, b, c, d, which "
                 "settle on simple values: the network's own error drops to the formula's.",
                 _tool_button("action_retrain"), formula_shown, "Retrain", lambda w: w.model_actions.action_retrain.trigger()),
        TourStep("formula", "Read the formula",
                 "The <b>Formula</b> panel shows E in the data's own units: kinetic plus potential energy, "
                 "(px² + py²)/2 + (x² + y²)/2. <b>Copy LaTeX</b> puts it on the clipboard; <i>File ▸ Export</i> writes LaTeX, SymPy "
                 "or a Python function.",
                 _dock_widget("dock_formula"), copied, "Copy LaTeX", lambda w: w.formula_panel.copy_latex(),
                 _raise("dock_formula")),
        TourStep("hypothesis", "Test a hypothesis",
                 "<b>Model ▸ Science ▸ Hypothesis tests</b> asks the network whether E splits into a sum of "
                 "terms of separate variables (it does: an energy of independent oscillators).",
                 _menu_title("Model"), tested, "Run the tests",
                 lambda w: w.science.science_actions["action_hypothesis_tests"].trigger()),
        TourStep("attribution", "Which inputs matter",
                 "The <b>Input attribution</b> panel ranks the inputs; all four carry the energy here. "
                 "<i>Prune weakest inputs</i> removes those below the threshold (undoable).",
                 _dock_widget("dock_attribution"), None, on_enter=_raise("dock_attribution")),
        TourStep("save", "Save the project",
                 "<b>File ▸ Save Project</b> writes a <tt>.kanproj</tt> with the data, the model and the whole "
                 "edit history (see the <b>History</b> panel: every step can be undone).",
                 _tool_button("action_save_project"), saved, "Save…", lambda w: w.files.action_save_project.trigger()),
    ]
