"""One JSON results file per chapter run: config, seeds, metrics, claims with computed verdicts, timings,
environment and data checksums.  Written atomically (temporary file + rename), so a crash never leaves half a file."""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

VERDICTS = ("holds", "does not hold", "inconclusive")
REQUIRED_KEYS = ("chapter", "config", "seeds", "metrics", "claims", "timings", "environment", "data")
PACKAGES = ("torch", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "seaborn", "papermill", "jupyter-book")


@dataclass
class Claim:
    """A paper's claim, what the paper reported, what we measured, and a verdict computed by code."""

    id: str
    statement: str
    paper_value: Any
    measured: Any
    verdict: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id!r}: verdict {self.verdict!r} not in {VERDICTS}")


def verdict(holds: bool | None) -> str:
    """Map a computed test to a verdict: True -> holds, False -> does not hold, None -> inconclusive."""
    return "inconclusive" if holds is None else ("holds" if holds else "does not hold")


def compare_verdict(a_mean: float, a_ci: float, b_mean: float, b_ci: float, higher_is_better: bool = True) -> str:
    """'holds' if A beats B with non-overlapping 95% CIs, 'does not hold' if B beats A likewise, else inconclusive."""
    if not higher_is_better:
        a_mean, b_mean = -a_mean, -b_mean
    if a_mean - a_ci > b_mean + b_ci:
        return "holds"
    if b_mean - b_ci > a_mean + a_ci:
        return "does not hold"
    return "inconclusive"


def environment() -> dict[str, str]:
    """Python, platform, CPU count and the versions of the packages the results depend on."""
    env = {"python": platform.python_version(), "platform": platform.platform(), "cpus": str(os.cpu_count())}
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "not installed"
    return env


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, dataclasses and non-finite floats into plain JSON values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Claim):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_results(folder: str | Path, chapter: str, *, config: dict, seeds: list[int], metrics: dict,
                  claims: list[Claim], timings: dict[str, float], data: dict[str, str]) -> Path:
    """Write `<folder>/<chapter>.json` atomically and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = to_jsonable({
        "chapter": chapter, "config": config, "seeds": list(seeds), "metrics": metrics,
        "claims": [asdict(c) if isinstance(c, Claim) else Claim(**c).__dict__ for c in claims],
        "timings": timings, "environment": environment(), "data": data,
    })
    path = folder / f"{chapter}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{chapter}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_results(path: str | Path) -> dict:
    """Read a results file and check it has every required key and valid verdicts."""
    path = Path(path)
    payload = json.loads(path.read_text())
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise ValueError(f"{path}: results file lacks keys {missing}")
    for claim in payload["claims"]:
        Claim(**claim)
    return payload


class Timer:
    """Collects wall-clock seconds per named stage: `with timer("train"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def default_results_dir() -> Path:
    """Where chapters write results: $REPLICATION_RESULTS, else `results/` at the project root (git-ignored)."""
    env = os.environ.get("REPLICATION_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "results"


def glue(name: str, value: Any) -> None:
    """Glue a number for the prose (myst-nb), as a plain Python value so format specs like `:.1f` work."""
    from myst_nb import glue as myst_glue

    myst_glue(name, to_jsonable(value), display=False)
