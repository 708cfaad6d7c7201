"""Width specs of a KAN, ``[2, 5, 1]`` or ``[2, [3, 2], 1]`` (3 sum and 2
multiplication nodes), parsed and checked without torch, so the GUI can
validate what the user types before the engine is even imported."""
from __future__ import annotations

import json

__all__ = ["normalize_width", "parse_width", "check_width"]


def normalize_width(width) -> list[list[int]]:
    """[2, [3, 2], 1] -> [[2, 0], [3, 2], [1, 0]] with validation."""
    if isinstance(width, str):
        width = parse_width(width)
    out = []
    for w in width:
        if isinstance(w, (int,)) and not isinstance(w, bool):
            out.append([int(w), 0])
        elif isinstance(w, (list, tuple)) and len(w) == 2:
            out.append([int(w[0]), int(w[1])])
        else:
            raise ValueError(f"invalid width entry {w!r}: use an integer or [n_sum, n_mult]")
        if out[-1][0] < 0 or out[-1][1] < 0 or sum(out[-1]) == 0:
            raise ValueError(f"invalid width entry {w!r}: every layer needs at least one node")
    if len(out) < 2:
        raise ValueError("width needs at least an input and an output layer, e.g. [2, 5, 1]")
    if out[0][1]:
        raise ValueError("the input layer cannot hold multiplication nodes")
    return out


def check_width(width, n_in=None, n_out=None) -> list[list[int]]:
    """normalize_width(width), checked against the data (the one check the panel,
    the CLI and the commands share): the first layer one node per input column,
    the last one sum node per target column.  ValueError saying which end is
    wrong; ``None`` skips that end (columns not known yet)."""
    w = normalize_width(width)
    if n_in and (w[0][0] != n_in or w[0][1] != 0):
        raise ValueError(f"the first layer must have {n_in} node(s), one per input column (it has {sum(w[0])})")
    if n_out and (sum(w[-1]) != n_out or w[-1][1] != 0):
        raise ValueError(f"the last layer must have {n_out} sum node(s), one per target column "
                         f"(it has {sum(w[-1])})")
    return w


def parse_width(text: str) -> list:
    """'2,5,1' or '2,[3,2],1' or '[2,[3,2],1]' -> list spec (no eval)."""
    t = text.strip()
    if not t.startswith("["):
        t = "[" + t + "]"
    try:
        spec = json.loads(t)
    except json.JSONDecodeError:
        raise ValueError(f"cannot read width {text!r}: write it like 2,5,1 or 2,[3,2],1") from None
    if not isinstance(spec, list):
        raise ValueError(f"cannot read width {text!r}")
    return spec


