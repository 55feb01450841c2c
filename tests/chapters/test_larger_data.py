"""Every chapter that needs no knowledge graph runs end to end on a larger MovieLens layout by one parameter."""

from __future__ import annotations

import json

import pytest

from replication import book, cli, datasets, synthetic


def smoke_arguments(chapter: str) -> list[str]:
    notebook = next(p for p in book.toc_notebooks() if p.stem == chapter)
    params = book.smoke_parameters(notebook)
    if chapter == "comparison":
        params["models"] = [m for m in params["models"] if not m.startswith("SEMAUTO")]
    return [arg for name, value in params.items() for arg in ("-p", name, repr(value))]


@pytest.mark.parametrize("chapter, layout", [("eautorec", "ml-1m"), ("autoencoders", "ml-20m"),
                                             ("cvae", "ml-100k"), ("comparison", "ml-1m")])
def test_a_chapter_runs_on_a_larger_data_set_by_one_parameter(tmp_path, capsys, chapter, layout):
    data_dir = synthetic.prepare_download(layout, tmp_path, n_users=400, n_items=300, n_ratings=14000)
    output = tmp_path / "runs" / f"{chapter}.ipynb"
    code = cli.main(["run", chapter, "-p", "dataset", layout, "-p", "data_dir", str(data_dir),
                     *smoke_arguments(chapter), "--output", str(output)])
    assert code == 0, capsys.readouterr().err
    saved = json.loads(output.with_suffix(".json").read_text())
    assert saved["config"]["dataset"] == layout and saved["config"]["data_dir"] == str(data_dir)
    assert saved["data"] == datasets.load(layout, data_dir).checksums
    assert saved["metrics"], "the chapter measured something"
    assert f"This run used {layout}" in output.read_text(), "the chapter says which data it ran on"
