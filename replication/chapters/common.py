"""Plumbing shared by the chapter modules: the chapter set-up, the results file and metric-record helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import datasets, results
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


def chapter_data(params: dict[str, Any]) -> datasets.Dataset:
    """The data set a chapter ran on (its `dataset` and `data_dir` parameters; ML-100K when it has none)."""
    return load_data(params.get("dataset", datasets.OFFLINE), params.get("data_dir", ""))


def dataset_note(params: dict[str, Any]) -> Any:
    """A visible note when a chapter ran on another data set than the book's ML-100K (None otherwise): the prose
    describes the book's run, the numbers in it come from this one."""
    from IPython.display import Markdown

    data = chapter_data(params)
    if data.name == datasets.OFFLINE and not params.get("data_dir"):
        return None
    return Markdown(f"**This run used {data.name}** ({data.n_users:,} users, {data.n_items:,} films, "
                    f"{len(data.ratings):,} ratings, {len(data.genres)} genres) from `{params.get('data_dir')}`. "
                    "The text was written for the book's run on ML-100K; every number in it is this run's.")


def records(values: dict[str, Any], **labels: Any) -> list[dict[str, Any]]:
    """{metric: value} as metric records {**labels, "metric": name, "value": value}, one per number."""
    return [{**labels, "metric": name, "value": value} for name, value in values.items()]


def write(chapter: str, results_dir: str, *, config: dict, seeds: Sequence[int], metrics: pd.DataFrame | list,
          claims: Sequence[Claim], timings: dict[str, float]) -> Path:
    """The chapter's results file (schema-checked) in `results_dir` or the project's results folder."""
    return results.write_results(results_dir or results.default_results_dir(), chapter, config=config,
                                 seeds=list(seeds), metrics=metrics, claims=list(claims), timings=timings,
                                 data=chapter_data(config).checksums)
