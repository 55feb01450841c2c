"""One JSON results file per chapter run: config, seeds, metrics, claims with computed verdicts, timings,
environment and data checksums, in the one format documented by SCHEMA below and validated on every write and read.
Written atomically (temporary file + rename), so a crash never leaves half a file."""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from . import settings
from .errors import ConfigError, DataError
from .experiments.claims import Claim

REQUIRED_KEYS = ("chapter", "config", "seeds", "metrics", "claims", "timings", "environment", "data")
PACKAGES = ("torch", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "seaborn", "papermill", "jupyter-book")
CLAIM_KEYS = ("id", "statement", "paper_value", "measured", "verdict", "test", "sensitivity", "kind", "p_value",
              "q_value", "robustness", "margin", "threshold", "power", "source")
SCHEMA = """The results file of a chapter, `<results_dir>/<chapter>.json` (validated on write and on read):

chapter      str    the notebook's name
config       dict   the parameters the chapter ran with (and `deviations`: list of str, from the papers)
seeds        list   of int
metrics      list   of records {"metric": str, "value": number or null, ...}: one number each, plus its setting
                    columns (model, seed, k, ... : str, number, bool or null)
claims       list   of {id, statement, paper_value, measured, verdict, test, sensitivity, kind, p_value, q_value,
                    robustness, margin, threshold, power}: verdict in ("holds", "does not hold", "inconclusive");
                    sensitivity: list of {choice, measured, verdict} (empty only with "no alternative: <reason>" in
                    measured); kind: the test (paired, bootstrap, non-inferiority, equivalence, every, some,
                    threshold, count, check); p_value: the smallest level at which the verdict is decisive (null for
                    counts and checks); q_value: the book-wide Benjamini-Hochberg q-value, written by the
                    reproducibility appendix (null until it runs); robustness: robust, fragile, reversed or
                    "no alternative", as the verdicts imply; margin (non-inferiority, equivalence) and threshold
                    (threshold tests): {value, reason}, else null; power (inconclusive tests): {runs, sd, ratio,
                    observed, mdd, runs_needed}, else null; source: "book" (the book's own question) or
                    {paper, locator, quotation} (replication.papers)
timings      dict   stage -> seconds
environment  dict   Python, platform and package versions
data         dict   data file -> SHA-256
"""


def _problem(payload: dict) -> str | None:
    """The first way `payload` breaks SCHEMA, or None."""
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        return f"lacks keys {missing}"
    if not isinstance(payload["metrics"], list):
        return "metrics must be a list of records {metric, value, ...}"
    for i, record in enumerate(payload["metrics"]):
        if not isinstance(record, dict) or "metric" not in record or "value" not in record:
            return f"metrics[{i}] is not a record with 'metric' and 'value': {record!r}"
        bad = {k: v for k, v in record.items() if not (v is None or isinstance(v, (str, int, float, bool)))}
        if bad:
            return f"metrics[{i}] has non-scalar fields {bad}"
    for c in payload["claims"]:
        if not isinstance(c, dict) or set(c) != set(CLAIM_KEYS):
            return f"claim {c.get('id') if isinstance(c, dict) else c!r} must have exactly the keys {CLAIM_KEYS}"
        try:
            Claim(**c)
        except ConfigError as exc:
            return str(exc)
    return None


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
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metric_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A tidy frame (columns metric, value and setting columns) as the list of records the results file holds."""
    if "metric" not in frame or "value" not in frame:
        raise DataError(f"a metrics frame needs 'metric' and 'value' columns, has {list(frame.columns)}")
    return [{k: v for k, v in record.items() if v is not None or k == "value"}  # absent setting columns dropped
            for record in to_jsonable(frame.to_dict(orient="records"))]


def write_results(folder: str | Path, chapter: str, *, config: dict, seeds: list[int],
                  metrics: list[dict] | pd.DataFrame, claims: list[Claim], timings: dict[str, float],
                  data: dict[str, str]) -> Path:
    """Validate against SCHEMA and write `<folder>/<chapter>.json` atomically; return its path."""
    if isinstance(metrics, pd.DataFrame):
        metrics = metric_records(metrics)
    payload = to_jsonable({
        "chapter": chapter, "config": config, "seeds": list(seeds), "metrics": metrics,
        "claims": [c.as_dict() if isinstance(c, Claim) else dict(c) for c in claims],
        "timings": timings, "environment": environment(), "data": data,
    })
    return _write(Path(folder), chapter, payload)


def _write(folder: Path, chapter: str, payload: dict) -> Path:
    """Check a payload against SCHEMA and write it atomically (temporary file + rename), one record per line."""
    folder.mkdir(parents=True, exist_ok=True)
    problem = _problem(payload)
    if problem:
        raise DataError(f"results of chapter {chapter!r} do not follow the schema: {problem}")
    path = folder / f"{chapter}.json"
    # one metric record per line: the file diffs record by record
    records = ",\n".join("  " + json.dumps(r, sort_keys=True, allow_nan=False) for r in payload["metrics"])
    text = json.dumps({**payload, "metrics": None}, indent=1, sort_keys=True, allow_nan=False)
    text = text.replace('"metrics": null', '"metrics": [\n' + records + "\n ]", 1)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{chapter}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def set_q_values(path: str | Path, q_values: dict[str, float | None]) -> Path:
    """Write the book-wide q-value of each claim (by id) into a chapter's results file (the appendix does this once
    every chapter has run); the file is re-validated and rewritten atomically."""
    path = Path(path)
    payload = read_results(path)
    for c in payload["claims"]:
        c["q_value"] = q_values.get(c["id"])
    return _write(path.parent, path.stem, to_jsonable(payload))


def read_results(path: str | Path) -> dict:
    """Read a results file and check it against SCHEMA."""
    path = Path(path)
    payload = json.loads(path.read_text())
    problem = _problem(payload)
    if problem:
        raise DataError(f"{path}: results file does not follow the schema: {problem}")
    return payload


class Timer:
    """Collects wall-clock seconds per named stage (`with timer("train"): ...`) and, through :meth:`count`, the
    number of runner jobs and their CPU seconds (each job runs on one thread), for the book's table of costs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def count(self, outcome: Any) -> Any:
        """Add a runner outcome's jobs and their seconds (cached jobs count the seconds they once took)."""
        self.seconds["jobs"] = self.seconds.get("jobs", 0) + len(outcome.job_seconds)
        self.seconds["job cpu seconds"] = self.seconds.get("job cpu seconds", 0.0) + float(sum(outcome.job_seconds))
        return outcome

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def default_results_dir() -> Path:
    """Where chapters write results (`settings.results_dir`: $REPLICATION_RESULTS, else `results/`)."""
    return settings.results_dir()


class _Text(str):
    """A string that shows without quotes where the prose quotes it."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value: Any) -> None:
    """Glue a value for the prose (myst-nb): numbers as plain Python values so format specs like `:.1f` work,
    strings without quotes."""
    from myst_nb import glue as myst_glue

    value = to_jsonable(value)
    myst_glue(name, _Text(value) if isinstance(value, str) else value, display=False)


def glue_all(values: dict[str, Any]) -> None:
    """Glue every (name, value) pair of a chapter's numbers for the prose."""
    for name, value in values.items():
        glue(name, value)


def seeds_phrase(claim: Claim) -> str:
    """What more seeds would do for an inconclusive test: "about N seeds would resolve it (80% power)" or "no number
    of seeds of this protocol would resolve it"; "decided" for a decisive verdict, "not a test" for a count."""
    if claim.verdict != "inconclusive":
        return "decided"
    if not claim.power:
        return "not a test"
    needed = claim.power["runs_needed"]
    return ("no number of seeds of this protocol would resolve it" if needed is None else
            f"about {needed} seeds would resolve it (80% power)")


def glue_verdicts(claims: list[Claim]) -> None:
    """Glue each claim's verdict, robustness and what more seeds would do as `verdict_<id>`, `robust_<id>` and
    `seeds_<id>`, for the prose that sums up."""
    from .experiments.claims import robustness

    for c in claims:
        glue(f"verdict_{c.id}", c.verdict)
        glue(f"robust_{c.id}", robustness(c))
        glue(f"seeds_{c.id}", seeds_phrase(c))
