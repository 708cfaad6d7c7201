"""Inputs the target does not depend on, found before any search and left out.

A table often carries a column the law does not use (a detector's
temperature, a well number).  Every search is larger for it: the engine
spends generations on formulas that use it, and each separability or
symmetry test has one more input to try.  The best model of the target so
far (the stand-in network) stands in for the unknown f: an input x_i does
not matter when replacing it by another row's value changes f by no more
than f's own error, on the training rows and on rows the network was not
fitted to.  The problem is then solved without those inputs, on the real
rows (y is the data's, not the network's), and every formula found is a
formula of the whole table.
"""
from __future__ import annotations

import numpy as np

from .derivation import Step

__all__ = ["effect", "irrelevant_inputs", "without_irrelevant"]

PAIRS = 256      # row pairs of the test
LIMIT = 2.0      # an input whose effect on f is within this many times f's own test error is
                 # indistinguishable from none (two predictions' errors enter each difference)
TRUSTED = 1e-2   # ... provided that error is within this share of y's spread (context.ORACLE_REL)


def effect(predict, X: np.ndarray, i: int, rng) -> float:
    """RMS change of f when x_i is replaced by another row's x_i."""
    a = X[rng.integers(0, len(X), PAIRS)]
    b = X[rng.integers(0, len(X), PAIRS)]
    ab = a.copy()
    ab[:, i] = b[:, i]
    with np.errstate(all="ignore"):
        d = predict(ab) - predict(a)
    return float(np.sqrt(np.mean(d * d))) if np.isfinite(d).all() else np.inf


def irrelevant_inputs(ctx) -> list[tuple[int, float]]:
    """(input, its effect relative to f's test error) for the inputs that do not
    matter, on the training rows and on held-out rows both.  Nothing where there
    are no held-out rows (a small table trains on all of them: nothing confirms)
    or no stand-in for f accurate to a percent of y's spread."""
    if not ctx.has_oracle() or ctx.n_in < 2 or ctx.X_test is ctx.X_train or len(ctx.X_test) < 2:
        return []
    err = ctx.oracle_rmse()
    spread = float(np.std(ctx.y_train)) or 1.0
    if not np.isfinite(err) or err <= 0 or err > TRUSTED * spread:
        return []       # a stand-in this far off hides real effects in its own error: no claim
    rng = np.random.default_rng(ctx.cfg.seed)
    out = []
    for i in range(ctx.n_in):
        worst = max(effect(ctx.predict, X, i, rng) for X in (ctx.X_train[ctx.kan_rows], ctx.X_test)) / err
        if worst <= LIMIT:
            out.append((i, worst))
    if len(out) == ctx.n_in:
        return []        # nothing matters: f is a constant, a question for the search, not for this test
    return out


def without_irrelevant(ctx) -> bool:
    """Solve the problem without the inputs that do not matter, in the rest of
    the budget; True when it was handed over (its candidates are this
    problem's), False when every input matters."""
    with ctx.clock.stage("relevance: test each input"):
        dropped = irrelevant_inputs(ctx)
    if not dropped:
        return False
    gone = [i for i, _ in dropped]
    keep = [k for k in range(ctx.n_in) if k not in gone]
    names = ", ".join(ctx.names[i] for i in gone)
    worst = max(r for _, r in dropped)
    step = Step("irrelevant inputs", f"y does not depend on {names}: replacing it by another row's value "
                                     f"changes the stand-in network by {worst:.2g}x its own test error at most "
                                     f"(limit {LIMIT:g}), on training and held-out rows",
                tuple(ctx.names[i] for i in gone), error=worst,
                details={"dropped": [ctx.names[i] for i in gone]})
    sub = ctx.child(ctx.X_train[:, keep], ctx.y_train, ctx.X_test[:, keep], ctx.y_test, keep,
                    ctx.clock.left(), step)
    # the same problem with fewer columns, not a piece of it: the same depth, clock, units
    sub.depth, sub.clock = ctx.depth, ctx.clock
    sub.dims, sub.target_unit = ctx.dims, ctx.target_unit
    ctx.notes.append(f"{names} left out: the target does not depend on "
                     f"{'it' if len(gone) == 1 else 'them'} (within the fitted network's error)")
    ctx.solver(sub)
    ctx.candidates.extend(sub.candidates)
    ctx.notes.extend(n for n in sub.notes if n not in ctx.notes)
    ctx.rejected_units += sub.rejected_units
    return True
