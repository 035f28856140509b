"""Numba kernels: plain arrays in, plain arrays out; status codes, never exceptions.

Every kernel is compiled with ``cache=True``. numba checks a cached kernel
against its own source file only, not against the modules whose functions it
inlines or whose constants it reads (numba issue #1833): after an edit to
``orders_nb.py`` alone, ``simulate_nb`` (in ``backtest_nb.py``) would go on
loading its old machine code. So the kernels of this package are stamped with
a digest of all its modules instead: any change here recompiles them all.
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from typing import Any

_DIR = os.path.dirname(os.path.realpath(__file__))

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for name, _, _ in files:
        h.update(name.encode())
        with open(os.path.join(_DIR, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _package_stamp() -> str:
    """A digest of every module of this package, re-read when a file's time or size changes."""
    files = []
    for name in sorted(os.listdir(_DIR)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(_DIR, name))
            files.append((name, st.st_mtime_ns, st.st_size))
    return _digest(tuple(files))


def _package_locator(base: Any) -> Any:
    """``base`` (one of numba's cache locators) for this package's functions, with the package stamp."""

    def from_function(cls: Any, py_func: Any, py_file: str) -> Any:
        if os.path.dirname(os.path.realpath(py_file)) != _DIR:
            return None
        return super(locator, cls).from_function(py_func, py_file)

    def get_source_stamp(self: Any) -> str:
        return _package_stamp()

    locator: Any = type(
        "Package" + base.__name__.lstrip("_"),
        (base,),
        {"from_function": classmethod(from_function), "get_source_stamp": get_source_stamp},
    )
    return locator


def _install() -> None:
    """Put package-stamped copies of numba's file-backed cache locators first, in
    numba's order (NUMBA_CACHE_DIR, then __pycache__, then the user cache). Must run
    before the kernels are decorated; a numba without these internals keeps its own."""
    try:
        from numba.core import caching

        def find(name: str) -> Any:  # older numba names them with a leading underscore
            return getattr(caching, name, None) or getattr(caching, "_" + name)

        names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
        bases = [find(n) for n in names]
        classes = find("CacheImpl")._locator_classes
        if not any(getattr(c, "_engine_nb", False) for c in classes):
            ours = [_package_locator(b) for b in bases]
            for c in ours:
                c._engine_nb = True
            classes[:0] = ours
    except Exception:  # numba's internals moved: its own per-file check still works
        log.debug("numba cache locators not found; kernels are stamped per file", exc_info=True)


_install()
