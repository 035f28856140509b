"""Compile the backtest kernels in a child process while the caller does other work.

With a cold numba cache, the first backtest in a process compiles its kernels
first, about 10 s of one core for the simulation kernel alone. A caller with
other work to do before its backtest (imports, generating or loading candles) can
start :class:`CompileAhead`: a child process runs the same kind of backtest on a
few synthetic bars, which compiles the kernels and saves them to numba's on-disk
cache. The caller :meth:`~CompileAhead.wait`\\ s just before its own backtest,
which then loads them from the cache. The compile overlaps the caller's own work
on a second core. With a warm cache no child is started.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, cast

import numba
import numpy as np

from engine._nb.backtest_nb import simulate_nb
from engine.backtest import make_config

log = logging.getLogger(__name__)

_CHILD_MODULE = "engine._compile_child"


def kernel_cache_is_warm() -> bool:
    """Whether numba's on-disk cache already holds a simulation kernel compiled from
    the current source (for any argument types). True when it cannot tell, so that
    callers fall back to compiling in-process as usual."""
    if cast(Any, numba).config.DISABLE_JIT:
        return True
    try:
        # numba keeps no public API for this; its index is empty when the file is
        # missing or was written for another version of the source.
        return bool(cast(Any, simulate_nb)._cache._cache_file._load_index())
    except Exception:  # any change in numba's internals: assume warm
        log.debug("cannot inspect the numba cache; compiling in-process", exc_info=True)
        return True


class CompileAhead:
    """Compile, in a child process, the kernels that a backtest of ``strategy`` with
    ``params`` and ``config`` needs, if numba's cache lacks them.

    Use it as a context manager around the work that comes before the backtest
    and call :meth:`wait` just before the backtest. Leaving the block stops a
    child that is still running (after an error, say). Errors in the child are
    not reported: the caller's own backtest reports them, compiling in-process.
    """

    def __init__(
        self,
        strategy: str = "ema_cross",
        params: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | Any = None,
    ) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        # On one core the child would only compete with the caller.
        if (os.cpu_count() or 1) < 2 or kernel_cache_is_warm():
            return
        job = json.dumps(
            {
                "strategy": strategy,
                "params": {k: v.item() if isinstance(v, np.generic) else v for k, v in (params or {}).items()},
                "config": make_config(config).model_dump(mode="json"),
            }
        )
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", _CHILD_MODULE, job],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # stdout may be an MCP stdio channel
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            log.debug("cannot start the compile child; compiling in-process", exc_info=True)

    @property
    def started(self) -> bool:
        """Whether a child process was started (the cache was cold)."""
        return self._proc is not None

    def wait(self, timeout: float = 600.0) -> bool:
        """Block until the child is done; True when it compiled and cached the kernels."""
        if self._proc is None:
            return False
        try:
            return self._proc.wait(timeout) == 0
        except subprocess.TimeoutExpired:
            self.close()
            return False

    def close(self) -> None:
        """Stop the child if it is still running."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> CompileAhead:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
