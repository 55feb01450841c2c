"""Wall time and peak extra memory of one call, measured in-process (Linux: reset and read the peak RSS)."""

from __future__ import annotations

import ctypes
import gc
import re
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Measurement:
    """What a call returned, how long it took, and how much memory above the starting level it peaked at."""

    result: Any
    seconds: float
    peak_mb: float
    method: str  # "rss" (whole process, includes torch) or "tracemalloc" (Python/numpy allocations only)


def rss_kb() -> tuple[int, int]:
    """Current and peak resident set size of this process in KiB."""
    text = STATUS.read_text()
    return tuple(int(re.search(rf"{key}:\s+(\d+)", text).group(1)) for key in ("VmRSS", "VmHWM"))  # type: ignore


def can_reset_peak() -> bool:
    """Whether the kernel lets us reset the peak RSS (Linux >= 4.0, writable /proc/self/clear_refs)."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc malloc_trim), so that a later allocation
    shows up in the peak RSS instead of silently reusing memory an earlier call left behind."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(fn: Callable[..., Any], *args: Any, collect: bool = True, **kwargs: Any) -> Measurement:
    """Call fn(*args, **kwargs) and report seconds and peak memory (MiB) above the level before the call. With
    `collect=False` the garbage collector is not run first (a full collection costs ~0.1 s in a process holding the
    data and torch; a second measure of the same job, right after one that collected, skips it)."""
    if collect:
        release_free_memory()
    if can_reset_peak():
        before, _ = rss_kb()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        _, peak = rss_kb()
        return Measurement(result, seconds, max(peak - before, 0) / 1024, "rss")
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Measurement(result, seconds, peak / 2**20, "tracemalloc")
