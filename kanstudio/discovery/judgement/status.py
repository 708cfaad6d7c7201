"""Which formula a discovery reports, and how far it can be trusted.

One criterion for every table:

* **Choice** (PySR's rule, ``model_selection="best"``): among the Pareto
  front's formulas whose loss (mean squared error, PySR's default) is within
  ``WINDOW`` times the best loss (errors at round-off count as equal), the one
  with the highest score -Δlog(loss)/Δsize against the next smaller formula on
  the front.  Errors here are RMSEs, so the window is sqrt(WINDOW) in RMSE
  (1.22x); the score's order is the same in either.  A formula that buys a large drop in error with a few
  more nodes wins; one that adds nodes for a sliver does not.
* **Status**:
  - ``exact``: the error is at round-off, or it is at the noise floor: the
    formula's residuals are unstructured (nearby rows do not predict each
    other's residual: noise, not a missing term; as they are and relative to
    |y|, see ``noise_structure``) and the fitted network, a
    flexible model, gets no lower (the formula's error is within
    [``FLOOR_AGREES``, 1.1] times the network's; a formula far better than the
    network says the network is poor, not that the data are noisy: then the
    floor is that of a network fitted to the formula's residuals, which learns
    a shape the formula missed and cannot learn noise);
  - ``approximate``: a readable formula (at most ``HEADLINE_SIZE`` nodes) that
    the network does not beat clearly (by ``CLEARLY`` in error);
  - ``no law found``: the network beats every readable formula clearly, or no
    readable formula predicts better than the mean of y (error above
    ``NO_BETTER`` times its spread: noisy real data may leave much unexplained,
    so this only catches a formula that explains nothing); the closest readable
    formula is still given, as such, never as the headline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["EXACT", "APPROXIMATE", "NO_LAW", "Verdict", "judge", "residual_structure", "noise_structure", "choose",
           "floor_agrees", "far_below", "unstructured", "HEADLINE_SIZE"]

EXACT, APPROXIMATE, NO_LAW = "exact", "approximate", "no law found"

WINDOW = 1.5            # PySR: candidates within this factor of the best loss (MSE) compete on score
HEADLINE_SIZE = 25      # a larger formula is not what a scientist calls a law
CLEARLY = 2.0           # the network "clearly" beats a formula: by this factor in RMSE
STRUCTURE_MAX = 0.25    # share of residual variance nearby rows may explain for noise
NO_BETTER = 0.9         # error above this share of std(y): no better than predicting the mean
FLOOR_AGREES = 0.5      # formula / network error at least this for the network to show a noise floor
NEIGHBOURS = 8


@dataclass
class Verdict:
    status: str
    reason: str
    chosen: object = None        # the headline candidate (None for "no law found")
    closest: object = None       # the best readable candidate (for "no law found")


def _err(c, floor: float) -> float:
    """A candidate's error for the choice: with its constants as fitted (the printed,
    rounded ones can only be as good), floored at round-off."""
    e = min(c.test_rmse, getattr(c, "unrounded_rmse", math.nan)) if math.isfinite(
        getattr(c, "unrounded_rmse", math.nan)) else c.test_rmse
    return max(e, floor) if math.isfinite(e) else math.inf


def choose(front: Sequence, floor: float):
    """PySR's choice on a simplest-first Pareto front (see the module doc)."""
    front = [c for c in front if math.isfinite(c.test_rmse)]
    if not front:
        return None
    best = min(_err(c, floor) for c in front)
    chosen, top = None, -math.inf
    prev = None
    for c in front:
        e = _err(c, floor)
        if prev is None:
            score = 0.0
        else:
            pe = _err(prev, floor)
            score = -(math.log(e) - math.log(pe)) / max(1, c.complexity - prev.complexity)
        prev = c
        if e * e <= WINDOW * best * best and score > top:
            chosen, top = c, score
    return chosen


def _at_roundoff(c, roundoff: float) -> bool:
    if hasattr(c, "at_roundoff"):
        return c.at_roundoff(roundoff)
    return c.test_rmse <= roundoff


def residual_structure(X: np.ndarray, r: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Share of the residuals' variance that the mean residual of each row's k
    nearest neighbours (inputs standardised) explains: about -1/k for noise,
    near 1 for a smooth missing term."""
    X = np.asarray(X, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64).reshape(-1)
    n = len(r)
    if n <= 2 * k or not np.isfinite(r).all():
        return math.nan
    sd = X.std(0)
    Z = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    pred = np.empty(n)
    for a in range(0, n, 512):                   # blocks: n x n distances never in memory at once
        D = ((Z[a:a + 512, None, :] - Z[None, :, :]) ** 2).sum(-1)
        D[np.arange(len(D)), np.arange(a, a + len(D))] = np.inf
        nn = np.argpartition(D, k, axis=1)[:, :k]
        pred[a:a + 512] = r[nn].mean(1)
    var = float(np.mean(r * r))
    if var == 0:
        return 0.0
    return 1.0 - float(np.mean((r - pred) ** 2)) / var


def noise_structure(X: np.ndarray, r: np.ndarray, y: np.ndarray) -> float:
    """residual_structure of the residuals as they are and, where y keeps one sign,
    relative to |y|; the larger.  Noise on measurements is absolute or relative:
    under either, both readings look like noise (a neighbour's residual does not
    predict a row's sign).  A formula a few percent off where |y| is small hides
    in the absolute residuals, which the rows with large |y| dominate, but not in
    the relative ones."""
    r = np.asarray(r, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    s = residual_structure(X, r)
    if len(y) == len(r) and ((y > 0).all() or (y < 0).all()):
        rel = residual_structure(X, r / np.abs(y))
        if math.isfinite(rel):
            s = max(s, rel) if math.isfinite(s) else rel
    return s


def floor_agrees(error: float, network_error: float) -> bool:
    """The formula's error is the flexible network's, as far as a noise floor goes:
    the network gets no lower, and the formula is not far better than it (that
    says the network is poor, not that the data are noisy)."""
    return (math.isfinite(network_error) and network_error > 0
            and FLOOR_AGREES * network_error <= error <= 1.1 * network_error)


def far_below(error: float, network_error: float) -> bool:
    """The formula beats the network by more than a noise floor allows: the network
    is poor here, and only a better one (``judge``'s ``refloor``) can show the floor."""
    return math.isfinite(network_error) and error < FLOOR_AGREES * network_error


def unstructured(structure: float) -> bool:
    """Residuals whose neighbours do not predict them (``residual_structure``): noise."""
    return math.isfinite(structure) and structure <= STRUCTURE_MAX


def judge(front: Sequence, roundoff: float, network_error: float,
          structure: Callable[[object], float], small_table: bool = False,
          baseline: float = math.inf, refloor: Optional[Callable[[object], float]] = None) -> Verdict:
    """The headline formula and its status (see the module doc).  ``structure(c)``
    gives residual_structure for candidate c; ``network_error`` is the fitted
    network's error on the same rows as the candidates' (inf when unknown);
    ``baseline`` the error of predicting the training mean, on the same rows: a
    formula that is not better than that explains nothing.  ``refloor(c)``, where
    given, is the error of c plus a network fitted to its residuals (same rows):
    the floor a flexible model shows for a formula far better than the network."""
    front = [c for c in front if math.isfinite(c.test_rmse)]
    if not front:
        return Verdict(NO_LAW, "no formula could be evaluated on the data")
    chosen = choose(front, roundoff)
    readable = [c for c in front if c.complexity <= HEADLINE_SIZE]
    closest = min(readable, key=lambda c: c.test_rmse) if readable else None
    net = network_error if math.isfinite(network_error) and network_error > 0 else math.inf
    if _at_roundoff(chosen, roundoff):
        return Verdict(EXACT, "error at round-off", chosen)     # however large: no network does better
    if chosen.complexity > HEADLINE_SIZE:
        chosen = closest          # a sprawling formula that is not exact is never the headline
        if chosen is None:
            return Verdict(NO_LAW, f"no formula of at most {HEADLINE_SIZE} nodes fits the data")
    if chosen.test_rmse > NO_BETTER * baseline:
        return Verdict(NO_LAW, "no readable formula predicts better than the mean of y", None, closest)
    if not chosen.formula.free_symbols:
        return Verdict(NO_LAW, "the best formula is a constant: y does not depend on the inputs", None, closest)
    if not small_table:
        # a formula whose residuals are noise says all the data can tell; one whose
        # residuals still have a shape is missing something.  Among the formulas the
        # choice's window holds, the smallest one at the noise floor is the law
        best = min(_err(c, roundoff) for c in front)
        window = [c for c in front if c.complexity <= HEADLINE_SIZE
                  and _err(c, roundoff) ** 2 <= WINDOW * best * best]
        for c in [chosen] + sorted((c for c in window if c is not chosen), key=lambda c: c.complexity):
            floor, whose = net, "the network's"
            if refloor is not None and far_below(c.test_rmse, net) and unstructured(structure(c)):
                floor, whose = refloor(c), "that of a network fitted to its residuals"
            if floor_agrees(c.test_rmse, floor):
                s = structure(c)
                if unstructured(s):
                    return Verdict(EXACT, f"residuals are noise (neighbours explain {max(s, 0):.0%} of them) "
                                          f"and the error is {c.test_rmse / floor:.2g}x {whose}", c)
    ratio = chosen.test_rmse / net if math.isfinite(net) else 0.0
    if ratio <= CLEARLY:
        how = f"{ratio:.2g}x the network's error" if math.isfinite(net) else "no network error to compare"
        return Verdict(APPROXIMATE, f"best readable formula; {how}", chosen)
    return Verdict(NO_LAW, f"the network's error is {1 / ratio:.2g}x that of the closest readable formula",
                   None, closest)
