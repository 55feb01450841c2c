"""Every environment setting of the package, in one module, read when it is asked for (never frozen at import, so a
test or a reader can change one between two calls):

    REPLICATION_DATA            the data cache folder (default: data_cache/ at the project root)
    REPLICATION_RESULTS         where chapters write their results files (default: results/)
    REPLICATION_CACHE           the runner's job cache (default: _build/cache; "off" disables it)
    REPLICATION_DENSE_ENTRIES   the largest users x items score matrix held at once (default 2^26; 0: blocks only)
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent  # the checkout (the package is installed in editable mode)
BUILD = ROOT / "_build"
EXECUTED = BUILD / "executed"  # the book's staging area: the executed chapters and their execution log
RUNS = BUILD / "runs"  # `python -m replication run`: its own folder, never the book's staging area
DEFAULT_DENSE_ENTRIES = 1 << 26  # 256 MB of float32: ML-1M's 22M entries included


def data_cache() -> Path:
    """The data cache folder: $REPLICATION_DATA, else `data_cache/` at the project root (git-ignored)."""
    env = os.environ.get("REPLICATION_DATA")
    return Path(env) if env else ROOT / "data_cache"


def results_dir() -> Path:
    """Where chapters write results: $REPLICATION_RESULTS, else `results/` at the project root (git-ignored)."""
    env = os.environ.get("REPLICATION_RESULTS")
    return Path(env) if env else ROOT / "results"


def cache_dir() -> Path | None:
    """The runner's job cache: $REPLICATION_CACHE (or _build/cache at the project root); None when it is "off"."""
    env = os.environ.get("REPLICATION_CACHE", "")
    if env.lower() == "off":
        return None
    return Path(env) if env else ROOT / "_build" / "cache"


def dense_entries() -> int:
    """$REPLICATION_DENSE_ENTRIES: score matrices up to this many entries are computed at once, larger by blocks."""
    text = os.environ.get("REPLICATION_DENSE_ENTRIES", "")
    if not text:
        return DEFAULT_DENSE_ENTRIES
    if not text.strip().isdigit():
        raise ConfigError(f"REPLICATION_DENSE_ENTRIES must be a non-negative integer (the most users x items "
                          f"entries a score matrix may hold at once), got {text!r}")
    return int(text)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` restrict), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not every OS has affinity (macOS)
        return max(1, os.cpu_count() or 1)
