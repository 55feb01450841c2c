"""Regression check of headline numbers: compare a fresh execution's results files with reference values committed
in `tests/reference/`, so a change that silently moves a result fails the tests.

Compared: every metric record of each chapter (relative tolerance RTOL or absolute ATOL, whichever is looser; metrics
that measure time or memory are skipped, and so are epoch counts, see SKIP_WORDS) and every claim's verdict, main and
sensitivity (exactly).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

RTOL = 0.02  # 2%: floating-point noise across machines of the same kind, never a real change of a result
ATOL = 0.005  # for metrics near zero
# Not compared: time and memory depend on the machine; so do epoch counts of early-stopped runs: on a flat validation
# curve, last-bit differences between CPU kinds moved one E-AutoRec run's best epoch from 419 to 292 in CI while every
# metric stayed within RTOL. What the epochs produce (the metrics) and the convergence verdicts are still compared.
SKIP_WORDS = ("time", "seconds", "memory", "peak", "wall", "speed", "epoch")
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "tests" / "reference"
SMOKE_REFERENCE_DIR = REFERENCE_DIR / "smoke"  # the same at the tiny parameters of notebooks/smoke.yml
SMOKE_CHAPTERS = ("data", "autoencoders", "semauto", "eautorec", "cvae", "comparison", "faithfulness")


def record_key(record: dict) -> str:
    """A metric record's identity: its non-value fields, sorted, as 'metric=ndcg@10|model=EASE|seed=0'."""
    return "|".join(f"{k}={record[k]}" for k in sorted(record) if k != "value")


def headline(payload: dict) -> dict[str, Any]:
    """The part of a results file under regression: numeric metric records (timing and memory metrics skipped) and
    claim verdicts (main and sensitivity)."""
    metrics = {}
    for record in payload.get("metrics", []):
        if isinstance(record.get("value"), (int, float)) and not isinstance(record.get("value"), bool) and \
                not any(word in str(record.get("metric", "")).lower() for word in SKIP_WORDS):
            metrics[record_key(record)] = float(record["value"])
    verdicts = {}
    for c in payload.get("claims", []):
        verdicts[c["id"]] = c["verdict"]
        for alt in c.get("sensitivity", []):
            verdicts[f"{c['id']} [{alt['choice']}]"] = alt["verdict"]
    return {"metrics": metrics, "verdicts": verdicts}


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


def run_smoke(chapter: str, results_dir: Path) -> Path:
    """Run one chapter's module (not its notebook) at its smoke parameters and write its results file: the cheap
    check of headline numbers the fast test suite makes. A smoke parameter the chapter's Config does not have is an
    error, not dropped."""
    import importlib

    from .book import ROOT, smoke_parameters
    from .chapters.common import save

    module = importlib.import_module(f"replication.chapters.{chapter}")
    params = {k: v for k, v in smoke_parameters(ROOT / "notebooks" / f"{chapter}.md").items() if k != "results_dir"}
    result = module.run(module.Config.of(params))
    return save(result, module.claims(result), str(results_dir))
