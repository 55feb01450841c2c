"""The same seed gives the same results: each notebook, executed twice at its tiny parameters, writes results
files whose metrics and verdicts are identical."""

from __future__ import annotations

import json

import pytest

from replication import book, regression

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", book.toc_notebooks(), ids=lambda p: p.stem)
def test_same_seed_same_results(tmp_path, notebook):
    if notebook.stem == "reproducibility":
        pytest.skip("the appendix summarises other chapters' files")
    runs = []
    for run in ("a", "b"):
        params = {**book.smoke_parameters(notebook), "results_dir": str(tmp_path / run)}
        book.execute_notebook(notebook, tmp_path / run / f"{notebook.stem}.ipynb", params)
        runs.append(json.loads((tmp_path / run / f"{notebook.stem}.json").read_text()))
    assert regression.compare(runs[0], runs[1], rtol=0.0, atol=0.0) == []
    assert regression.headline(runs[0])["metrics"], "nothing numeric to compare"
