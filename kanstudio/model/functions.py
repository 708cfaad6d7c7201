"""The library of 1-D functions a KAN edge can be fixed to: c*f(a*x+b)+d.

Every entry carries two forms of f:

* ``torch_fn`` -- a *singularity-safe* torch version used for training, for
  evaluating fixed edges and for the symbolic fit.  For any finite input it
  returns finite values with finite gradients (no NaN/Inf), whatever its shape.
* ``sympy_fn`` -- the exact mathematical form used for formulas.

The two agree on ``domain`` (minus tiny guard zones next to poles), which the
fitter enforces so that a fitted edge never relies on a guard.

Guards (Y_TH bounds the guarded values):
  1/x, 1/x^3, 1/sqrt(x), sqrt -> odd extension with a linear core |x| < eps
                             (continuous, bounded slope through 0);
  x^1.5                     -> odd extension sign(x)*|x|^1.5 (C1 at 0);
  1/x^2                     -> 1/max(x^2, eps^2);
  log                       -> log(max(x, LOG_EPS));
  tan                       -> argument reduced mod pi, clamped short of the pole;
  arcsin, arctanh           -> input clipped into (-1+CLIP_EPS, 1-CLIP_EPS);
  powers, exp, gaussian     -> input clamped so the result cannot overflow.
The branches of every ``torch.where`` see a safe input, so the branch that is
not taken cannot leak an inf/NaN gradient (0*inf = NaN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import sympy
import torch
from torch import Tensor

from ..errors import KanstudioError

__all__ = [
    "SymbolicFunction", "CONSTANT", "DEFAULT_LIBRARY", "Y_TH",
    "get_function", "register_function", "unregister_function",
    "library_names", "to_sympy", "UnknownFunctionError", "args_within",
]

Y_TH = 1e4          # magnitude reached by guarded functions at their poles
LOG_EPS = 1e-4      # log argument floor: log >= -9.2, slope <= 1e4
SQRT_EPS = 1e-8     # sqrt core: slope <= 1e4
CLIP_EPS = 1e-6     # arcsin/arctanh stay this far inside (-1, 1)
_POW_MAX = 1e30     # |x^n| is kept below this
_EXP_MAX = 60.0     # exp(60) ~ 1e26: finite in float32, gradient too
_TAN_DELTA = math.atan(1.0 / Y_TH)  # tan(pi/2 - delta) = Y_TH

CONSTANT = "0"


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry.

    domain: interval (lo, hi) where sympy_fn is real; None = all reals.
    closed: whether lo itself belongs to the domain (sqrt, x^1.5 at 0).
    pole_at_zero: argument range must not contain 0 (1/x, 1/x^2, 1/x^3).
    guard: half-width of the zone next to a pole / open domain end where torch_fn
      departs from sympy_fn; the fitter keeps the argument range out of it.
    search: how the fitter scans (a, b) -- "ab" a 2-D grid; "shift" a fixed
      (+-max|a|) and a grid over b (f homogeneous or log: only b/a matters);
      "scale" b = 0 and a grid over a (exp: b is absorbed by c); "window" a grid
      over the argument range's endpoints inside a bounded domain; "affine"
      none (x itself); "const" none (the constant 0).
    period: the b-shift that leaves f unchanged (sin, cos: 2pi), used to
      canonicalise fitted parameters; antiperiodic: f(z + period/2) = -f(z).
    degree: p when f(s*z) == s**p * f(z) for s > 0 (powers, abs, sgn): the fitter
      reports such fits with |a| = 1 when that keeps clear of the guards.
    parity: +1 if f(-z) == f(z), -1 if f(-z) == -f(z) on the whole real line,
      else 0; halves the search and lets the fitter report a >= 0.
    shifted: (base, s) when f(z) == base(z + s) exactly (cos = sin shifted by
      pi/2): the fitter reuses base's fit instead of repeating it.
    """
    name: str
    complexity: int
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    domain: tuple[float, float] | None = None
    closed: bool = False
    pole_at_zero: bool = False
    guard: float = 0.0
    search: str = "ab"
    period: float | None = None
    antiperiodic: bool = False
    degree: float | None = None
    parity: int = 0
    shifted: tuple[str, float] | None = None
    builtin: bool = True

    def arg_bounds(self) -> tuple[float, float, float]:
        """(lowest, highest, pole guard g) allowed for the argument a*x+b; with a
        pole the argument must also stay in [g, inf) or (-inf, -g]."""
        lo, hi = self.domain or (-math.inf, math.inf)
        return (lo + (0.0 if self.closed else self.guard), hi - self.guard,
                self.guard if self.pole_at_zero else -math.inf)

    def canonical_params(self, params: Tensor, xlo: Tensor, xhi: Tensor) -> Tensor:
        """Equivalent, tidier (a, b, c, d) [..., 4] for x in [xlo, xhi]: a >= 0 for
        even/odd f; |a| = 1 for powers and log where that keeps clear of the
        guards; exp absorbs b into c; sin/cos phase b in [-pi/2, pi/2]."""
        a, b, c, d = params.unbind(-1)
        if self.parity:
            flip = a < 0
            a, b, c = (torch.where(flip, v, w)
                       for v, w in ((-a, a), (-b, b), (self.parity * c, c)))
        is_log = self.builtin and self.name == "log"
        if self.degree is not None or is_log:
            s = a.abs().clamp_min(1e-300)
            a2, b2 = a / s, b / s
            # log(s*z) = log(s) + log(z);  f(s*z) = s**degree * f(z)
            c2, d2 = (c, d + c * torch.log(s)) if is_log else (c * s ** self.degree, d)
            z1, z2 = a2 * xlo + b2, a2 * xhi + b2
            ok = (args_within(self.arg_bounds(), torch.minimum(z1, z2), torch.maximum(z1, z2))
                  & torch.isfinite(c2 * d2))
            a, b, c, d = (torch.where(ok, v, w) for v, w in ((a2, a), (b2, b), (c2, c), (d2, d)))
        if self.search == "scale":
            keep = b.abs() < 50
            c = torch.where(keep, c * torch.exp(b.clamp(-50, 50)), c)
            b = torch.where(keep, 0 * b, b)
        if self.period is not None:
            per = self.period
            b = b - per * torch.round(b / per)                      # [-per/2, per/2]
            if self.antiperiodic:   # f(z + per/2) = -f(z)
                flip = b.abs() > per / 4
                b = torch.where(flip, b - torch.sign(b) * per / 2, b)
                c = torch.where(flip, -c, c)
        return torch.stack([a, b, c, d], -1)


def args_within(bounds: tuple, zmin: Tensor, zmax: Tensor) -> Tensor:
    """Is each argument range [zmin, zmax] allowed by ``arg_bounds()`` (floats or
    tensors broadcasting against zmin)?"""
    lo, hi, g = bounds
    return (zmin >= lo) & (zmax <= hi) & ((zmin >= g) | (zmax <= -g))


# ---------------------------------------------------------------- guards
def _clamp_pow(x: Tensor, n: float) -> Tensor:
    lim = _POW_MAX ** (1.0 / abs(n))
    return x.clamp(-lim, lim)


def _power(n: int) -> Callable[[Tensor], Tensor]:
    return lambda x: _clamp_pow(x, n) ** n


def _odd_pole(p: float) -> Callable[[Tensor], Tensor]:
    """sign(x)*|x|^-p outside |x| < eps, linear x/eps^(p+1) inside (continuous)."""
    eps = Y_TH ** (-1.0 / p)

    def fn(x: Tensor) -> Tensor:
        core = x.abs() < eps
        xs = torch.where(core, torch.full_like(x, eps), x)
        out = torch.sign(xs) * xs.abs().clamp(max=_POW_MAX) ** (-p)
        return torch.where(core, x * eps ** (-p - 1.0), out)
    return fn


def _inv_sq(x: Tensor) -> Tensor:
    eps2 = 1.0 / Y_TH
    return 1.0 / (_clamp_pow(x, 2) ** 2).clamp(min=eps2)


def _sqrt(x: Tensor) -> Tensor:
    core = x.abs() < SQRT_EPS
    xs = torch.where(core, torch.full_like(x, SQRT_EPS), x)
    return torch.where(core, x / math.sqrt(SQRT_EPS), torch.sign(xs) * xs.abs().sqrt())


def _pow15(x: Tensor) -> Tensor:
    return torch.sign(x) * _clamp_pow(x, 1.5).abs() ** 1.5


def _log(x: Tensor) -> Tensor:
    return torch.log(x.clamp(min=LOG_EPS))


def _tan(x: Tensor) -> Tensor:
    # distance to the nearest multiple of pi; huge x loses precision but stays finite
    r = x - math.pi * torch.round(x / math.pi)
    lim = math.pi / 2 - _TAN_DELTA
    return torch.tan(r.clamp(-lim, lim))


def _clip_unit(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: fn(x.clamp(-1.0 + CLIP_EPS, 1.0 - CLIP_EPS))


def _exp(x: Tensor) -> Tensor:
    return torch.exp(x.clamp(max=_EXP_MAX))


def _gaussian(x: Tensor) -> Tensor:
    return torch.exp(-(x.clamp(-1e4, 1e4) ** 2))


_PI = math.pi


_E, _O = 1, -1       # parity of even / odd functions
_POS = (0.0, math.inf)
_S = SymbolicFunction
_BUILTINS: dict[str, SymbolicFunction] = {f.name: f for f in [
    _S("x", 1, lambda x: x, lambda x: x, parity=_O, search="affine"),
    _S("x^2", 2, _power(2), lambda x: x**2, parity=_E, degree=2, search="shift"),
    _S("x^3", 3, _power(3), lambda x: x**3, parity=_O, degree=3, search="shift"),
    _S("x^4", 3, _power(4), lambda x: x**4, parity=_E, degree=4, search="shift"),
    _S("x^5", 4, _power(5), lambda x: x**5, parity=_O, degree=5, search="shift"),
    _S("1/x", 2, _odd_pole(1.0), lambda x: 1 / x, parity=_O, degree=-1, search="shift",
       pole_at_zero=True, guard=Y_TH ** -1.0),
    _S("1/x^2", 2, _inv_sq, lambda x: x**-2, parity=_E, degree=-2, search="shift",
       pole_at_zero=True, guard=Y_TH ** -0.5),
    _S("1/x^3", 3, _odd_pole(3.0), lambda x: x**-3, parity=_O, degree=-3, search="shift",
       pole_at_zero=True, guard=Y_TH ** (-1 / 3)),
    _S("sqrt", 2, _sqrt, sympy.sqrt, domain=_POS, closed=True, degree=0.5, search="shift"),
    _S("1/sqrt(x)", 3, _odd_pole(0.5), lambda x: 1 / sympy.sqrt(x), domain=_POS,
       guard=Y_TH ** -2.0, degree=-0.5, search="shift"),
    _S("x^1.5", 3, _pow15, lambda x: x ** sympy.Rational(3, 2), domain=_POS, closed=True,
       degree=1.5, search="shift"),
    _S("exp", 2, _exp, sympy.exp, search="scale"),
    _S("log", 2, _log, sympy.log, domain=_POS, guard=LOG_EPS, search="shift"),
    _S("sin", 2, torch.sin, sympy.sin, parity=_O, period=2 * _PI, antiperiodic=True),
    _S("cos", 2, torch.cos, sympy.cos, parity=_E, period=2 * _PI, antiperiodic=True,
       shifted=("sin", _PI / 2)),
    _S("tan", 3, _tan, sympy.tan, parity=_O, domain=(-_PI / 2, _PI / 2), guard=_TAN_DELTA,
       search="window"),
    _S("tanh", 3, torch.tanh, sympy.tanh, parity=_O),
    _S("abs", 3, torch.abs, sympy.Abs, parity=_E, degree=1, search="shift"),
    _S("sgn", 4, torch.sign, sympy.sign, parity=_O, degree=0, search="shift"),
    _S("arcsin", 4, _clip_unit(torch.asin), sympy.asin, parity=_O, domain=(-1.0, 1.0),
       guard=CLIP_EPS, search="window"),
    _S("arctan", 4, torch.atan, sympy.atan, parity=_O),
    _S("arctanh", 4, _clip_unit(torch.atanh), sympy.atanh, parity=_O, domain=(-1.0, 1.0),
       guard=CLIP_EPS, search="window"),
    _S("gaussian", 3, _gaussian, lambda x: sympy.exp(-x**2), parity=_E),
    _S(CONSTANT, 0, lambda x: x * 0.0, lambda x: sympy.Integer(0), search="const"),
]}

DEFAULT_LIBRARY: tuple[str, ...] = tuple(n for n in _BUILTINS if n != CONSTANT)
_USER: dict[str, SymbolicFunction] = {}

_ALIASES = {
    "x^1": "x", "id": "x", "identity": "x", "linear": "x",
    "x^-1": "1/x", "x^-2": "1/x^2", "x^-3": "1/x^3",
    "x^0.5": "sqrt", "x^(1/2)": "sqrt", "x^-0.5": "1/sqrt(x)", "x^(-1/2)": "1/sqrt(x)",
    "1/sqrt": "1/sqrt(x)", "x^(3/2)": "x^1.5", "ln": "log",
    "asin": "arcsin", "atan": "arctan", "atanh": "arctanh", "sign": "sgn",
    "|x|": "abs", "gauss": "gaussian", "exp(-x^2)": "gaussian", "zero": CONSTANT,
}


class UnknownFunctionError(KanstudioError, KeyError, ValueError):
    """Raised for a name that is neither a library function nor an alias."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _normalise(name: str) -> str:
    key = "".join(name.split()).lower().replace("**", "^")
    if key in _BUILTINS or key in _ALIASES:
        return _ALIASES.get(key, key)
    if key.endswith("(x)") and key[:-3].isidentifier():   # "sin(x)" -> "sin"
        key = key[:-3]
    return _ALIASES.get(key, key)


def get_function(name: str) -> SymbolicFunction:
    """Look a function up by name or alias ("x**2" == "x^2", "sin(x)" == "sin")."""
    if name in _USER:
        return _USER[name]
    key = _normalise(name)
    if key in _BUILTINS:
        return _BUILTINS[key]
    for user_name, fn in _USER.items():
        if _normalise(user_name) == key:
            return fn
    fn = _expression_function(name)
    if fn is not None:
        return fn
    valid = ", ".join(library_names() + (CONSTANT,))
    raise UnknownFunctionError(f"unknown symbolic function {name!r}; valid names: {valid}")


def _expression_function(name: str):
    """A name that is itself a formula in x ("0.5*x**2 + sin(x)": an edge fixed to a
    formula the symbolic engine found, or a --lib entry) registers that formula,
    parsed by the restricted parser (never eval), so a model or project using
    one loads in a session that has not seen it.  None for anything else."""
    if "x" not in name or len(name) > 500:
        return None
    from ..data import DataError, parse_expression
    try:
        expr = parse_expression(name, allowed_names=["x"])
    except DataError:
        return None
    syms = list(expr.free_symbols)
    if len(syms) != 1:
        return None
    return register_function(name, expr, syms[0])


def library_names() -> tuple[str, ...]:
    """The default library followed by the user-registered functions (not "0")."""
    return DEFAULT_LIBRARY + tuple(_USER)


class _SanitiseGrad(torch.autograd.Function):
    """Identity whose backward replaces non-finite gradients by finite ones."""

    @staticmethod
    def forward(ctx, x):  # noqa: D401
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return torch.nan_to_num(grad, nan=0.0, posinf=Y_TH, neginf=-Y_TH)


def register_function(name: str, expr: sympy.Expr, symbol: sympy.Symbol,
                      complexity: int | None = None) -> SymbolicFunction:
    """Add a user function f(symbol) = expr (already parsed safely by the caller).

    Its torch form is lambdified and wrapped so that outputs and gradients are
    always finite (NaN -> 0, +-inf -> +-Y_TH, then clamped to +-Y_TH).
    Re-registering a user name replaces it; built-in names are refused.
    """
    name = name.strip()
    if not name:
        raise ValueError("a symbolic function needs a non-empty name")
    if name in _BUILTINS or _normalise(name) in _BUILTINS:
        raise ValueError(f"{name!r} is a built-in symbolic function")
    if not isinstance(expr, sympy.Expr) or not isinstance(symbol, sympy.Symbol):
        raise TypeError("register_function needs a parsed sympy expression and its Symbol")
    extra = expr.free_symbols - {symbol}
    if extra:
        raise ValueError(f"expression for {name!r} may only use {symbol}; also found "
                         + ", ".join(sorted(map(str, extra))))
    if complexity is None:
        complexity = int(sympy.count_ops(expr)) + 1
    raw = sympy.lambdify(symbol, expr, modules="torch")

    def torch_fn(x: Tensor) -> Tensor:
        out = raw(_SanitiseGrad.apply(x))
        out = x * 0 + out if isinstance(out, Tensor) else torch.full_like(x, float(out)) + 0 * x
        return torch.nan_to_num(out, nan=0.0, posinf=Y_TH, neginf=-Y_TH).clamp(-Y_TH, Y_TH)

    fn = SymbolicFunction(name, int(complexity), torch_fn,
                          lambda t: expr.xreplace({symbol: t}), builtin=False)
    _USER[name] = fn
    return fn


def unregister_function(name: str) -> None:
    """Remove a user-registered function (built-ins cannot be removed)."""
    fn = get_function(name)
    if fn.builtin:
        raise ValueError(f"{fn.name!r} is a built-in symbolic function and cannot be removed")
    del _USER[fn.name]


def _num(v: float) -> sympy.Expr:
    v = float(v)
    return sympy.Integer(int(v)) if v.is_integer() else sympy.Float(v)


def to_sympy(name: str, params, x_sym: sympy.Expr) -> sympy.Expr:
    """c*f(a*x+b)+d for params (a, b, c, d); integral values stay exact integers."""
    a, b, c, d = (_num(p) for p in (params.tolist() if hasattr(params, "tolist") else params))
    return c * get_function(name).sympy_fn(a * x_sym + b) + d
