"""Symbolic search: a real symbolic-regression engine behind one small
interface (``engines``: Operon), the stage that runs it on a (sub-)problem and
refits what it finds (``stage``: ``symbolic_search``), the transforms of the target
that stage races (``target_transforms``: y^2, 1/y, 1/y^2, log|y|, ...), sparse sums of
monomials in y and those transforms (``monomials``: AI Feynman's polynomial fit, over the columns
that ``dictionary`` builds), and the
engine on one edge of a network, Auto-symbolic's fallback (``edge_formulas``)."""
from .monomials import monomial_search, sparse_monomials
from .engines import OperonEngine, SearchEngine, engine_symbols
from .edge_formulas import edge_search
from .stage import one_variable, reading_error, readings, search_piece, symbolic_search, worth_polishing
from .target_transforms import TRANSFORMS, TargetTransform, usable_transforms

__all__ = ["SearchEngine", "OperonEngine", "engine_symbols", "symbolic_search", "one_variable", "search_piece",
           "readings", "edge_search", "reading_error", "worth_polishing", "TargetTransform", "TRANSFORMS",
           "usable_transforms", "monomial_search", "sparse_monomials"]
