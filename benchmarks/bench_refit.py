"""Time the refit of a formula's constants (Levenberg-Marquardt) as discovery
runs it: 2000 rows, formulas of the size the symbolic engine returns.

Baseline, measured in the same run: the Jacobian by torch's forward mode
(``torch.func.jacfwd`` over ``evaluate_torch``), which the refit used until
session 10; now: ``symbolic.jacobian.FormulaJacobian`` (forward mode in numpy).
Both feed the same Levenberg-Marquardt iterations (``constants.refit_constants``).

    python benchmarks/bench_refit.py
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kanstudio.symbolic import constants  # noqa: E402
from kanstudio.symbolic.interpreter import evaluate_torch  # noqa: E402
from kanstudio.data import parse_expression  # noqa: E402

# (formula with the engine's rough constants, true law generating the rows)
CASES = [
    ("sqrt(8.38*G*rho - 0.97*c**2*k_f/a_f**2 + 0.01)", "sqrt(8*pi*G*rho/3 - k_f*c**2/a_f**2)"),
    ("1.03*x*(0.71*x + cos(3.01*exp(-0.52*x)) + 0.89)", "log(x + 1) + log(x**2 + 1)"),
    ("2.1*F0/(m*sqrt((0.98*w0**2 - 1.02*w**2)**2 + (0.99*damp*w)**2 + 0.01))",
     "F0/(m*sqrt((w0**2 - w**2)**2 + (damp*w)**2))"),
    ("0.13*Z1**2*Z2**2/(E_k**2*sin(0.49*theta)**4) + 0.001", "0.1296*Z1**2*Z2**2/(E_k**2*sin(theta/2)**4)"),
]
ROWS = 2000


class TorchProblem(constants._Problem):
    """The earlier residuals and Jacobian: evaluate_torch under torch.func.jacfwd."""

    def __init__(self, template, params, data, y):
        self.template, self.params = template, list(params)
        self.tdata = {s: torch.as_tensor(v) for s, v in data.items()}
        y = np.asarray(y, dtype=np.float64)
        self.scale = float(np.std(y)) or 1.0
        self.y = y / self.scale
        self.ty = torch.as_tensor(self.y)

    def _res(self, p):
        vals = dict(self.tdata)
        for k, s in enumerate(self.params):
            vals[s] = p[k]
        return (evaluate_torch(self.template, vals) / self.scale).expand_as(self.ty) - self.ty

    def loss(self, p):
        with torch.no_grad():
            r = self._res(torch.as_tensor(p))
        v = float((r * r).mean())
        return v if np.isfinite(v) else np.inf

    def jacobian(self, p):
        p = torch.as_tensor(p)
        return self._res(p).detach().numpy(), torch.func.jacfwd(self._res)(p).detach().numpy()


def run(problem_class, template, params, p0, data, y, repeats=3):
    orig = constants._Problem
    constants._Problem = problem_class
    try:
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            p, rmse = constants.refit_constants(template, params, p0, data, y, steps=60)
            best = min(best, time.perf_counter() - t0)
    finally:
        constants._Problem = orig
    return best, rmse


def main():
    rng = np.random.default_rng(0)
    total_new = total_old = 0.0
    print(f"{'formula':58s} {'torch s':>8s} {'numpy s':>8s} {'ratio':>6s}  rmse torch / numpy")
    for text, law in CASES:
        expr = parse_expression(text)
        truth = parse_expression(law)
        syms = sorted(truth.free_symbols | expr.free_symbols, key=str)
        data = {s: rng.uniform(1.0, 2.0, ROWS) for s in syms}
        from kanstudio.symbolic import evaluate_numpy
        y = evaluate_numpy(truth, data)
        template, params, p0 = constants.parametrize(expr)
        t_old, r_old = run(TorchProblem, template, params, p0, data, y)
        t_new, r_new = run(constants._Problem, template, params, p0, data, y)
        total_old += t_old
        total_new += t_new
        print(f"{text[:58]:58s} {t_old:8.3f} {t_new:8.3f} {t_old / t_new:6.1f}  {r_old:.2e} / {r_new:.2e}")
    print(f"{'total':58s} {total_old:8.3f} {total_new:8.3f} {total_old / total_new:6.1f}")


if __name__ == "__main__":
    main()
