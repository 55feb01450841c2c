"""Regression check of headline numbers: compare a fresh execution's results files with reference values committed
in `tests/reference/`, so a change that silently moves a result fails the tests.

Compared: every numeric leaf of each chapter's `metrics` (relative tolerance RTOL or absolute ATOL, whichever is
looser; keys that measure time or memory are skipped) and every claim's verdict (exactly).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

RTOL = 0.02  # 2%: floating-point noise across machines of the same kind, never a real change of a result
ATOL = 0.005  # for metrics near zero
SKIP_WORDS = ("time", "seconds", "memory", "peak", "wall", "speed")
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "tests" / "reference"


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested dict/list as {'a.b.0': 1.0}, skipping timing/memory keys."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if any(word in str(key).lower() for word in SKIP_WORDS):
                continue
            out.update(flatten(item, f"{prefix}{key}."))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}{index}."))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix.rstrip(".")] = float(value)
    return out


def headline(payload: dict) -> dict[str, Any]:
    """The part of a results file under regression: numeric metrics and claim verdicts."""
    return {"metrics": flatten(payload.get("metrics", {})),
            "verdicts": {c["id"]: c["verdict"] for c in payload.get("claims", [])}}


def compare(fresh: dict, reference: dict, rtol: float = RTOL, atol: float = ATOL) -> list[str]:
    """Differences between two results payloads, as readable lines (empty when they agree)."""
    new, old = headline(fresh), headline(reference)
    problems = []
    for key in sorted(set(old["metrics"]) | set(new["metrics"])):
        if key not in new["metrics"] or key not in old["metrics"]:
            problems.append(f"metric {key}: present in only one of fresh / reference")
            continue
        a, b = new["metrics"][key], old["metrics"][key]
        if not (math.isclose(a, b, rel_tol=rtol, abs_tol=atol)):
            problems.append(f"metric {key}: fresh {a:.6g} vs reference {b:.6g}")
    for key in sorted(set(old["verdicts"]) | set(new["verdicts"])):
        if new["verdicts"].get(key) != old["verdicts"].get(key):
            problems.append(f"claim {key}: verdict {new['verdicts'].get(key)!r} vs reference {old['verdicts'].get(key)!r}")
    return problems


def compare_folder(results_dir: Path, reference_dir: Path = REFERENCE_DIR) -> dict[str, list[str]]:
    """Compare each reference chapter with the fresh results file of the same name."""
    report = {}
    for ref in sorted(reference_dir.glob("*.json")):
        fresh = results_dir / ref.name
        if not fresh.exists():
            report[ref.stem] = [f"no fresh results file {fresh}"]
            continue
        report[ref.stem] = compare(json.loads(fresh.read_text()), json.loads(ref.read_text()))
    return report


def update_reference(results_dir: Path, reference_dir: Path = REFERENCE_DIR) -> list[Path]:
    """Copy the results files of a full execution into the reference folder (after a reviewed change)."""
    reference_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(results_dir).glob("*.json")):
        shutil.copy2(path, reference_dir / path.name)
        written.append(reference_dir / path.name)
    return written
