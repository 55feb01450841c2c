"""The same seed gives the same results: each notebook, executed twice at its tiny parameters, writes results
files whose metrics and verdicts are identical. The two executions of a chapter run side by side, so they also
show that sharing the machine with another run changes no number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replication import book, regression, report

pytestmark = pytest.mark.slow
NOTEBOOKS = [nb for nb in book.toc_notebooks() if nb.stem not in report.SUMMARIES]  # they summarise the chapters


@pytest.fixture(scope="module")
def twice(tmp_path_factory) -> Path:
    """Every chapter executed twice ("a" and "b"), two executions at a time."""
    folder = tmp_path_factory.mktemp("determinism")
    tasks = [(nb, folder / run / f"{nb.stem}.ipynb", {**book.smoke_parameters(nb), "results_dir": str(folder / run)})
             for nb in NOTEBOOKS for run in ("a", "b")]
    book.execute_side_by_side(tasks, parallel=2)
    return folder


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_same_seed_same_results(twice, notebook):
    runs = [json.loads((twice / run / f"{notebook.stem}.json").read_text()) for run in ("a", "b")]
    assert regression.compare(runs[0], runs[1], rtol=0.0, atol=0.0) == []
    assert regression.headline(runs[0])["metrics"], "nothing numeric to compare"
