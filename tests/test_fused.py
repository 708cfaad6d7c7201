"""The compiled loss-and-gradient (training/fused/__init__.py + kernels.py) against
autograd on the same network: values, gradients, and whole fits."""
import math

import numpy as np
import pytest
import torch

from kanstudio.training import fused
from kanstudio import kernels
from kanstudio.training import loop as train
from kanstudio.model.network import KAN

pytestmark = pytest.mark.skipif(not kernels.available(), reason="compiled kernels unavailable (numba missing, or KANSTUDIO_NO_NUMBA set)")


def _autograd(m, x, y, lamb, params):
    for p in params:
        p.grad = None
    if lamb:
        pred, inputs, spreads = m.forward_with_spread(x)
        loss = torch.mean((pred - y) ** 2) + lamb * train.regularization(spreads, inputs)
    else:
        loss = torch.mean((m(x) - y) ** 2)
    loss.backward()
    g = torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype)
                   for p in params])
    return float(loss.detach()), g.numpy()


def _network(width, dtype="float64", affine=False, B=300, seed=1, spread=1.0):
    gen = torch.Generator().manual_seed(seed)
    m = KAN(width, grid=5, seed=0, dtype=dtype, affine_trainable=affine)
    n_in = m.n_inputs
    x = ((torch.rand(B, n_in, generator=gen) * 2 - 1) * spread).to(m.dtype)
    y = torch.sin(x.sum(1, keepdim=True)).repeat(1, m.n_outputs).to(m.dtype)
    m.update_grid_from_samples(x)
    with torch.no_grad():          # move away from the initial curves so every term matters
        for layer in m.layers:
            layer.scale_base.add_(0.1)
            layer.coef.mul_(5)
        if affine:
            for p in m.parameters():
                if p.dim() == 1:
                    p.add_(torch.rand(p.shape, generator=gen, dtype=m.dtype) * 0.3)
    return m, x, y


CASES = [
    ([2, 5, 1], 0.0, "float64", False),
    ([2, 5, 1], 0.002, "float64", False),
    ([3, [3, 2], 2], 0.01, "float64", False),        # multiplication nodes, two outputs
    ([3, [2, 2], 1], 0.01, "float64", True),         # trainable affines
    ([2, 5, 3, 1], 0.002, "float64", False),
    ([4, 12, 9, 1], 0.0, "float64", False),          # wide layers: the dense (BLAS) path
    ([4, [8, 2], 1], 0.0, "float64", True),
]


@pytest.mark.parametrize("width,lamb,dtype,affine", CASES)
def test_loss_and_gradient_match_autograd(width, lamb, dtype, affine):
    m, x, y = _network(width, dtype, affine)
    params = train.trainable_parameters(m)
    ref_loss, ref_grad = _autograd(m, x, y, lamb, params)
    obj = fused.FusedObjective(m, params, lamb=lamb)
    obj.set_batch(x, y)
    loss, grad = obj.evaluate()
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert np.abs(grad - ref_grad).max() <= 1e-10 * np.abs(ref_grad).max()
    loss2, grad2 = obj.evaluate()       # the cached data basis gives the same answer
    assert loss2 == loss and np.array_equal(grad2, grad)


@pytest.mark.parametrize("width", [[2, 5, 1], [4, 12, 9, 1]])
def test_float32_matches_autograd_to_single_precision(width):
    m, x, y = _network(width, "float32")
    params = train.trainable_parameters(m)
    ref_loss, ref_grad = _autograd(m, x, y, 0.002 if width[1] < 8 else 0.0, params)
    obj = fused.FusedObjective(m, params, lamb=0.002 if width[1] < 8 else 0.0)
    obj.set_batch(x, y)
    loss, grad = obj.evaluate()
    assert grad.dtype == np.float32
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert np.abs(grad - ref_grad).max() <= 1e-5 * np.abs(ref_grad).max()


def test_pruned_edges_points_outside_the_grid_and_one_row():
    m, x, y = _network([3, 4, 1], B=200, spread=1.6)       # many points beyond the knots
    x[0, 0], x[1, 1] = 1e6, -1e6
    m.set_edge_mask(0, 1, 2, 0.0)
    m.set_edge_mask(1, 3, 0, 0.0)
    params = train.trainable_parameters(m)
    for xb, yb in ((x, y), (x[:1], y[:1])):
        ref_loss, ref_grad = _autograd(m, xb, yb, 0.01, params)
        obj = fused.FusedObjective(m, params, lamb=0.01)
        obj.set_batch(xb, yb)
        loss, grad = obj.evaluate()
        assert np.isfinite(grad).all()
        assert loss == pytest.approx(ref_loss, rel=1e-10)
        assert np.abs(grad - ref_grad).max() <= 1e-9 * max(np.abs(ref_grad).max(), 1e-12)


def test_rmse_on_other_data_matches_the_model():
    m, x, y = _network([3, 10, 2])
    obj = fused.FusedObjective(m, train.trainable_parameters(m))
    obj.set_batch(x, y)
    x2, y2 = x[:50] * 0.5, y[:50]
    with torch.no_grad():
        ref = math.sqrt(float(torch.mean((m(x2) - y2) ** 2)))
    assert obj.rmse(x2, y2) == pytest.approx(ref, rel=1e-12)


def test_supports_only_what_it_computes():
    m = KAN([2, 3, 1], grid=5, seed=0)
    assert fused.supports(m)
    assert not fused.supports(KAN([2, 3, 1], grid=5, k=2, seed=0))      # kernels are cubic
    m.fix_symbolic(0, 0, 0, "sin")
    assert not fused.supports(m)


def test_fit_uses_the_fused_path_and_agrees_with_autograd(monkeypatch):
    """One L-BFGS step from the same start lands on the same parameters
    with either engine; the default engine calls the fused objective for the
    penalty it computes ("spline"); the "activation" penalty trains with autograd."""
    calls = {"n": 0}
    plain = fused.FusedObjective.evaluate

    def counting(self):
        calls["n"] += 1
        return plain(self)

    monkeypatch.setattr(fused.FusedObjective, "evaluate", counting)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(400, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)
    finals = {}
    for engine in ("auto", "torch"):
        m = KAN([2, 5, 1], grid=5, seed=0)
        res = train.fit(m, x, y, steps=1, lamb=0.001, engine=engine, reg_metric="spline")
        finals[engine] = (torch.cat([p.detach().reshape(-1) for p in m.parameters()]), res.final.train_rmse)
    assert calls["n"] > 5
    before = calls["n"]
    train.fit(KAN([2, 5, 1], grid=5, seed=0), x, y, steps=1, lamb=0.001, reg_metric="activation")
    assert calls["n"] == before
    assert torch.allclose(finals["auto"][0], finals["torch"][0], rtol=1e-6, atol=1e-8)
    assert finals["auto"][1] == pytest.approx(finals["torch"][1], rel=1e-6)


def test_adam_steps_agree_across_engines():
    x, y = torch.rand(300, 3, dtype=torch.float64), torch.rand(300, 1, dtype=torch.float64)
    out = []
    for engine in ("auto", "torch"):
        m = KAN([3, 9, 1], grid=5, seed=0)
        train.fit(m, x, y, steps=5, optimizer="adam", update_grid=False, engine=engine)
        out.append(torch.cat([p.detach().reshape(-1) for p in m.parameters()]))
    assert torch.allclose(out[0], out[1], rtol=1e-9, atol=1e-12)


def test_minibatch_fit_with_the_fused_path_learns():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2000, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = x[:, :1] * x[:, 1:]
    start = math.sqrt(float(torch.mean(y ** 2)))
    m = KAN([2, [0, 1], 1], grid=5, seed=0)           # one multiplication node
    res = train.fit(m, x, y, steps=30, batch_size=500)
    assert res.final.train_rmse < 0.02 * start        # 3.4e-3 here (autograd: 3.7e-3)


@pytest.mark.parametrize("width,lamb,dtype", [([3, 4, 1], 0.0, "float64"), ([3, 10, 2], 0.0, "float64"),
                                              ([3, 10, 1], 0.0, "float32"), ([3, 4, 1], 0.01, "float64")])
def test_uniform_grids_match_autograd(width, lamb, dtype):
    """Before any grid update the knots are uniform: the closed-form basis path."""
    gen = torch.Generator().manual_seed(3)
    m = KAN(width, grid=6, seed=0, dtype=dtype)
    assert all(layer.tables().uniform for layer in m.layers)
    x = ((torch.rand(250, width[0], generator=gen) * 2.6 - 1.3)).to(m.dtype)   # some beyond the knots
    y = torch.cos(x.sum(1, keepdim=True)).repeat(1, m.n_outputs)
    with torch.no_grad():
        for layer in m.layers:
            layer.coef.mul_(5)
            layer.scale_base.add_(0.2)
    params = train.trainable_parameters(m)
    ref_loss, ref_grad = _autograd(m, x, y, lamb, params)
    obj = fused.FusedObjective(m, params, lamb=lamb)
    obj.set_batch(x, y)
    loss, grad = obj.evaluate()
    tol = 1e-10 if dtype == "float64" else 1e-5
    assert loss == pytest.approx(ref_loss, rel=tol)
    assert np.abs(grad - ref_grad).max() <= tol * np.abs(ref_grad).max()


@pytest.mark.parametrize("width,update,affine", [([4, 12, 9, 1], True, False), ([3, 10, 1], False, False),
                                                 ([3, [3, 2], 2], True, True), ([3, 10, 9, 8, 2], False, False),
                                                 ([3, 10, 4, 10, 1], False, False)])
def test_big_batches_run_in_chunks_and_match_autograd(width, update, affine):
    """Batches of more than two chunks run chunk by chunk (scratch arrays
    that stay in cache): loss, gradient, RMSE and inference are unchanged,
    including a last, shorter chunk."""
    m, x, y = _network(width, affine=affine, B=1100) if update else _network(width, B=1100)
    if not update:
        m = KAN(width, grid=5, seed=0)           # uniform knots: the closed-form basis path
    params = train.trainable_parameters(m)
    ref_loss, ref_grad = _autograd(m, x, y, 0.0, params)
    obj = fused.FusedObjective(m, params)
    obj._chunk = 256                              # 5 chunks of 220
    assert obj._chunk_rows(x.shape[0]) == 256
    obj.set_batch(x, y)
    for _ in range(2):                            # the second call reuses the chunks' scratch arrays
        loss, grad = obj.evaluate()
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        assert np.abs(grad - ref_grad).max() <= 1e-10 * np.abs(ref_grad).max()
    ref = m(x).detach()
    assert obj.rmse(x, y) == pytest.approx(float(torch.sqrt(torch.mean((ref - y) ** 2))), rel=1e-10)
    assert np.allclose(obj.predict(x.numpy()), ref.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("width,update", [([4, 12, 9, 1], False), ([3, [3, 2], 2], True), ([4, 3, 12, 1], True)])
def test_chunks_split_over_threads_give_the_one_thread_result(width, update, monkeypatch):
    """With several threads allowed, an evaluation's chunks (and inference's)
    run on several threads, each with its own scratch space and sums: the
    loss, gradient and output are those of one thread, call after call."""
    from kanstudio.training.fused import workers
    m, x, y = _network(width, B=1100) if update else (KAN(width, grid=5, seed=0), *_network(width, B=1100)[1:])
    params = train.trainable_parameters(m)
    obj = fused.FusedObjective(m, params)
    obj._chunk = 256                              # 5 chunks of 220 (3 threads: 2 each, of 183 or 184)
    obj.set_batch(x, y)
    monkeypatch.setattr(workers, "thread_count", lambda: 1)
    loss1, grad1 = obj.evaluate()
    pred1 = obj.predict(x.numpy().copy())
    ran_on = set()
    pass_chunks = obj._run_pass

    def spy(worker, *args):
        import threading
        ran_on.add((worker, threading.get_ident() == threading.main_thread().ident))
        return pass_chunks(worker, *args)
    monkeypatch.setattr(obj, "_run_pass", spy)
    monkeypatch.setattr(workers, "thread_count", lambda: 3)
    for _ in range(2):                            # the second call reuses each thread's scratch arrays
        loss3, grad3 = obj.evaluate()
        assert loss3 == pytest.approx(loss1, rel=1e-13)
        assert np.abs(grad3 - grad1).max() <= 1e-12 * np.abs(grad1).max()
    # each run on its own slot, slot 0 on this thread, the others on the pool's
    # (which may hand two short runs to one pool thread, if it is free first)
    assert ran_on == {(0, True), (1, False), (2, False)}
    assert np.allclose(obj.predict(x.numpy().copy()), pred1, rtol=1e-13, atol=1e-14)
    assert obj.rmse(x, y) == pytest.approx(math.sqrt(float(np.mean((pred1 - y.numpy()) ** 2))), rel=1e-12)


def test_a_batch_splits_over_threads_only_where_each_share_pays(monkeypatch):
    """With two threads, a batch smaller than two chunks still runs on both
    once each thread's share has enough work (THREAD_MIN_BYTES of basis),
    in runs of at most one chunk's rows; a smaller batch runs whole on one
    thread, and with one thread allowed the batch is cut only into chunks."""
    from kanstudio.training.fused import workers
    m, x, y = _network([4, 12, 9, 1], B=1100)
    obj = fused.FusedObjective(m, train.trainable_parameters(m))
    obj.set_batch(x, y)
    obj._chunk, obj._thread_min = 1000, 400
    monkeypatch.setattr(workers, "thread_count", lambda: 2)
    assert obj._chunk_rows(1100) == 550                       # two shares of 550, one chunk each
    assert [len(run) for run in obj._runs(1100, 550)] == [1, 1]
    assert obj._chunk_rows(700) == 700                        # shares of 350: one thread, whole
    assert obj._chunk_rows(5000) == 1000                      # two runs of 2500, in chunks of 1000 or less
    assert [sum(r.stop - r.start for r in run) for run in obj._runs(5000, 1000)] == [2500, 2500]
    ran_on = set()
    run_pass = obj._run_pass
    monkeypatch.setattr(obj, "_run_pass", lambda k, run: ran_on.add(k) or run_pass(k, run))
    loss2, grad2 = obj.evaluate()
    assert ran_on == {0, 1}
    monkeypatch.setattr(workers, "thread_count", lambda: 1)
    assert obj._chunk_rows(1100) == 1100 and obj._chunk_rows(2500) == 1000
    loss1, grad1 = obj.evaluate()                             # (whole: the same sums)
    assert loss2 == pytest.approx(loss1, rel=1e-13)
    assert np.abs(grad2 - grad1).max() <= 1e-12 * np.abs(grad1).max()


def test_chunk_threads_run_their_products_on_one_blas_thread(monkeypatch):
    """OpenMP's thread count (MKL follows it) is per thread: a fresh pool
    thread must not start a BLAS team of its own while the chunks run."""
    import ctypes
    from kanstudio.training.fused import workers
    # torch's own libgomp: another package (scikit-learn, under pyoperon) may load its own copy
    gomp = sorted({p for p in open("/proc/self/maps").read().split() if "libgomp" in p},
                  key=lambda p: "torch" not in p)
    if not gomp:
        pytest.skip("torch is not built with GNU OpenMP here")
    omp = ctypes.CDLL(gomp[0])
    monkeypatch.setattr(workers, "_POOL", None)          # fresh threads, at the process default
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = workers.run_parts(lambda k, part: omp.omp_get_max_threads(), [[0], [1], [2]])
        assert seen == [1, 1, 1]
        assert torch.get_num_threads() == 2                # restored after the phase
    finally:
        torch.set_num_threads(n)


def test_a_failing_chunk_thread_fails_the_evaluation_after_the_others_end():
    from kanstudio.training.fused import workers
    ended = []

    def work(k, part):
        if k == 1:
            raise ValueError("chunk 1 failed")
        ended.append(k)
        return k
    with pytest.raises(ValueError, match="chunk 1 failed"):
        workers.run_parts(work, [[0], [1], [2]])
    assert sorted(ended) == [0, 2]
    assert workers.run_parts(lambda k, part: sum(part), [[1, 2], [3]]) == [3, 3]


@pytest.mark.parametrize("width,update", [([3, [3, 2], 2], True), ([4, 12, 9, 1], False), ([4, 12, 9, 1], True)])
def test_inference_forward_matches_the_torch_forward(width, update):
    """model(x) under no_grad runs the kernels (every grid mode); it equals
    the autograd forward."""
    m, x, y = _network(width) if update else (KAN(width, grid=5, seed=0), torch.rand(200, width[0],
                                                                              dtype=torch.float64) * 2 - 1, None)
    ref = m(x).detach()                      # grad enabled: the torch path
    with torch.no_grad():
        assert fused.predict(m, x) is not None
        out = m(x)
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-13)
    m.fix_symbolic(0, 0, 0, "sin")           # not supported: falls back to torch
    with torch.no_grad():
        assert fused.predict(m, x) is None
        assert torch.isfinite(m(x)).all()


def test_the_objective_kept_between_fits_follows_edits():
    """A model's next fit reuses its objective (scratch space, data basis);
    edits in between (a pruned edge, a refined grid, an edited affine) must
    show, exactly as in a fresh objective."""
    m, x, y = _network([3, 4, 1])
    train.fit(m, x, y, steps=2, lamb=0.001)
    for edit in (lambda: m.set_edge_mask(0, 0, 1, 0.0), lambda: m.refine(8, x),
                 lambda: m.node_scale[0].data.fill_(1.5)):
        edit()
        params = train.trainable_parameters(m)
        kept = fused.objective_for(m, params, 0.001)
        kept.set_batch(x, y)
        fresh = fused.FusedObjective(m, params, lamb=0.001)
        fresh.set_batch(x, y)
        (l1, g1), (l2, g2) = kept.evaluate(), fresh.evaluate()
        assert l1 == l2 and np.array_equal(g1, g2)
        train.fit(m, x, y, steps=1, lamb=0.001)
    assert fused.objective_for(m, train.trainable_parameters(m), 0.001) is kept


def test_compiled_basis_matches_the_table_path():
    """spline.bspline_basis uses the kernel for cubic CPU inputs without
    gradient: same values as the torch path, at knots, outside them, at +-inf;
    NaN stays NaN."""
    from kanstudio.model import spline
    gen = torch.Generator().manual_seed(2)
    for dtype in (torch.float64, torch.float32):
        grid = spline.grid_from_samples(torch.randn(200, 3, generator=gen, dtype=torch.float64), 6, 3).to(dtype)
        tab = spline.knot_tables(grid, 3)
        x = (torch.randn(300, 3, generator=gen, dtype=torch.float64) * 2).to(dtype)
        x[:10] = grid[:, 3:13].T                       # exactly on knots
        x[10, 0], x[11, 1] = float("inf"), -float("inf")
        ref = spline.basis_t(x.T.contiguous(), tab).permute(2, 0, 1)
        out = spline.bspline_basis(x, grid, 3, tab)
        tol = 1e-13 if dtype == torch.float64 else 1e-6
        assert torch.allclose(out, ref, atol=tol, rtol=0)
        x[12, 2] = float("nan")
        assert torch.isnan(spline.bspline_basis(x, grid, 3, tab)[12, 2]).any()


def test_kernels_that_fail_to_build_switch_to_autograd(monkeypatch):
    """A numba/LLVM failure at the first compile must not reach the user:
    the probe warns, the kernels are switched off, training uses autograd."""
    monkeypatch.setattr(fused, "_KERNELS_OK", {})
    monkeypatch.setattr(kernels, "_HAVE_NUMBA", True)

    def broken(*a, **k):
        raise RuntimeError("LLVM ERROR: simulated")

    monkeypatch.setattr(kernels, "layer_forward", broken)
    monkeypatch.setattr(kernels, "dense_basis", broken)
    with pytest.warns(UserWarning, match="unavailable"):
        assert not fused.supports(KAN([2, 3, 1], grid=5, seed=0))
    assert not kernels.available()
    assert not fused.supports(KAN([2, 3, 1], grid=5, seed=0, dtype="float32"))    # off for every dtype
    x = torch.rand(50, 2, dtype=torch.float64)
    res = train.fit(KAN([2, 3, 1], grid=5, seed=0), x, x[:, :1], steps=2)
    assert res.reason == "completed"


def test_a_fit_waits_only_for_its_own_dtypes_kernels(monkeypatch):
    """The first fit in a process builds the kernels of its dtype alone (a
    one-off float64 fit does not wait for the float32 build), and while a
    dtype's build runs, fits in it take autograd instead of waiting."""
    probed, during = [], []
    m64, m32 = KAN([2, 3, 1], grid=5, seed=0), KAN([2, 3, 1], grid=5, seed=0, dtype="float32")

    def probe(dtype):
        probed.append(dtype)
        during.append(fused.supports(m64 if dtype == "float64" else m32))
        return True

    monkeypatch.setattr(fused, "_KERNELS_OK", {})
    monkeypatch.setattr(fused, "_probe", probe)
    assert fused.supports(m64) and probed == ["float64"]
    assert fused.supports(m64) and probed == ["float64"]          # once
    assert fused.supports(m32) and probed == ["float64", "float32"]
    assert during == [False, False]
    assert fused.warm_up() and len(probed) == 2


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_compiled_knot_tables_match_torch(k):
    """The knot tables (polynomial pieces of every basis function) from the
    kernel equal the torch construction, on uniform, adapted and
    coincident-knot grids."""
    from kanstudio.model import spline
    gen = torch.Generator().manual_seed(k)
    grids = [spline.uniform_grid(3, 6, k, dtype=torch.float64),
             spline.grid_from_samples(torch.randn(300, 3, generator=gen, dtype=torch.float64), 7, k)]
    g = grids[1].clone()
    g[0, k + 2] = g[0, k + 3]                       # a zero-length interval
    grids.append(g)
    for grid in grids:
        ref = spline._piece_table(grid, k)
        out = spline._piece_table_any(grid, k)
        assert torch.allclose(out, ref, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("width,lamb", [([2, 5, 1], 0.0), ([2, 5, 1], 0.002), ([4, 12, 9, 1], 0.0)])
def test_parameters_left_out_get_no_gradient_and_the_rest_match(width, lamb):
    """Only the optimiser's parameters are in the flat gradient (a frozen
    first layer here); theirs still equal autograd's."""
    m, x, y = _network(width)
    frozen = {id(p) for p in (m.layers[0].coef, m.layers[0].scale_sp, m.layers[-1].scale_base)}
    params = [p for p in train.trainable_parameters(m) if id(p) not in frozen]
    ref_loss, ref_grad = _autograd(m, x, y, lamb, params)
    obj = fused.FusedObjective(m, params, lamb=lamb)
    obj.set_batch(x, y)
    loss, grad = obj.evaluate()
    assert grad.shape == ref_grad.shape
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert np.abs(grad - ref_grad).max() <= 1e-10 * np.abs(ref_grad).max()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_uniform_grid_floor_agrees_with_the_knot_count(dtype):
    """On uniform knots the edge kernels find a sample's interval with a
    floor instead of counting knots; next to a knot the two may pick
    neighbouring intervals, which must give the same value (the spline is
    continuous), and NaN must still come out NaN."""
    m = KAN([2, 3], grid=5, seed=0, dtype=dtype)
    layer = m.layers[0]
    with torch.no_grad():
        layer.coef.normal_(generator=torch.Generator().manual_seed(0))
    tab = layer.tables()
    assert tab.uniform
    knots = tab.knots.numpy()
    np_dt = knots.dtype
    eps = np.finfo(np_dt).eps
    cols = [np.concatenate([k, k * (1 + eps), k * (1 - eps), k + eps, k - eps, [-50, 50, -np.inf, np.inf, np.nan]])
            for k in knots]
    X = np.ascontiguousarray(np.stack(cols, 1).astype(np_dt))
    B = X.shape[0]
    SILU = np.zeros_like(X)              # (the base part is off: wb = 0)
    coef = layer.coef.detach().numpy()
    A = np.empty((2, tab.rows.shape[1], 4, 3), dtype=np_dt)
    kernels.edge_polys(tab.rows.numpy(), coef, A)
    wb = np.zeros((2, 3), dtype=np_dt)
    ws = np.ones((2, 3), dtype=np_dt)
    out = {}
    for name, start, inv_h in (("floor", tab.start.reshape(-1).numpy(), tab.inv_h.reshape(-1).numpy()),
                               ("count", knots[:0, 0], knots[:0, 0])):
        Y = np.empty((B, 3), dtype=np_dt)
        pos, u = np.empty((2, B), dtype=np.int32), np.empty((2, B), dtype=np_dt)
        e = np.zeros((0, 0))
        kernels.layer_forward(X, SILU, knots, tab.rows.numpy(), start, inv_h, A, wb, ws, Y, pos, u,
                              False, False, e, e, e)
        out[name] = Y
    nan = np.isnan(X).any(1)
    assert np.isnan(out["floor"][nan]).all() and np.isnan(out["count"][nan]).all()
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert np.abs(out["floor"][~nan] - out["count"][~nan]).max() <= tol * np.abs(out["count"][~nan]).max()


def test_a_kept_objective_goes_with_its_model():
    """Objectives are kept between fits per model; when the model goes, its
    objective and scratch space must go too (they were once kept for ever)."""
    import gc
    import weakref
    m = KAN([2, 5, 1], grid=5, seed=0)
    x = torch.rand(100, 2, dtype=torch.float64)
    train.fit(m, x, x[:, :1], steps=2)
    obj = weakref.ref(fused._KEPT[m])
    del m
    gc.collect()
    assert obj() is None


def test_full_width_vectors_on_avx512_hosts_and_a_users_setting_wins():
    """kernels.py asks numba for 512-bit vectors where the CPU has them (and
    does not clock down on them); a NUMBA_CPU_FEATURES the user set is kept."""
    import os
    from kanstudio.kernels import numba_config
    import subprocess
    import sys
    import llvmlite.binding as llvm
    code = "import os, kanstudio.kernels; print(os.environ.get('NUMBA_CPU_FEATURES', ''))"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_FEATURES"}
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    wide = bool(llvm.get_host_cpu_features().get("avx512f")) and llvm.get_host_cpu_name() not in numba_config.NARROW_AVX512
    assert got.endswith(",-prefer-256-bit") == wide
    env["NUMBA_CPU_FEATURES"] = "+sse2"
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert got == "+sse2"


@pytest.mark.parametrize("width,affine,chunk", [([3, 10, 9, 1], False, None), ([3, 10, 9, 1], False, 256),
                                                ([3, 10, 9, 1], True, 256), ([3, [8, 2], 1], False, 256)])
def test_single_output_layers_in_closed_form_match_autograd(width, affine, chunk):
    """A last layer with one output on uniform knots runs in closed form
    (kernels.uniform_out1_*), fed feature-major by a uniform layer before it
    (or, behind affines or multiplication nodes, transposed): loss,
    gradient and inference equal autograd's, inputs beyond the knots included."""
    gen = torch.Generator().manual_seed(4)
    m = KAN(width, grid=5, seed=0, affine_trainable=affine)
    x = (torch.rand(1100, 3, generator=gen, dtype=torch.float64) * 2.6 - 1.3)
    y = torch.cos(x.sum(1, keepdim=True))
    with torch.no_grad():
        for layer in m.layers:
            layer.coef.mul_(5)
            layer.scale_base.add_(0.2)
        if affine:
            for p in m.subnode_scale:
                p.mul_(1.3)
    params = train.trainable_parameters(m)
    ref_loss, ref_grad = _autograd(m, x, y, 0.0, params)
    obj = fused.FusedObjective(m, params)
    modes = [obj._mode(L, False) for L in obj.layers]
    assert modes[-1] == "out1"
    handoff = obj._hands_feature_major(obj.layers[-2], modes[-2], modes[-1])
    assert handoff == (len(width) == 4 and not affine)
    if chunk:
        obj._chunk = chunk
    obj.set_batch(x, y)
    loss, grad = obj.evaluate()
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert np.abs(grad - ref_grad).max() <= 1e-10 * np.abs(ref_grad).max()
    assert np.allclose(obj.predict(x.numpy()), m(x).detach().numpy(), rtol=1e-12, atol=1e-13)
