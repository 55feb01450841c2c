"""The chapter skeleton: each chapter's defaults are written once (its Config) and shown in its notebook's
parameters cell, which must equal them; notebooks build the Config by name and never call run() positionally;
smoke parameters a Config does not have are an error, not dropped; configs are frozen and replace() checks names."""

from __future__ import annotations

import ast
import json
import dataclasses
import importlib
import re

import pytest

from replication import book, regression
from replication.chapters import common
from replication.errors import ConfigError

NOTEBOOKS = {nb.stem: nb for nb in book.toc_notebooks()}
NOTEBOOK_ONLY = {"results_dir"}  # where the results file goes is the notebook's, not the chapter's, business


def parameters_cell(notebook) -> dict:
    """The literal values the notebook's parameters cell assigns."""
    cell = next(c for c in book.read_notebook(notebook).cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
            if isinstance(node, ast.Assign)}


def chapter(name: str):
    return importlib.import_module(f"replication.chapters.{name}")


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_the_parameters_cell_equals_the_config_defaults(name):
    config = chapter(name).Config
    cell = parameters_cell(NOTEBOOKS[name])
    extra = set(cell) - set(config.names()) - NOTEBOOK_ONLY
    missing = set(config.names()) - set(cell)
    assert not extra and not missing, f"{name}: cell-only {sorted(extra)}, Config-only {sorted(missing)}"
    defaults = config().as_dict()
    differ = {k: (cell[k], defaults[k]) for k in config.names() if cell[k] != defaults[k]}
    assert not differ, f"{name}: the parameters cell and Config disagree on {differ}"


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebooks_build_the_config_by_name_and_run_it(name):
    text = NOTEBOOKS[name].read_text()
    assert "chapter.Config.from_parameters(globals())" in text
    assert not re.search(r"chapter\.run\((?!config\)|chapter\.Config)", text), "run() is called with a Config only"


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_every_parameter_says_why(name):
    config = chapter(name).Config
    reasons = config.reasons()
    assert list(reasons.index) == config.names()
    assert all(len(why) > 10 for why in reasons["why"]), reasons[reasons["why"].str.len() <= 10]


def test_configs_are_frozen_and_replace_checks_names():
    config = chapter("eautorec").Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seeds = (0,)
    assert isinstance(config.seeds, tuple) and config.replace(seeds=[3, 4]).seeds == (3, 4)
    with pytest.raises(ConfigError, match="unknown parameter.*'sedes'.*allowed: seeds"):
        config.replace(sedes=[1])
    with pytest.raises(ConfigError, match=r"n_folds must be an integer in \[2"):
        chapter("cvae").Config(n_folds=1)
    with pytest.raises(ConfigError, match="dataset"):
        chapter("cvae").Config(dataset="ml-2m")


def test_an_unknown_smoke_parameter_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(book, "smoke_parameters", lambda notebook: {"min_items": 2, "min_itmes": 3})
    with pytest.raises(ConfigError, match="unknown parameter.*min_itmes"):
        regression.run_smoke("data", tmp_path)


def test_from_parameters_needs_every_field():
    with pytest.raises(ConfigError, match="does not set"):
        chapter("data").Config.from_parameters({"min_items": 2})
    assert chapter("data").Config.from_parameters({"min_items": 5, "n_examples": 1, "other": 0}).min_items == 5


def test_every_chapter_module_has_the_skeleton():
    for name in NOTEBOOKS:
        module = chapter(name)
        assert issubclass(module.Config, common.ChapterConfig) and module.Config.chapter == name
        for function in ("run", "claims", "numbers"):
            assert callable(getattr(module, function, None)), f"{name} lacks {function}()"
        assert not hasattr(module, "PARAMETERS") and not hasattr(module, "save"), name


@pytest.mark.slow
def test_the_results_do_not_depend_on_the_number_of_workers(monkeypatch, tmp_path):
    """The E-AutoRec chapter at its smoke parameters with one worker (in this process) and with two worker
    processes: identical metric records and verdicts (n_jobs defaults to every core, so it must not matter)."""
    monkeypatch.setenv("REPLICATION_CACHE", "off")
    module = chapter("eautorec")
    params = {k: v for k, v in book.smoke_parameters(NOTEBOOKS["eautorec"]).items() if k != "results_dir"}
    runs = {}
    for n_jobs in (1, 2):
        result = module.run(module.Config.of({**params, "n_jobs": n_jobs}))
        runs[n_jobs] = json.loads(common.save(result, module.claims(result), str(tmp_path / str(n_jobs))).read_text())
    assert regression.compare(runs[1], runs[2], rtol=0.0, atol=0.0) == []
    assert regression.headline(runs[1])["metrics"]
