"""Formulas read in the original columns: auxiliary inputs replaced by their
expressions.

An auxiliary input (``AddAuxInput``) is a column the network sees as one
more input, but the scientist defined it as, say, ``uv = u*v``; a formula
``w = 2*uv + 1`` should read ``w = 2*u*v + 1``.  The definitions come from the
project's history (records of applied and loaded ``add_aux_input`` edits, so
they survive a ``.kanproj`` round trip and disappear with an undo), keeping
only those whose column is still an input.  The text of every definition and
formula goes through the restricted parser (never eval/sympify).
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

import sympy

__all__ = ["aux_definitions", "aux_expressions", "substitute_expr", "substitute_text", "substitute_pareto_row",
           "substitute_pareto", "substitute_result", "substitute_discovery"]

_SYMPY_TO_PARSER = ((re.compile(r"\bAbs\("), "abs("),)   # names sympy prints that the parser spells otherwise


def aux_definitions(project) -> dict:
    """{column name: expression text} of the auxiliary inputs of the current data."""
    ds = getattr(project, "dataset", None)
    if ds is None:
        return {}
    inputs = set(ds.input_names)
    out = {}
    for rec in project.history.to_json():
        if rec.get("type") == "add_aux_input" and isinstance(rec.get("name"), str) \
                and isinstance(rec.get("expr"), str):
            out[rec["name"]] = rec["expr"]          # a later definition of a name wins
    return {n: e for n, e in out.items() if n in inputs}


def aux_expressions(project) -> dict:
    """{column name: sympy expression over the *original* (non-auxiliary)
    columns}: a definition that uses an earlier auxiliary input is expanded.
    Definitions that no longer parse (e.g. a column they use was removed) are
    left out."""
    from ..data import parse_expression
    defs = aux_definitions(project)
    if not defs:
        return {}
    names = list(project.dataset.input_names)
    parsed = {}
    for name, text in defs.items():
        try:
            parsed[name] = parse_expression(text, names)
        except ValueError:
            continue
    by_name = {n: sympy.Symbol(n, real=True) for n in names}
    for _ in range(len(parsed)):                       # chains: aux of aux
        changed = False
        for name, expr in parsed.items():
            rep = {by_name[a]: parsed[a] for a in parsed if a != name and by_name[a] in expr.free_symbols}
            if rep:
                parsed[name] = expr.xreplace(rep)
                changed = True
        if not changed:
            break
    return {n: e for n, e in parsed.items() if not (e.free_symbols & {by_name[a] for a in parsed})}


def substitute_expr(expr: sympy.Expr, aux: Mapping[str, sympy.Expr]) -> sympy.Expr:
    """engine.aux_inputs.substitute_aux, then a cheap tidy-up so that terms
    combine, kept only when it is smaller: distributing would turn
    (u + v)/(u*v + 1) into u/(u*v + 1) + v/(u*v + 1)."""
    from ..science import substitute_aux
    from ..symbolic import complexity
    if not aux:
        return expr
    out = substitute_aux(expr, aux)
    if out is expr:
        return expr
    try:
        tidy = sympy.expand_mul(out) if sympy.count_ops(out) < 60 else out
    except (TypeError, ValueError, RecursionError):
        return out
    return tidy if complexity(tidy) < complexity(out) else out


def _parse_formula(text: str, input_names) -> Optional[sympy.Expr]:
    """A formula the engine printed (str of a sympy expression in the inputs'
    formula-safe names), through the restricted parser."""
    from ..data import parse_expression
    from ..symbolic import input_symbols
    src = str(text)
    for pat, rep in _SYMPY_TO_PARSER:
        src = pat.sub(rep, src)
    try:
        return parse_expression(src, [s.name for s in input_symbols(list(input_names))], max_length=20000)
    except ValueError:
        return None


def substitute_text(text: str, input_names, aux: Mapping[str, sympy.Expr]) -> Optional[sympy.Expr]:
    """The substituted expression of a printed formula, or None when it has no
    auxiliary input in it (or cannot be read back)."""
    if not aux or not _mentions(str(text), aux):
        return None
    expr = _parse_formula(text, input_names)
    if expr is None:
        return None
    from ..symbolic import safe_name
    own = {s.name for s in expr.free_symbols}
    if not any(n in own or safe_name(n) in own for n in aux):
        return None
    return substitute_expr(expr, aux)


def _mentions(text: str, aux: Mapping[str, sympy.Expr]) -> bool:
    """Whether the text names an auxiliary column: a regex, so that rows
    already in the original columns cost no parse."""
    from ..symbolic import safe_name
    words = set(re.findall(r"\w+", text))
    return any(n in words or safe_name(n) in words for n in aux)


def substitute_pareto_row(row: dict, input_names, aux: Mapping[str, sympy.Expr]) -> dict:
    """A Pareto candidate (project.pareto entry) with its formula and LaTeX in
    the original columns; the row itself when nothing changes.  The complexity
    stays the candidate's own (the front was ranked by it)."""
    e = substitute_text(str(row.get("formula", "")), input_names, aux)
    if e is None:
        return row
    from ..symbolic import to_latex
    return {**row, "formula": str(e), "latex": to_latex(e)}


def substitute_pareto(rows, project) -> Optional[list]:
    """project.pareto-style rows in the original columns (None stays None)."""
    if not rows:
        return rows
    aux = aux_expressions(project)
    if not aux:
        return rows
    names = list(project.dataset.input_names)
    return [substitute_pareto_row(r, names, aux) if isinstance(r, dict) else r for r in rows]


def substitute_result(result, aux: Mapping[str, sympy.Expr]):
    """An engine FormulaResult (model_formula) with the auxiliary inputs
    ``aux`` (aux_expressions) replaced in every output (sympy in, sympy out:
    no text round trip)."""
    import dataclasses
    from ..symbolic import complexity, to_latex
    if not aux:
        return result
    exprs = [substitute_expr(e, aux) for e in result.exprs]
    if all(a is b for a, b in zip(exprs, result.exprs)):
        return result
    return dataclasses.replace(result, exprs=exprs, latex=[to_latex(e) for e in exprs],
                               sympy_str=[str(e) for e in exprs], complexity=sum(complexity(e) for e in exprs))


def substitute_discovery(result, aux: Mapping[str, sympy.Expr]):
    """An engine DiscoverResult with its chosen formula and Pareto candidates
    in the original columns, in place (the candidates are the same objects
    as in ``result.candidates``, so ``result.pick`` still finds one of
    ``result.pareto``).  Complexities stay the candidates' own (the front
    was ranked by them)."""
    from ..symbolic import to_latex
    if not aux:
        return result
    for c in result.pareto:
        if c.formula is not None:
            c.formula = substitute_expr(c.formula, aux)   # latex/sympy_str are read off it
    if result.formula is not None:
        result.formula = substitute_expr(result.formula, aux)
        result.sympy_str, result.latex = str(result.formula), to_latex(result.formula)
    return result
