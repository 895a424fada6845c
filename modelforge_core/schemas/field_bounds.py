"""The numeric bounds a pydantic field declares (``gt``, ``ge``, ``lt``, ``le``), read back as data and as words.

One source for the config's limits: the error messages say them in words, and a form reads them as its
minimum and maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import annotated_types
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Bounds:
    """A field's lower and upper bound (None: none); ``*_open`` when the bound itself is refused."""

    lower: float | None = None
    lower_open: bool = False
    upper: float | None = None
    upper_open: bool = False

    def words(self) -> str:
        """The bounds as a message says them: "positive", "at least 16", "in [0, 1)"."""
        if self.lower is not None and self.upper is not None:
            left, right = "(" if self.lower_open else "[", ")" if self.upper_open else "]"
            return f"in {left}{self.lower:g}, {self.upper:g}{right}"
        if self.lower is not None:
            if self.lower_open:
                return "positive" if self.lower == 0 else f"greater than {self.lower:g}"
            return f"at least {self.lower:g}"
        if self.upper is not None:
            return f"less than {self.upper:g}" if self.upper_open else f"at most {self.upper:g}"
        return ""


def field_bounds(field: FieldInfo) -> Bounds:
    """The bounds in a field's constraints (``Field(gt=0)``, ``Field(ge=0, lt=1)``, ...)."""
    bounds: dict = {}
    for constraint in field.metadata:
        if isinstance(constraint, annotated_types.Gt):
            bounds.update(lower=constraint.gt, lower_open=True)
        elif isinstance(constraint, annotated_types.Ge):
            bounds.update(lower=constraint.ge, lower_open=False)
        elif isinstance(constraint, annotated_types.Lt):
            bounds.update(upper=constraint.lt, upper_open=True)
        elif isinstance(constraint, annotated_types.Le):
            bounds.update(upper=constraint.le, upper_open=False)
    return Bounds(**bounds)
