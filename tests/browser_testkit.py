"""A real browser for tests: Debian's chromium driven by Playwright (no browser download).

`find_chromium()` names the binary; the `browser` fixture (tests/conftest.py) launches it
once per session. Without the package the browser tests skip with the reason, or fail when
`BST_REQUIRE_CHROMIUM=1` (CI sets it), like the other real-server tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# /usr/lib/chromium/chromium is the real binary: the /usr/bin wrapper's dev-shm check
# prints a shell error on every start.
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")

# No sandbox: CI runs as root, where chromium refuses to start with it. The rest keeps a
# headless browser from reaching out (component updates, metrics, sync) during tests.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    """The chromium binary to drive, or None when it is not installed."""
    override = os.environ.get("BST_CHROMIUM")
    if override:
        return override
    for name in _CANDIDATES:
        found = shutil.which(name) if "/" not in name else (name if Path(name).exists() else None)
        if found:
            return found
    return None


def artefact_dir() -> Path:
    """Where browser tests write their screenshots (kept after the run: test artefacts)."""
    path = Path(os.environ.get("BST_ARTEFACTS", "test-artefacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
