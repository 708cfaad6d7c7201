"""Training: a generator of snapshots, so a GUI worker, the CLI and tests all
drive the same loop.  ``fit`` is a thin loop over ``fit_steps``.

Objective = MSE + lamb * R, R = sum over layers of
    mu1 * sum(A) + mu2 * (H_rows + H_cols),
A[i, j] = std_B(edge i->j's numeric activation) / (std_B(x_i) + 0.1)
(FitConfig.reg_metric "activation", the reference's default; "spline"
measures the unscaled spline part alone, with the compiled kernels).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Union

import numpy as np
import torch

from . import fused
from ..model import check_training, KAN
from .adam import FlatAdam
from .flat_params import FlatParams
from .lbfgs import FlatLBFGS
from .config import FitConfig  # noqa: F401  (re-exported)

CancelFlag = Union[None, threading.Event, Callable[[], bool]]


@dataclass
class Snapshot:
    step: int
    total_steps: int
    train_rmse: float
    test_rmse: float
    reg: float
    seconds: float
    done: bool = False
    reason: Optional[str] = None        # "completed" | "cancelled" | "diverged: ..."


@dataclass
class FitResult:
    history: list = field(default_factory=list)
    reason: str = "completed"
    seconds: float = 0.0

    @property
    def final(self) -> Snapshot:
        return self.history[-1]

    @property
    def diverged(self) -> bool:
        return self.reason.startswith("diverged")


class _Cancelled(Exception):
    pass


def regularization(spreads, inputs, lamb_l1=1.0, lamb_entropy=2.0) -> torch.Tensor:
    """L1 + entropy penalty on the per-edge activation spread (see module doc).
    ``spreads[l]`` = std over the batch of each edge's spline part [in, out]
    (KAN.forward_with_spread), ``inputs[l]`` = the layer's input [B, in]."""
    total = 0.0
    for spread, x in zip(spreads, inputs):
        # one row: std 0, as the spread counts it (not 0/0 degrees of freedom = NaN)
        x_std = x.std(0, correction=1 if x.shape[0] > 1 else 0)
        a = spread / (x_std.unsqueeze(-1) + 0.1)                           # [in, out]
        p_row = a / (a.sum(0, keepdim=True) + 1)    # distribution over inputs, per output node
        p_col = a / (a.sum(1, keepdim=True) + 1)    # distribution over outputs, per input node
        h_row = -(p_row * torch.log2(p_row + 1e-4)).sum(0).mean()
        h_col = -(p_col * torch.log2(p_col + 1e-4)).sum(1).mean()
        total = total + lamb_l1 * a.sum() + lamb_entropy * (h_row + h_col)
    return total


def trainable_parameters(model: KAN) -> list:
    """The parameters training may move: those that require grad and take part
    in the forward pass (a layer's symbolic parameters only while it has fixed
    edges), so no optimiser state is spent on, or steps taken along, the rest."""
    out = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.endswith("sym_params"):
            layer = model.layers[int(name.split(".")[1])]
            layer.numeric_weight()
            if not layer._weight_cache[2]:
                continue
        out.append(p)
    return out


def _is_cancelled(cancel: CancelFlag) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def _rmse(model: KAN, x, y) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y) ** 2)))


def fit_steps(model: KAN, x_train: torch.Tensor, y_train: torch.Tensor,
              x_test: Optional[torch.Tensor] = None, y_test: Optional[torch.Tensor] = None,
              config: Optional[FitConfig] = None, cancel: CancelFlag = None) -> Iterator[Snapshot]:
    """Train ``model`` in place, yielding a Snapshot every ``snapshot_every``
    steps and a final one with ``done=True`` and the reason it ended.

    The last snapshot always describes a finite model: a non-finite loss or
    parameter restores the last good state and ends with reason "diverged".
    """
    cfg = config or FitConfig()
    dev, dt = model.device, model.dtype
    x_train, y_train = x_train.to(dev, dt), y_train.to(dev, dt)
    if y_train.ndim == 1:
        y_train = y_train[:, None]
    has_test = x_test is not None and y_test is not None and len(x_test) > 0
    if has_test:
        x_test, y_test = x_test.to(dev, dt), y_test.to(dev, dt)
        if y_test.ndim == 1:
            y_test = y_test[:, None]
    _check_shapes(model, x_train, y_train)
    n = x_train.shape[0]
    batch = n if cfg.batch_size is None or cfg.batch_size <= 0 else min(cfg.batch_size, n)
    # one readable refusal instead of the OS killing the process mid-fit
    check_training(model.width, max(layer.num for layer in model.layers), model.k, batch)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    use_reg = cfg.lamb > 0

    # The compiled loss-and-gradient where it applies (CPU, no symbolic edges):
    # same objective, without autograd's per-operation cost; with it, Adam
    # runs over one flat vector too (adam.py).
    # (they compute the "spline" penalty only: the "activation" one trains with autograd)
    use_fast = (cfg.engine != "torch" and fused.supports(model)
                and not (use_reg and cfg.reg_metric == "activation"))

    def make_optimizer():
        ps = trainable_parameters(model)
        if cfg.optimizer == "adam":
            if use_fast:
                return FlatAdam(ps, lr=cfg.learning_rate)
            try:    # one fused kernel per step where this torch build has it
                return torch.optim.Adam(ps, lr=cfg.learning_rate, fused=True)
            except (RuntimeError, TypeError):
                return torch.optim.Adam(ps, lr=cfg.learning_rate)
        return FlatLBFGS(ps, lr=cfg.learning_rate, max_iter=cfg.lbfgs_max_iter,
                         history_size=cfg.lbfgs_history, tolerance_grad=1e-32, tolerance_change=1e-32)

    opt = make_optimizer()
    flat = isinstance(opt, FlatParams)
    fast = (fused.objective_for(model, opt.params if flat else opt.param_groups[0]["params"],
                                cfg.lamb, cfg.lamb_l1, cfg.lamb_entropy) if use_fast else None)
    good = _save_state(model)
    prev_good = None                  # the state before ``good`` (see the guard below)
    base = None                       # FlatAdam: the full state the flat copies complete
    t0 = time.perf_counter()
    last_reg = 0.0

    def objective(xb, yb):
        if use_reg:
            pred, inputs, spreads = model.forward_with_spread(xb, cfg.reg_metric)
            reg = regularization(spreads, inputs, cfg.lamb_l1, cfg.lamb_entropy)
            mse = torch.mean((pred - yb) ** 2)
            return mse + cfg.lamb * reg, reg, mse
        pred = model(xb)
        mse = torch.mean((pred - yb) ** 2)
        return mse, None, mse

    last_mse = [float("nan")]

    def rmse(x, y) -> float:
        if fast is None:
            return _rmse(model, x, y)
        fast.refresh()                         # a restored state brings back older knots
        return fast.rmse(x, y)

    def snapshot(step, done=False, reason=None, train=None):
        # Intermediate snapshots reuse the loss of the last evaluation on the
        # full batch (an extra forward per step would double Adam's cost);
        # the final one is measured exactly.
        if train is None:
            exact = done or batch < n or not math.isfinite(last_mse[0])
            train = rmse(x_train, y_train) if exact else math.sqrt(max(last_mse[0], 0.0))
        test = rmse(x_test, y_test) if has_test else float("nan")
        return Snapshot(step, cfg.steps, train, test, last_reg, time.perf_counter() - t0, done, reason)

    reason = "completed"
    step = 0
    try:
        for step in range(cfg.steps):
            if _is_cancelled(cancel):
                reason = "cancelled"
                break
            regrid = cfg.update_grid and step % cfg.grid_update_freq == 0 and step < cfg.stop_grid_update_step
            if regrid:
                # The optimiser keeps its state: the curves barely move, and a fresh
                # L-BFGS restarting from steepest descent after each of the 10 updates
                # ends less accurate (mean test RMSE over 5 seeds, hello world).
                model.update_grid_from_samples(x_train, cfg.grid_eps)
            if batch < n:
                idx = torch.randperm(n, generator=gen)[:batch].to(dev)
                xb, yb = x_train[idx], y_train[idx]
            else:
                xb, yb = x_train, y_train
            if fast is not None:
                if regrid:
                    fast.refresh()             # the knots moved (objective_for read the rest)
                if step == 0 or batch < n:
                    fast.set_batch(xb, yb)
            reg_holder = [None]

            def closure():
                if _is_cancelled(cancel):
                    raise _Cancelled
                opt.zero_grad(set_to_none=True)
                loss, reg, mse = objective(xb, yb)
                loss.backward()
                reg_holder[0] = None if reg is None else reg.detach()
                reg_holder.append(mse.detach())
                return loss

            def evaluate():
                if _is_cancelled(cancel):
                    raise _Cancelled
                value, grad = fast.evaluate()
                reg_holder[0] = fast.last_reg
                reg_holder.append(fast.last_mse)
                return value, grad

            try:
                if cfg.optimizer == "lbfgs":
                    loss = opt.step(closure) if fast is None else opt.step(evaluate=evaluate)
                elif fast is None:
                    loss = closure()
                    opt.step()
                else:
                    loss, grad = evaluate()       # (a float: a tensor costs ~50 us here, caches cold)
                    params_ok = opt.step(grad)
            except _Cancelled:
                _load_state(model, good)
                reason = "cancelled"
                break
            # loss = the loss where the step started.  L-BFGS also knows where it
            # ended (a line search that met NaN ends on NaN with finite parameters);
            # Adam does not, so a non-finite start loss condemns the state saved
            # after the previous step too.
            end_loss = opt.last_loss if isinstance(opt, FlatLBFGS) else None
            start_ok = math.isfinite(float(loss.detach()) if torch.is_tensor(loss) else loss)
            bad = (not start_ok or (end_loss is not None and not math.isfinite(end_loss))
                   or not (params_ok if isinstance(opt, FlatAdam) else _all_finite(params)))
            if bad:
                _load_state(model, good if start_ok or prev_good is None else prev_good)
                reason = f"diverged at step {step + 1}: non-finite loss or parameters; restored the last good state"
                break
            if isinstance(opt, FlatAdam):
                # only the parameters (all in opt.x) moved since the last full copy,
                # unless the grid did: then take a new one
                if regrid or base is None:
                    base = _save_state(model)
                prev_good, good = good, _FlatState.of(opt, base, reuse=prev_good)
            else:
                prev_good, good = good, _save_state(model, reuse=prev_good)
            last_mse[0] = float(reg_holder[-1]) if len(reg_holder) > 1 else float("nan")
            if reg_holder[0] is not None:
                last_reg = float(reg_holder[0])
            if (step + 1) % max(1, cfg.snapshot_every) == 0 and step + 1 < cfg.steps:
                yield snapshot(step + 1)
        else:
            step = cfg.steps
        final_train = None
        if not reason.startswith("diverged"):
            final_train = rmse(x_train, y_train)
            if not math.isfinite(final_train):
                # where the last Adam step (or a cancelled one) left the model was never evaluated
                _load_state(model, prev_good if prev_good is not None else good)
                reason = f"diverged at step {step}: non-finite loss; restored the last good state"
                final_train = None
        if flat:
            opt.release()
        if fast is not None and fast.nbytes() > fused.KEEP_BYTES:
            fused.forget(model)                # too big to keep for the next fit
        model.release_caches()                 # what this fit's data left behind; the knot tables stay
        done_step = step if reason != "completed" else cfg.steps
        yield snapshot(done_step, done=True, reason=reason, train=final_train)
    finally:
        if flat:                           # also when the caller stops iterating early
            opt.release()


def fit(model: KAN, x_train, y_train, x_test=None, y_test=None, config: Optional[FitConfig] = None,
        cancel: CancelFlag = None, callback: Optional[Callable[[Snapshot], None]] = None, **kwargs) -> FitResult:
    """Run training to the end; keyword arguments override FitConfig fields."""
    cfg = config or FitConfig(**kwargs)
    if config is not None and kwargs:
        cfg = FitConfig(**{**cfg.__dict__, **kwargs})
    result = FitResult()
    for snap in fit_steps(model, x_train, y_train, x_test, y_test, cfg, cancel):
        result.history.append(snap)
        if callback is not None:
            callback(snap)
    result.reason = result.history[-1].reason or "completed"
    result.seconds = result.history[-1].seconds
    return result


def _check_shapes(model: KAN, x, y):
    n_in, n_out = model.n_inputs, model.n_outputs
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"inputs have shape {tuple(x.shape)}, the network expects [N, {n_in}]")
    if y.shape[1] != n_out or y.shape[0] != x.shape[0]:
        raise ValueError(f"targets have shape {tuple(y.shape)}, the network expects [{x.shape[0]}, {n_out}]")
    if x.shape[0] == 0:
        raise ValueError("no training rows")
    if not (_finite(x) and _finite(y)):
        raise ValueError("training data contains NaN or infinite values")


def _finite(t: torch.Tensor) -> bool:
    # numpy on the CPU: torch's isfinite().all() costs ~15x more on 10^5 values
    return bool(np.isfinite(t.detach().numpy()).all()) if t.device.type == "cpu" else bool(torch.isfinite(t).all())


def _all_finite(params) -> bool:
    """No NaN or inf in any parameter (numpy on the CPU: a torch reduction
    per parameter costs ~25 us, checked after every step)."""
    return all(_finite(p) for p in params)


def _save_state(model: KAN, reuse: Optional[dict] = None) -> dict:
    """A copy of the model's state (for the NaN guard); into ``reuse``, a
    state no longer needed, where its tensors still fit (one copy call, not
    a clone per tensor: this runs after every step)."""
    state = model.state_dict()
    grids = [l.num for l in model.layers]
    if reuse is not None and reuse["__grids__"] == grids and len(reuse) == len(state) + 1:
        dst = [reuse.get(k) for k in state]
        src = [v.detach() for v in state.values()]
        if all(d is not None and d.shape == v.shape and d.dtype == v.dtype for d, v in zip(dst, src)):
            torch._foreach_copy_(dst, src)
            return reuse
    return {k: v.detach().clone() for k, v in state.items()} | {"__grids__": grids}


@dataclass
class _FlatState:
    """A state for the NaN guard as a full state (``base``) and the values
    of the optimiser's flat parameters since (one copy of a vector a step)."""
    base: dict
    x: np.ndarray
    params: list

    @classmethod
    def of(cls, opt: FlatAdam, base: dict, reuse=None) -> "_FlatState":
        if isinstance(reuse, cls) and reuse.x.shape == opt.x.shape:
            np.copyto(reuse.x, opt.x)
            reuse.base, reuse.params = base, opt.params
            return reuse
        return cls(base, opt.x.copy(), opt.params)


def _load_state(model: KAN, state):
    if isinstance(state, _FlatState):
        _load_state(model, state.base)
        off = 0
        with torch.no_grad():
            for p in state.params:
                k = p.numel()
                p.copy_(torch.from_numpy(state.x[off:off + k]).view_as(p))
                off += k
        model.invalidate()
        return
    state = dict(state)
    state.pop("__grids__")
    # Grid updates may have changed tensor shapes since the state was saved.
    for l, layer in enumerate(model.layers):
        g = state[f"layers.{l}.grid"]
        layer.grid = g.clone()
        layer.num = g.shape[1] - 2 * layer.k - 1
        layer.coef.data = state[f"layers.{l}.coef"].clone()
    model.load_state_dict(state)
    model.invalidate()
