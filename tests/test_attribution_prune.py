"""Attribution scores and pruning (science/attribution.py, science/prune.py)."""
import numpy as np
import pytest
import torch

from kanstudio.science import attribution
from kanstudio.science.attribution import attribution_scores
from kanstudio.science import prune
from kanstudio.model.network import KAN
from kanstudio.training.loop import fit


def _data(n=300, n_in=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, n_in, generator=g, dtype=torch.float64) * 2 - 1


@pytest.fixture(scope="module")
def trained_unused_input():
    """[3,2,1] trained on y = sin(2 x1) + x2^2: x3 is unused."""
    x = _data(150, 3)
    y = (torch.sin(2 * x[:, 0]) + x[:, 1] ** 2)[:, None]
    y = (y - y.mean()) / y.std()
    model = KAN([3, 2, 1], grid=5, seed=0)
    fit(model, x, y, steps=20, lamb=1e-2)
    return model, x


def test_scores_shapes_and_output_normalisation():
    model = KAN([2, [3, 2], 2], seed=1)
    x = _data(64)
    edges, nodes = attribution_scores(model, x)
    assert [e.shape for e in edges] == [(2, 7), (5, 2)]
    assert [n.shape for n in nodes] == [(2,), (5,), (2,)]
    np.testing.assert_allclose(nodes[-1], [0.5, 0.5])
    for e, n in zip(edges, nodes[:-1]):
        np.testing.assert_allclose(e.sum(1), n)       # node score = sum of its outgoing edge scores
    assert all(isinstance(e, np.ndarray) for e in attribution.activation_scores(model, x))
    assert attribution.connection_cost(model, x) >= 0


def test_mult_node_score_reaches_both_operands():
    model = KAN([2, [0, 1], 1], seed=0)
    x = _data(128)
    edges = attribution.edge_scores(model, x)
    assert edges[0].shape == (2, 2)
    assert (edges[0].sum(0) > 0).all()   # each operand subnode inherited the mult node's score


def test_activation_score_matches_definition():
    model = KAN([2, 3, 1], seed=2)
    x = _data(100)
    model.forward(x, cache=True)
    ev = model.cache.edges[0].edges
    expected = ev.detach().std(0, unbiased=False) / (x.std(0, unbiased=False)[:, None] + 0.1)
    np.testing.assert_allclose(attribution.activation_scores(model, x)[0], expected.numpy(), rtol=1e-12)


def test_unused_input_has_low_score_and_its_edges_are_pruned(trained_unused_input):
    model, x = trained_unused_input
    s = attribution.input_scores(model, x)
    assert s[2] < 0.1 * min(s[0], s[1])
    small = prune.auto_prune(model, x)
    assert small.width[0] == [3, 0] and small.input_names == model.input_names
    assert float(small.layers[0].mask[2].sum()) == 0.0        # every edge of x3 masked
    assert small.n_nodes(1) <= model.n_nodes(1)
    with torch.no_grad():
        err = (small(x) - model(x)).pow(2).mean().sqrt()
    assert float(err) < 0.1                                   # pruning kept the function


def test_removing_dead_nodes_keeps_outputs_exactly():
    model = KAN([2, [3, 2], 1], seed=3)
    x = _data(200)
    model.fix_symbolic(0, 0, 0, "sin", (2.0, 0.1, 1.5, 0.0))
    for node in (1, 4):                      # a sum node and a mult node: mask what they feed
        for j in range(model.layers[1].out_dim):
            model.set_edge_mask(1, node, j, 0.0)
    with torch.no_grad():
        before = model(x)
    small = prune.prune_nodes(model, [[0, 1], [0, 2, 3], [0]], x)
    assert small.width == [[2, 0], [2, 1], [1, 0]]
    assert small.mult_arity[1] == [2]
    assert small.layers[0].symbolic_name(0, 0) == "sin"
    with torch.no_grad():
        after = small(x)
    assert float((before - after).abs().max()) < 1e-12


def test_prune_node_and_input():
    model = KAN([3, 4, 1], seed=4)
    x = _data(100, 3)
    for j in range(4):
        model.set_edge_mask(0, 1, j, 0.0)
    with torch.no_grad():
        before = model(x)
    no_input = prune.prune_input(model, 1)
    assert no_input.width[0] == [2, 0]
    assert no_input.input_names == ["x1", "x3"]
    with torch.no_grad():
        assert float((no_input(x[:, [0, 2]]) - before).abs().max()) < 1e-12
    fewer = prune.prune_node(model, 1, 2, x)
    assert fewer.width[1] == [3, 0]
    with pytest.raises(ValueError):
        prune.prune_node(model, 0, 0)
    prune.prune_edge(model, 1, 0, 0)
    assert float(model.layers[1].mask[0, 0]) == 0.0


def test_masked_edge_mean_is_folded_into_bias():
    model = KAN([2, 3, 1], seed=5)
    x = _data(200)
    model.fix_symbolic(0, 1, 2, "x", (1.0, 0.0, 0.0, 0.7))       # a constant edge (score 0)
    with torch.no_grad():
        before = model(x)
    n = prune.prune_edges_below(model, x, edge_th=1e-9)
    assert n >= 1 and float(model.layers[0].mask[1, 2]) == 0.0
    with torch.no_grad():
        assert float((model(x) - before).abs().max()) < 1e-12


def _one_node_case(law, seed=0):
    """The loop's first steps on ``law`` over [-1, 1]^2, 1000 rows (800 to fit,
    200 held out), targets standardised: a [2,5,1] network fitted with the
    penalty, then pruned by attribution."""
    from kanstudio.training.config import FitConfig
    x = _data(1000, 2, seed)
    y = law(x[:, 0], x[:, 1])[:, None]
    y = (y - y.mean()) / y.std()
    model = KAN([2, 5, 1], grid=5, seed=seed)
    fit(model, x[:800], y[:800], steps=50, lamb=1e-2)
    model = prune.auto_prune(model, x[:800])
    cfg = FitConfig(steps=50, lamb=0.0, update_grid=True, seed=seed)
    return model, x, y, cfg


def test_one_hidden_node_replaces_two_when_the_law_is_a_composition():
    # sqrt(1 + p^2 + q^2) = g(h(p) + k(q)): one node is the law's structure
    model, x, y, cfg = _one_node_case(lambda p, q: torch.sqrt(1 + p ** 2 + q ** 2))
    assert model.width[1][0] >= 2               # the penalised fit kept several nodes
    before = model.width
    one, info = prune.one_hidden_node(model, x[:800], y[:800], x[800:], y[800:], cfg)
    assert one is not None and one.width[1] == [1, 0], info
    assert info["rmse_one"] < 1e-2 * info["rmse_kept"]
    assert model.width == before                # the network given is left as it was


def test_one_hidden_node_is_refused_when_two_nodes_are_needed():
    # q*(p + q): neither g(phi(p) + psi(q)) nor g(phi(p) * psi(q)) for any functions
    # (the ratio of its partial derivatives, q/(p + 2q), does not factor)
    model, x, y, cfg = _one_node_case(lambda p, q: q * (p + q))
    assert model.width[1][0] >= 2
    one, info = prune.one_hidden_node(model, x[:800], y[:800], x[800:], y[800:], cfg)
    assert one is None and info["rmse_one"] > prune.ONE_NODE_TOLERANCE * info["rmse_kept"], info


@pytest.mark.parametrize("law", [lambda p, q: p * q, lambda p, q: p * torch.sin(2 * q)])
def test_one_multiplication_node_replaces_two_when_the_law_is_a_product(law):
    # p*q = ((p+q)^2 - (p-q)^2)/4 takes two sum nodes, or one multiplication node
    model, x, y, cfg = _one_node_case(law)
    assert model.width[1][0] >= 2
    one, info = prune.one_hidden_node(model, x[:800], y[:800], x[800:], y[800:], cfg)
    assert one is not None and info["kind"] == "product" and one.width[1] == [0, 1], info
    assert info["rmse_one"] < info["rmse_kept"]          # fewer edges, and closer: the law's structure


def test_auto_prune_records_the_one_node_test_and_old_projects_replay_without_it():
    from kanstudio.data import Dataset
    from kanstudio.project import FitModel, Project
    from kanstudio.project.commands_edges import AutoPrune
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (600, 2))
    # p*(p + q) keeps two hidden nodes through pruning, and one cannot replace them
    ds = Dataset.from_arrays(X, X[:, :1] * (X[:, :1] + X[:, 1:]), ["p", "q"], ["out"])
    p = Project(dataset=ds)
    p.settings["width"] = "2,2,1"
    p.do(FitModel())
    cmd = p.do(AutoPrune())
    merged = cmd.summary["one_node"]
    assert merged is not None and merged["hidden_nodes"] == 2 and merged["used"] is False, cmd.summary
    assert merged["rmse_one"] > merged["rmse_kept"] and p.model.width[1] == [2, 0]
    assert "one hidden node" not in cmd.label
    old = AutoPrune.from_json({"type": "auto_prune", "node_th": 0.01, "edge_th": 0.03})
    assert old.one_node is False and AutoPrune.from_json(cmd.to_json()).one_node is True
    assert old.product_node is False and AutoPrune.from_json(cmd.to_json()).product_node is True
    # q*(p^2 + 1): one multiplication node does the work of two, and the History says so
    ds = Dataset.from_arrays(X, X[:, 1:] * (X[:, :1] ** 2 + 1), ["p", "q"], ["out"])
    p = Project(dataset=ds)
    p.settings["width"] = "2,2,1"
    p.do(FitModel())
    cmd = p.do(AutoPrune())
    assert cmd.summary["one_node"]["kind"] == "product" and p.model.width[1] == [0, 1]
    assert "one multiplication node does the work of 2" in cmd.label
