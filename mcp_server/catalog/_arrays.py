"""A run's arrays as blobs: NPY bytes (no pickle), and the equity curve outlined.

The catalog keeps a run's every trade, but its equity curve only as an outline: per
bucket of bars the lowest and the highest point (at most 4,000 points, exact values at
their own times), which is what a chart of any width draws. The exact per-bar curve is
the engine's to rebuild from the stored request, when its data still loads the same.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt

__all__ = ["OUTLINE_POINTS", "equity_outline", "from_npy", "to_npy"]

OUTLINE_POINTS = 4000


def to_npy(array: npt.NDArray[np.generic]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def from_npy(raw: bytes) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.load(io.BytesIO(raw), allow_pickle=False)
    return out


def equity_outline(
    time: npt.NDArray[np.int64], equity: npt.NDArray[np.float64], points: int = OUTLINE_POINTS
) -> npt.NDArray[np.float64]:
    """(2, k) float64: bar times (ms) and equity, k <= `points`; the whole curve when short."""
    n = int(equity.size)
    if n <= points:
        return np.vstack([time.astype(np.float64), equity.astype(np.float64)])
    buckets = points // 2
    width = -(-n // buckets)  # ceil: the last bucket is padded with the last value
    padded = np.concatenate([equity, np.full(width * buckets - n, equity[-1])])
    grid = padded.reshape(buckets, width)
    base = np.arange(buckets, dtype=np.int64) * width
    lo, hi = base + grid.argmin(axis=1), base + grid.argmax(axis=1)
    # each bucket's two points in time order, buckets in order: sorted without a sort
    idx = np.minimum(np.column_stack([np.minimum(lo, hi), np.maximum(lo, hi)]).ravel(), n - 1)
    idx = np.concatenate([[0], idx, [n - 1]])
    idx = idx[np.concatenate([[True], idx[1:] != idx[:-1]])]
    return np.vstack([time[idx].astype(np.float64), equity[idx]])
