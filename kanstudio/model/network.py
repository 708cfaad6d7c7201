"""KAN / MultKAN: a stack of KAN layers with sum and multiplication nodes.

Width spec: ``[2, 5, 1]`` (sum nodes only) or ``[2, [3, 2], 1]`` (a hidden
layer of 3 sum nodes and 2 multiplication nodes).  Layer l maps the nodes of
level l to the *subnodes* of level l+1: one subnode per sum node and ``arity``
subnodes per multiplication node.  After the layer:

    s <- subnode_scale * s + subnode_bias        (subnode affine)
    node = s (sum nodes) or product of its arity consecutive subnodes
    node <- node_scale * node + node_bias        (node affine)

Both affines are fixed at 1/0 unless ``affine_trainable`` or set by the
formula compiler.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import nn

from . import limits
from .layer import KANLayer, EdgeValues
from .width import normalize_width, parse_width  # noqa: F401  (re-exported)

SCHEMA_VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}

# The compiled inference path (fused.predict), installed by the fused module when
# it loads (training and the app's warm-up load it): the model itself never
# reaches up into the training code, and a process that never trains evaluates
# with torch alone.
_FAST_PREDICT: list = []


def install_fast_predict(fn) -> None:
    """``fn(model, x)`` -> the output, or None where it does not apply (then
    torch's forward runs); used for inference without gradients on the CPU."""
    _FAST_PREDICT[:] = [fn]


@dataclass
class ForwardCache:
    """What one forward pass saw, per layer (used by scores, pruning, drawing)."""
    inputs: list = field(default_factory=list)     # [B, in] input of each layer
    edges: list = field(default_factory=list)      # EdgeValues of each layer
    subnodes: list = field(default_factory=list)   # [B, n_sub] before the subnode affine
    nodes: list = field(default_factory=list)      # [B, n_nodes] after node affine, per level (incl. input)


class KAN(nn.Module):
    def __init__(self, width, grid: int = 5, k: int = 3, mult_arity=2,
                 grid_range=(-1.0, 1.0), noise_scale: float = 0.3, seed: Optional[int] = 0,
                 affine_trainable: bool = False, dtype="float64", device="cpu", init: bool = True):
        """``init=False`` leaves the spline coefficients at zero (for a twin
        whose tensors are loaded next: from_description, copy)."""
        super().__init__()
        self.width = normalize_width(width)
        if grid < 1 or k < 1:
            raise ValueError("grid and k must be at least 1")
        limits.check_network(self.width, int(grid), int(k))     # before allocating anything
        self.grid_size, self.k = int(grid), int(k)
        self.dtype_name = dtype if isinstance(dtype, str) else {v: k_ for k_, v in _DTYPES.items()}[dtype]
        if self.dtype_name not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}")
        self.mult_arity = self._normalize_arity(mult_arity)
        self.affine_trainable = affine_trainable
        self.grid_range = tuple(float(v) for v in grid_range)
        self.input_names = [f"x{i + 1}" for i in range(self.width[0][0])]
        n_out = sum(self.width[-1])
        self.output_names = ["y"] if n_out == 1 else [f"y{i + 1}" for i in range(n_out)]
        # A private generator: never reseed the global RNGs.
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        fk = dict(dtype=_DTYPES[self.dtype_name], device=device)
        self.layers = nn.ModuleList()
        self.subnode_scale, self.subnode_bias = nn.ParameterList(), nn.ParameterList()
        self.node_scale, self.node_bias = nn.ParameterList(), nn.ParameterList()
        for l in range(self.depth):
            n_in, n_sub = self.n_nodes(l), self.n_subnodes(l + 1)
            self.layers.append(KANLayer(n_in, n_sub, grid, k, noise_scale, grid_range, gen, init=init, **fk))
            for plist, size, val in ((self.subnode_scale, n_sub, 1.0), (self.subnode_bias, n_sub, 0.0),
                                     (self.node_scale, self.n_nodes(l + 1), 1.0),
                                     (self.node_bias, self.n_nodes(l + 1), 0.0)):
                plist.append(nn.Parameter(torch.full((size,), val, **fk), requires_grad=affine_trainable))
        self.cache: Optional[ForwardCache] = None
        self._identity_cache: dict = {}

    # ------------------------------------------------------------ structure
    def _normalize_arity(self, mult_arity) -> list[list[int]]:
        """Per level, the arity of each multiplication node."""
        if isinstance(mult_arity, int):
            return [[mult_arity] * n_mult for _, n_mult in self.width]
        arity = [list(map(int, a)) for a in mult_arity]
        if len(arity) != len(self.width) or any(len(a) != w[1] for a, w in zip(arity, self.width)):
            raise ValueError("mult_arity must give one arity per multiplication node of every layer")
        if any(a < 2 for lvl in arity for a in lvl):
            raise ValueError("a multiplication node needs an arity of at least 2")
        return arity

    @property
    def n_inputs(self) -> int:
        return self.width[0][0]

    @property
    def n_outputs(self) -> int:
        return sum(self.width[-1])

    @property
    def depth(self) -> int:
        return len(self.width) - 1

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype_name]

    @property
    def device(self) -> torch.device:
        return self.layers[0].coef.device

    def n_nodes(self, level: int) -> int:
        return sum(self.width[level])

    def n_subnodes(self, level: int) -> int:
        return self.width[level][0] + sum(self.mult_arity[level])

    def mult_operands(self, level: int) -> list[list[int]]:
        """Subnode indices multiplied by each mult node of a level."""
        start, out = self.width[level][0], []
        for a in self.mult_arity[level]:
            out.append(list(range(start, start + a)))
            start += a
        return out

    def subnode_owner(self, level: int) -> list[int]:
        """For each subnode of a level, the node it feeds."""
        n_sum = self.width[level][0]
        owner = list(range(n_sum))
        for m, ops in enumerate(self.mult_operands(level)):
            owner += [n_sum + m] * len(ops)
        return owner

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -------------------------------------------------------------- forward
    def _combine(self, level: int, s: torch.Tensor) -> torch.Tensor:
        n_sum, n_mult = self.width[level]
        if n_mult == 0:
            return s
        arities = self.mult_arity[level]
        if len(set(arities)) == 1:  # uniform arity: one reshape, mind the stride
            prods = s[:, n_sum:].reshape(s.shape[0], n_mult, arities[0]).prod(-1)
        else:
            prods = torch.stack([s[:, ops].prod(-1) for ops in self.mult_operands(level)], dim=1)
        return torch.cat([s[:, :n_sum], prods], dim=1)

    def _after_layer(self, l: int, s: torch.Tensor) -> torch.Tensor:
        """Subnode affine, mult products, node affine.  Identity affines (the
        usual case: fixed at 1/0) are skipped, saving four ops per layer on
        every forward and backward pass."""
        params = self._affine_refs(l)
        key = tuple((p._version, p.data_ptr(), p.requires_grad) for p in params)
        cached = self._identity_cache.get(l)
        if cached is None or cached[0] != key:
            ident = (not any(p.requires_grad for p in params)
                     and bool((params[0] == 1).all() and (params[1] == 0).all()
                              and (params[2] == 1).all() and (params[3] == 0).all()))
            cached = (key, ident)
            self._identity_cache[l] = cached
        if cached[1]:
            return self._combine(l + 1, s)
        s = params[0] * s + params[1]
        return params[2] * self._combine(l + 1, s) + params[3]

    def _affine_refs(self, l: int) -> tuple:
        # The lists' own dicts: indexing a ParameterList goes through nn.Module
        # machinery that costs more than the identity check on small models.
        key = str(l)
        return (self.subnode_scale._parameters[key], self.subnode_bias._parameters[key],
                self.node_scale._parameters[key], self.node_bias._parameters[key])

    def forward(self, x: torch.Tensor, cache: bool = False, with_edges: bool = False):
        """Evaluate the network.  ``cache`` stores a ForwardCache in self.cache;
        ``with_edges`` returns (y, [EdgeValues per layer]) for the regulariser."""
        want_edges = cache or with_edges
        if not want_edges and not torch.is_grad_enabled() and x.device.type == "cpu" and _FAST_PREDICT:
            y = _FAST_PREDICT[0](self, x)   # inference (scores, drawing, RMSE): the compiled kernels
            if y is not None:
                return y
        c = ForwardCache() if cache else None
        edge_list = []
        if c is not None:
            c.nodes.append(x)
        for l, layer in enumerate(self.layers):
            if want_edges:
                s, ev = layer(x, with_edges=True)
                edge_list.append(ev)
            else:
                s = layer(x)
            if c is not None:
                c.inputs.append(x)
                c.edges.append(ev)
                c.subnodes.append(s)
            x = self._after_layer(l, s)
            if c is not None:
                c.nodes.append(x)
        if c is not None:
            self.cache = c
        return (x, edge_list) if with_edges else x

    def forward_with_spread(self, x: torch.Tensor, metric: str = "spline"):
        """(y, [layer inputs], [edge spreads [in, out] per layer]) for the
        regulariser: the spread of each edge's unscaled spline part ("spline",
        without materialising any [B, in, out] tensor) or of its whole numeric
        activation ("activation", FitConfig.reg_metric)."""
        inputs, spreads = [], []
        for l, layer in enumerate(self.layers):
            inputs.append(x)
            if metric == "activation":
                s, spread = layer.forward_with_activation_spread(x)
            else:
                s, spread = layer.forward_with_spread(x)
            spreads.append(spread)
            x = self._after_layer(l, s)
        return x, inputs, spreads

    @torch.no_grad()
    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.forward(x, cache=True)
        return list(self.cache.inputs)

    # ----------------------------------------------------------------- grids
    @torch.no_grad()
    def update_grid_from_samples(self, x: torch.Tensor, eps: float = 0.02):
        """Adapt every layer's knots to where its inputs actually are."""
        for l, layer in enumerate(self.layers):
            layer.update_grid_from_samples(self._input_of(l, x), eps)
        self._forget_forward()     # each layer already re-made its own caches for its new knots

    @torch.no_grad()
    def refine(self, new_grid: int, x: Optional[torch.Tensor] = None):
        """Grid extension to ``new_grid`` intervals keeping the learned functions.

        Coefficients are fitted at the training samples ``x``; without samples,
        points spread over each input's knot interval are used."""
        if new_grid < 1:
            raise ValueError("grid must be at least 1")
        for l, layer in enumerate(self.layers):
            xl = self._input_of(l, x) if x is not None else self._grid_samples(layer, new_grid)
            layer.refine(new_grid, xl)
        self.grid_size = int(new_grid)
        self._forget_forward()

    def _input_of(self, level: int, x: torch.Tensor) -> torch.Tensor:
        h = x
        for l in range(level):
            h = self._after_layer(l, self.layers[l](h))
        return h

    @staticmethod
    def _grid_samples(layer: KANLayer, new_grid: int) -> torch.Tensor:
        k = layer.k
        lo, hi = layer.grid[:, k], layer.grid[:, -k - 1]
        n = max(4 * (new_grid + k), 200)
        t = torch.linspace(0, 1, n, dtype=lo.dtype, device=lo.device)[:, None]
        return lo[None, :] + (hi - lo)[None, :] * t

    def invalidate(self):
        self._forget_forward()
        for layer in self.layers:
            layer.invalidate()

    def release_caches(self):
        """Drop what depends on the data last seen (forward cache, each layer's
        cached basis of its input); unlike invalidate() keep the knot tables,
        which depend only on the grid."""
        self._forget_forward()
        for layer in self.layers:
            layer.release_basis()

    def _forget_forward(self):
        self.cache = None
        self._identity_cache = {}

    # ------------------------------------------------------------ edits
    def edge_count(self) -> int:
        return int(sum(float(layer.mask.sum()) for layer in self.layers))

    def fix_symbolic(self, layer: int, i: int, j: int, name: str, params=(1.0, 0.0, 1.0, 0.0)):
        self._check_edge(layer, i, j)
        self.layers[layer].set_symbolic(i, j, name, params)
        self.cache = None

    def unfix_symbolic(self, layer: int, i: int, j: int):
        self._check_edge(layer, i, j)
        self.layers[layer].unset_symbolic(i, j)
        self.cache = None

    def set_edge_mask(self, layer: int, i: int, j: int, value: float):
        self._check_edge(layer, i, j)
        self.layers[layer].set_mask(i, j, value)
        self.cache = None

    def _check_edge(self, layer: int, i: int, j: int):
        if not (0 <= layer < self.depth):
            raise IndexError(f"layer {layer} out of range (network has {self.depth} layers)")
        L = self.layers[layer]
        if not (0 <= i < L.in_dim and 0 <= j < L.out_dim):
            raise IndexError(f"edge ({layer},{i},{j}) out of range")

    # ----------------------------------------------------- serialisation
    def description(self) -> dict:
        """Everything but the tensors: enough to rebuild an empty twin."""
        return {
            "schema": SCHEMA_VERSION,
            "width": self.width,
            "grid": self.grid_size,
            "k": self.k,
            "mult_arity": self.mult_arity,
            "grid_range": list(self.grid_range),
            "affine_trainable": self.affine_trainable,
            "dtype": self.dtype_name,
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
            "layer_grids": [layer.num for layer in self.layers],
            "sym_names": [list(layer.sym_names) for layer in self.layers],
        }

    @classmethod
    def from_description(cls, desc: dict, device="cpu") -> "KAN":
        model = cls(desc["width"], grid=desc["grid"], k=desc["k"], mult_arity=desc["mult_arity"],
                    grid_range=desc.get("grid_range", (-1, 1)), seed=None, init=False,
                    affine_trainable=desc.get("affine_trainable", False),
                    dtype=desc.get("dtype", "float64"), device=device)
        model.input_names = list(desc.get("input_names", model.input_names))
        model.output_names = list(desc.get("output_names", model.output_names))
        for layer, num, names in zip(model.layers, desc.get("layer_grids", []), desc.get("sym_names", [])):
            if num != layer.num:  # layers can have refined grids: resize the tensors
                layer.num = int(num)
                layer.grid = torch.zeros(layer.in_dim, num + 2 * layer.k + 1, dtype=model.dtype, device=device)
                layer.coef.data = torch.zeros(layer.in_dim, layer.out_dim, num + layer.k,
                                              dtype=model.dtype, device=device)
            layer.sym_names = list(names)
        return model

    def copy(self) -> "KAN":
        twin = KAN.from_description(self.description(), device=self.device)
        twin.load_state_dict(self.state_dict())
        for p_src, p_dst in zip(self.parameters(), twin.parameters()):
            p_dst.requires_grad_(p_src.requires_grad)
        twin.invalidate()
        return twin

    def set_names(self, input_names: Sequence[str] = None, output_names: Sequence[str] = None):
        if input_names is not None:
            if len(input_names) != self.width[0][0]:
                raise ValueError(f"expected {self.width[0][0]} input names, got {len(input_names)}")
            self.input_names = list(input_names)
        if output_names is not None:
            if len(output_names) != self.n_outputs:
                raise ValueError(f"expected {self.n_outputs} output names, got {len(output_names)}")
            self.output_names = list(output_names)
