"""The pieces of a numeric answer as they are found: paragraphs, figures, missing data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agents.outputs import Figure

__all__ = ["Notes", "fmt"]


def fmt(value: float | None) -> str:
    """A number as people write it: 3 significant digits, integers without a fraction."""
    if value is None:
        return "?"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


@dataclass
class Notes:
    """Collects what the interpreter says; figures are rounded to 4 significant digits."""

    summary: str = ""
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        if text:
            self.paragraphs.append(text)

    def figure(self, name: str, value: float, reading: str = "") -> None:
        if math.isfinite(value):
            self.figures.append(Figure(name=name, value=float(f"{value:.4g}"), reading=reading))

    def cannot(self, what: str) -> None:
        """Something the answer cannot judge without more data (said once)."""
        if what not in self.missing:
            self.missing.append(what)
