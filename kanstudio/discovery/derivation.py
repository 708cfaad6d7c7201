"""How a formula was derived: the accepted steps, in order, each one line for
a person and a small dict for the JSON.

A step says what was tested or searched (``kind``), on which variables, what
came out (``piece``, a formula in the data's names) and how well it held
(``error``: for a test, its mismatch on rows not used to fit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

__all__ = ["Step", "as_json", "as_text"]


@dataclass(frozen=True)
class Step:
    kind: str                                 # "separability", "symbolic search", "additive model", ...
    text: str                                 # one line for a person
    variables: tuple = ()
    piece: Optional[str] = None               # the formula this step produced, if any
    error: Optional[float] = None             # the test's mismatch on held-out rows, if a test
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "text": self.text, "variables": list(self.variables)}
        if self.piece is not None:
            out["piece"] = self.piece
        if self.error is not None and math.isfinite(self.error):
            out["error"] = float(self.error)
        out.update(self.details)
        return out


def as_json(steps: Sequence[Step]) -> list:
    return [s.as_dict() for s in steps]


def as_text(steps: Sequence[Step]) -> str:
    return "\n".join(f"{k + 1}. {s.text}" for k, s in enumerate(steps))
