"""Plumbing shared by the chapter modules: the chapter set-up, the results file and metric-record helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import results
from ..experiments import runner
from ..experiments.claims import Claim
from ..experiments.protocols import load_data


def setup() -> None:
    """What every chapter does first: one thread per process (the runner adds processes), the book's plot style,
    and tables that show their text in full (claims, explanations)."""
    from .. import plots

    runner.limit_threads()
    plots.use_book_style()
    pd.set_option("display.max_colwidth", None)


def records(values: dict[str, Any], **labels: Any) -> list[dict[str, Any]]:
    """{metric: value} as metric records {**labels, "metric": name, "value": value}, one per number."""
    return [{**labels, "metric": name, "value": value} for name, value in values.items()]


def write(chapter: str, results_dir: str, *, config: dict, seeds: Sequence[int], metrics: pd.DataFrame | list,
          claims: Sequence[Claim], timings: dict[str, float]) -> Path:
    """The chapter's results file (schema-checked) in `results_dir` or the project's results folder."""
    return results.write_results(results_dir or results.default_results_dir(), chapter, config=config,
                                 seeds=list(seeds), metrics=metrics, claims=list(claims), timings=timings,
                                 data=load_data().checksums)
