"""The formula panel reads auxiliary inputs as their expressions.

The window computes a formula in the network's own inputs, so an auxiliary
input ``uv = u*v`` would appear as ``uv``.  ``install_aux_substitution``
puts itself in front of the panel's ``show_formula`` and ``set_pareto``:
when the project has auxiliary inputs, the shown formula (and so Copy LaTeX
and the LaTeX / SymPy / Python exports, which read the panel's formula) and
the Pareto rows are rewritten with ``project.aux_formula`` on the worker (a
side job: parsing, sympy and the mathtext picture take tens of ms), then
shown.  Without auxiliary inputs nothing changes and nothing is queued.
"""
from __future__ import annotations

import dataclasses

__all__ = ["install_aux_substitution", "rewrite_info", "rewrite_rows"]


def rewrite_info(info, input_names, aux, colour: str, dpr: float):
    """FormulaInfo with every output's formula substituted (worker thread)."""
    from ..engine.formula import safe_name, to_latex, to_python_source
    from ..project.aux_formula import substitute_text
    from .formula_panel import FORMULA_PT, display_latex
    from .mathtext import MathRenderer, pretty_text, render_png
    exprs = [substitute_text(t, input_names, aux) for t in info.sympy_str]
    if all(e is None for e in exprs):
        return info
    latex, texts, pretty, srcs = list(info.latex), list(info.sympy_str), [], []
    for k, e in enumerate(exprs):
        if e is not None:
            latex[k], texts[k] = to_latex(e), str(e)
    for n, e, t in zip(info.output_names, exprs, texts):
        if e is None:
            pretty.append(f"{n} = {t}")
            continue
        p = pretty_text(e)
        pretty.append(f"{n} =\n{p}" if "\n" in p else f"{n} = {p}")
        try:
            srcs.append(to_python_source(e, list(input_names), func_name=safe_name(n)))
        except ValueError:
            pass
    new = dataclasses.replace(info, latex=latex, sympy_str=texts, pretty="\n".join(pretty),
                              python="\n\n".join(srcs) if srcs else info.python)
    shown = display_latex(new)
    new.png = render_png(shown, FORMULA_PT, 100.0 * dpr, colour)
    new.png_key = MathRenderer.key(shown, FORMULA_PT, dpr, colour)
    return new


def rewrite_rows(rows, input_names, aux):
    """ParetoRows with text and LaTeX substituted (worker thread)."""
    from ..engine.formula import to_latex
    from ..project.aux_formula import substitute_text
    out = []
    for r in rows:
        e = substitute_text(r.text, input_names, aux)
        out.append(r if e is None else dataclasses.replace(r, text=str(e), latex=to_latex(e)))
    return out


def install_aux_substitution(window):
    """Idempotent.  The panel's original methods stay reachable as
    ``panel._aux_original`` (show_formula, set_pareto)."""
    panel = window.formula_panel
    if getattr(panel, "_aux_original", None) is not None:
        return
    show, set_rows = panel.show_formula, panel.set_pareto
    other = {name: getattr(panel, name) for name in ("show_incomplete", "show_message")}
    panel._aux_original = (show, set_rows)
    seq = {"formula": 0, "pareto": 0}

    def aux_now():
        from ..project.aux_formula import aux_expressions
        project = window.doc.project
        try:
            return aux_expressions(project) if project is not None else {}
        except ValueError:
            return {}

    def show_formula(info):
        seq["formula"] += 1
        aux = aux_now()
        if not aux:
            show(info)
            return
        ticket, names = seq["formula"], list(window.doc.dataset.input_names)
        colour, dpr = panel.text_colour(), panel.devicePixelRatioF()

        def done(new):
            if ticket == seq["formula"]:       # no newer formula or message since
                show(new)

        def failed(_message, _details):
            done(info)                          # the formula as computed beats no formula
        window.runner.submit("Formula (auxiliary inputs)",
                             lambda ctx: rewrite_info(info, names, aux, colour, dpr),
                             side=True, on_done=done, on_error=failed)

    def set_pareto(rows):
        seq["pareto"] += 1
        rows = list(rows)
        aux = aux_now()
        if not aux or not rows:
            set_rows(rows)
            return
        ticket, names = seq["pareto"], list(window.doc.dataset.input_names)

        def done(new):
            if ticket == seq["pareto"]:
                set_rows(new)
        window.runner.submit("Pareto list (auxiliary inputs)", lambda ctx: rewrite_rows(rows, names, aux),
                             side=True, on_done=done, on_error=lambda _m, _d: done(rows))

    def wrap_other(fn):
        def call(*args, **kwargs):
            seq["formula"] += 1               # a pending substituted formula is now stale
            return fn(*args, **kwargs)
        return call

    panel.show_formula = show_formula
    panel.set_pareto = set_pareto
    for name, fn in other.items():
        setattr(panel, name, wrap_other(fn))
