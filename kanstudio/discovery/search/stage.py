"""The symbolic-search stage: a real symbolic-regression engine on a (sub-)problem.

The engine's front (error against length) is scored on the problem's test
rows with the engine's own constants; the few that are worth it -- the most
accurate ones and the smallest ones -- go to ``Context.add_structure``, which
refits their constants in float64, snaps them and puts them on the same
Pareto front as the KAN's formulas.
"""
from __future__ import annotations

import math
import time

import numpy as np
import sympy

from ..derivation import Step
from .engines import engine_symbols
from .target_transforms import TRANSFORMS, usable_transforms

__all__ = ["symbolic_search", "one_variable", "search_piece", "readings", "reading_error", "worth_polishing"]

MAX_ROWS = 250        # rows the engine evaluates (at 500 it runs half the generations)
KEEP_ACCURATE = 6     # front members kept by error ...
KEEP_SMALL = 3        # ... and by size
FRONT_MAX = 8         # ... and on the size/error front
FIRST_ROUND = 0.4     # share of a race's time spread evenly over the target's transforms
MIN_RACE_SECONDS = 2.0  # a race needs at least this per transform
IDENTITY = TRANSFORMS[0]
LATE_TRANSFORMS = ("sin y", "cos y", "exp y")    # last in TRANSFORMS: in a race only when time allows


def worth_polishing(errors, sizes=None, keys=None, limit_ratio: float = 10.0) -> list[int]:
    """Indices (into a simplest-first front) to refit: the smallest few, those
    within ``limit_ratio`` of the best error, and the members of the size/error
    Pareto front (at most FRONT_MAX, those buying the largest drops in error).
    ``keys`` name each formula's structure (its constants blanked): one per
    structure counts, so a run's many copies of one formula with other constants
    do not crowd out the rest.  The front matters on small tables, where a long
    formula over-fits the rows far below the law's error and the law, short and
    far better than anything shorter, is no longer "near the best"."""
    errs = np.asarray(errors, dtype=np.float64)
    n = len(errs)
    sizes = list(range(n)) if sizes is None else list(sizes)
    keys = list(range(n)) if keys is None else list(keys)
    seen, ok = set(), []
    for i in range(n):
        if math.isfinite(errs[i]) and keys[i] not in seen:
            seen.add(keys[i])
            ok.append(i)
    if not ok:
        return []
    best = min(errs[i] for i in ok)
    accurate = [i for i in ok if errs[i] <= limit_ratio * best + 1e-300][:KEEP_ACCURATE]
    front, drops, low = [], [], math.inf
    for i in sorted(ok, key=lambda i: (sizes[i], errs[i])):
        if errs[i] < low:
            drops.append(math.log(low / max(errs[i], 1e-300)) if math.isfinite(low) else math.inf)
            front.append(i)
            low = errs[i]
    if len(front) > FRONT_MAX:
        order = sorted(range(len(front)), key=lambda k: -drops[k])[:FRONT_MAX]
        front = [front[k] for k in sorted(order)]
    return sorted(set(ok[:KEEP_SMALL]) | set(accurate) | set(front))


def structure_key(expr) -> sympy.Expr:
    """The formula with its floating-point constants blanked: one structure."""
    blank = sympy.Symbol("_c")
    return expr.xreplace({f: blank for f in expr.atoms(sympy.Float)})


def symbolic_search(ctx, seconds: float, label: str = "symbolic search", transforms: bool = False,
                    resume: bool = False) -> int:
    """Run the context's engine for up to ``seconds`` on the target y, or, with
    ``transforms``, on the transforms of it that are defined here
    (target_transforms: y^2, 1/y, 1/y^2, log|y|) as a race: each gets an equal
    share of the first FIRST_ROUND of the time, then the two whose formulas,
    read back as y, come closest share the rest (two thirds and one third).
    A race needs MIN_RACE_SECONDS per target; with less time it does not run.
    With ``resume``, the search of the same ``label`` run before on this
    problem goes on where it stopped (the engine keeps its populations, so
    pausing a search loses nothing), and only formulas new on its fronts are
    refitted.  Returns how many candidates it added."""
    engine = ctx.engine
    if engine is None or seconds <= 0.5 or ctx.clock.left() <= 0.5:
        return 0
    rows = ctx.kan_rows[:MAX_ROWS]
    X, y = ctx.X_train[rows], ctx.y_train[rows]
    seconds = min(seconds, ctx.clock.left())
    to_ours = dict(zip(engine_symbols(ctx.n_in), ctx.symbols))
    if resume:
        state = ctx.searches.get(label)
        if state is None or all(run.done or run.exact for _, run in state["runs"]):
            return 0
        with ctx.clock.stage(f"{label}, resumed ({engine.name}, {seconds:.0f} s)"):
            _share_rest(ctx, state, time.perf_counter() + seconds, y, to_ours)
        return _polish(ctx, state["found"], state["polished"], label, engine)
    targets = [IDENTITY]
    if transforms:
        targets = [t for t in usable_transforms(y) if t is not IDENTITY]
        # a race in a few seconds gives each target too few generations to tell
        # them apart.  The angle transforms (sin y, cos y) and exp y join only
        # when the time allows: a target that merely lies in [0, pi] need not be
        # an angle, nor one spanning a few units a logarithm
        core = [t for t in targets if t.name not in LATE_TRANSFORMS]
        if not ctx.cfg.target_transforms or not targets or seconds < MIN_RACE_SECONDS * len(core):
            return 0
        targets = targets[:max(len(core), int(seconds // MIN_RACE_SECONDS))]
    state = {"runs": [], "found": {}, "polished": set(), "best": {}}
    names = ", ".join(t.name for t in targets)
    with ctx.clock.stage(f"{label} ({engine.name}, {seconds:.0f} s; targets {names})"):
        deadline = time.perf_counter() + seconds
        state["runs"] = [(t, engine.start(X, t.apply(y), ctx.cfg.seed)) for t in targets]
        if len(targets) > 1:
            share = FIRST_ROUND * seconds / len(targets)
            for t, run in state["runs"]:
                run.advance(min(share, deadline - time.perf_counter()), ctx.clock.stop_training)
                state["best"][t.name] = _collect(ctx, t, run, y, state["found"], to_ours)
                if run.exact or ctx.clock.stop_training():
                    break       # a formula at the engine's round-off: nothing left to race for
        _share_rest(ctx, state, deadline, y, to_ours)
    ctx.searches[label] = state
    return _polish(ctx, state["found"], state["polished"], label, engine)


def _share_rest(ctx, state: dict, deadline: float, y, to_ours: dict):
    """Advance the race's two closest targets until ``deadline``: the closest
    two thirds of the time, the other the rest (one target: all of it)."""
    runs = state["runs"]
    if any(run.exact for _, run in runs):
        return
    best = state["best"]
    ranked = sorted((r for r in runs if not r[1].done),
                    key=lambda r: best.get(r[0].name, math.inf))[:2]
    for (t, run), part in zip(ranked, (2 / 3, 1.0) if len(ranked) == 2 else (1.0,)):
        left = deadline - time.perf_counter()
        if left <= 0.2 or ctx.clock.stop_training():
            break
        run.advance(part * left, ctx.clock.stop_training)
        best[t.name] = _collect(ctx, t, run, y, state["found"], to_ours)


def _collect(ctx, transform, run, y, found: dict, to_ours: dict) -> float:
    """Add the run's front, read back as y and scored on the test rows, to
    ``found``; the best test RMSE on it."""
    best = math.inf
    for e in run.expressions():
        expr = transform.read_back(e.xreplace(to_ours), y)
        if expr not in found:
            found[expr] = (transform, ctx.rmse(expr, ctx.X_test, ctx.y_test))
        best = min(best, found[expr][1])
    return best


def _polish(ctx, found: dict, polished: set, label: str, engine) -> int:
    """Refit the constants of the formulas worth it (``worth_polishing``) not
    refitted before, as candidates of the context."""
    if not found:
        return 0
    exprs = sorted(found, key=sympy.count_ops)
    errors = [found[e][1] for e in exprs]
    before = len(ctx.candidates)
    for i in worth_polishing(errors, [sympy.count_ops(e) for e in exprs], [structure_key(e) for e in exprs]):
        if ctx.clock.left() <= 0 or ctx.exact_found():
            break
        if exprs[i] in polished:
            continue
        polished.add(exprs[i])
        t = found[exprs[i]][0]
        what = "the target" if t is IDENTITY else t.name
        step = Step("symbolic search", f"{engine.name} searched {what} as a formula in {', '.join(ctx.names)}"
                                       + ("" if t is IDENTITY else ", read back as y")
                                       + f" ({len(exprs)} formulas on its fronts)", tuple(ctx.names))
        ctx.add_structure(exprs[i], f"{label} ({engine.name}, {t.name})", steps=(step,))
    return len(ctx.candidates) - before


def one_variable(ctx, x: np.ndarray, g: np.ndarray, symbol, seconds: float = 2.0, keep: int = 2) -> list:
    """The engine's best readings of a one-variable function g(x) (a factor or term
    read off a network), in ``symbol``."""
    return search_piece(ctx, np.asarray(x, dtype=np.float64)[:, None], g, [symbol], seconds, keep)


def search_piece(ctx, X: np.ndarray, g: np.ndarray, symbols, seconds: float = 2.0, keep: int = 2) -> list:
    """The best formulas for g(X) (a piece of a law: a factor or term read off a
    network, or what is left of the data once the other pieces are divided out),
    in ``symbols``: a sparse fit of sums and ratios of monomials (and of their
    products with cos, sin, exp) first, which on a small piece of exact data
    finds such a law in a second; then, unless that fit is exact, the engine's
    (see ``readings``)."""
    from .monomials import monomial_pieces
    X = np.asarray(X, dtype=np.float64)
    if ctx.clock.left() <= 1.0:
        return []
    # the sparse fit takes a second or a few, and at most half the time left: called
    # late, with seconds left, it must not run past the budget
    deadline = time.perf_counter() + 0.5 * ctx.clock.left()

    def stop() -> bool:
        return ctx.clock.stop_training() or time.perf_counter() > deadline

    found, exact = monomial_pieces(X, g, symbols, stop, keep)
    engine = ctx.engine
    if exact or engine is None or ctx.clock.left() <= 1.0:
        return found
    seconds = min(seconds, 0.25 * ctx.clock.left())
    searched = readings(engine, X, g, seconds, ctx.cfg.seed, ctx.clock.stop_training, keep)
    return found + [e.xreplace(dict(zip(engine_symbols(X.shape[1]), symbols))) for e in searched]


def readings(engine, X: np.ndarray, g: np.ndarray, seconds: float, seed: int, stop, keep: int = 2) -> list:
    """The engine's best formulas for samples g(X), in ``engine_symbols``: the most
    accurate, and the smallest one nearly as accurate.  A g of one sign is also
    searched as log|g| (half the time): powers and products of functions, such
    as 1/sin(x/2)^4, are sums there."""
    X = np.asarray(X, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    xs = engine_symbols(X.shape[1])
    sign = float(np.sign(g[0])) if len(g) and (g * np.sign(g[0]) > 0).all() else 0.0
    targets = [(g, None)]
    if sign != 0:
        targets.append((np.log(sign * g), sign))
    exprs = []
    for t, sgn in targets:
        found = engine.search(X, t, seconds / len(targets), seed, stop)
        exprs += found if sgn is None else [sgn * sympy.exp(e) for e in found]
    values = dict(zip(xs, X.T))
    errs = [reading_error(e, values, g) for e in exprs]
    order = sorted(range(len(exprs)), key=lambda i: errs[i])
    if not order or not math.isfinite(errs[order[0]]):
        return []
    best = errs[order[0]]
    near = sorted((i for i in range(len(exprs)) if errs[i] <= 2.0 * best + 1e-12),
                  key=lambda i: sympy.count_ops(exprs[i]))
    picked = []
    for i in [near[0], order[0]]:
        if i not in picked:
            picked.append(i)
    return [exprs[i] for i in picked[:keep]]


def reading_error(expr, values: dict, g) -> float:
    """RMSE of expr (its symbols given ``values``) against g; inf where it cannot be evaluated."""
    from ...symbolic import evaluate_numpy
    try:
        with np.errstate(all="ignore"):
            v = np.broadcast_to(evaluate_numpy(expr, values), g.shape)
    except Exception:  # noqa: BLE001 - an expression we cannot evaluate is useless here
        return math.inf
    with np.errstate(all="ignore"):         # squares past float range: inf, no warning
        err = v - g
        return float(np.sqrt(np.mean(err * err))) if np.isfinite(err).all() else math.inf
