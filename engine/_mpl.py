"""Matplotlib set-up and PNG output shared by the engine's charts."""

from __future__ import annotations

import io
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, imported on first use
    (it takes about half a second and most runs draw no chart)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any, dpi: int) -> bytes:
    """The laid-out figure as PNG bytes; the caller still closes it."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
