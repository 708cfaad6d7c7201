"""Low-rank splits (discovery/low_rank.py): a two-input law that is a short sum
of products of one-variable pieces, in y or in 1/y, is read as such."""
import numpy as np
import sympy

from kanstudio.discovery import hypotheses
from kanstudio.discovery.clock import Clock
from kanstudio.discovery.config import DiscoverConfig
from kanstudio.discovery.context import Context
from kanstudio.discovery.low_rank import low_rank_split, rank_of
from kanstudio.discovery.search import OperonEngine
from kanstudio.symbolic.formula import input_symbols


def _grid(f, n=24):
    a, t = np.meshgrid(np.linspace(0.1, 0.8, n), np.linspace(-3, 3, n), indexing="ij")
    return f(a, t)


def test_the_rank_of_a_table_of_values_names_the_number_of_pieces():
    law = _grid(lambda a, t: (1 - a ** 2) / (1 + a * np.cos(t)))
    # 1/y = 1/(1 - a^2) + a/(1 - a^2) * cos t: two products
    assert rank_of(1.0 / law, 1e-6)[0] == 2
    # y itself is not a short sum of products, nor is a narrow ridge along a = t/3
    assert rank_of(law, 1e-6)[0] == 0
    assert rank_of(_grid(lambda a, t: 1 / (1 + 100 * (a - t / 3) ** 2)), 1e-3)[0] == 0
    # a product is rank 1 (a separability split's case, left to it)
    assert rank_of(_grid(lambda a, t: np.exp(a) * np.cos(t)), 1e-9)[0] == 1


def test_a_law_of_rank_two_in_one_over_y_is_found_from_a_stand_in_and_the_rows():
    """(1 - a^2)/(1 + a cos t): no separability split, no symmetry; a stand-in
    for f a few 1e-4 off still shows rank 2 in 1/y, names the pieces in t (1 and
    cos t), and the pieces in a are read off the rows to their own accuracy."""
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(0.1, 0.8, 800), rng.uniform(-3, 3, 800)])

    def law(Z):
        return (1 - Z[:, 0] ** 2) / (1 + Z[:, 0] * np.cos(Z[:, 1]))
    y = law(X)
    names = ["a", "t"]
    cfg = DiscoverConfig(budget_seconds=40, threads=1)
    ctx = Context(cfg, Clock(40, None, None), X[:640], y[:640], X[640:], y[640:],
                  input_symbols(names, [True, False]), names, hypotheses.run_all, OperonEngine(threads=1))
    # the stand-in a network would be: the law with a smooth error of 1e-4
    ctx.predict = lambda Z: law(Z) * (1 + 1e-4 * np.sin(7 * Z[:, 0] + Z[:, 1]))
    ctx.has_oracle = lambda: True
    ctx.oracle_rmse = lambda: 1e-4
    ctx.best_net_rmse = 1e-4
    low_rank_split(ctx)
    best = min(ctx.candidates, key=lambda c: c.test_rmse)
    assert best.test_rmse <= 1e-6 * np.std(y), (best.formula, best.test_rmse)
    assert best.stage.startswith("low rank (1/y)")
    a, t = ctx.symbols
    assert any(f.has(t) for f in best.formula.atoms(sympy.cos))
    steps = [s for s in best.derivation if s.kind in ("low rank", "pieces")]
    assert [s.kind for s in steps] == ["low rank", "pieces"] and steps[0].details["rank"] == 2
