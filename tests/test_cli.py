"""The command line: help lists the commands; parameter values parse as literals; every user error exits non-zero
with one line naming the problem and the allowed values (a traceback only with --debug); `run` writes into its own
folder, never into the book's staging area, and a failed run leaves only a `.failed.ipynb` to read."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from replication import book, cli, datasets
from replication.errors import ConfigError, DataError


def one_line_error(text: str, *needles: str) -> None:
    lines = [line for line in text.splitlines() if line.strip() and "IPKernelApp" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    assert "Traceback" not in text
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "replication", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("book", "run", "data", "download", "reference"):
        assert command in out.stdout


@pytest.mark.parametrize("text,value", [("5", 5), ("0.1", 0.1), ("1e-3", 0.001), ("[1, 2]", [1, 2]), ("True", True),
                                        ("all", "all"), ("[EASE, Mult-VAE]", ["EASE", "Mult-VAE"]), ("true", True),
                                        ("{AutoRec: {epochs: 2}}", {"AutoRec": {"epochs": 2}}), ("[0, 1]", [0, 1]),
                                        ("'quoted'", "quoted"), ("", "")])
def test_parse_value(text, value):
    assert cli.parse_value(text) == value


def test_unknown_chapter_is_one_line_naming_the_chapters():
    out = subprocess.run([sys.executable, "-m", "replication", "run", "nosuchchapter"], capture_output=True,
                         text=True)
    assert out.returncode == 2
    one_line_error(out.stderr, "unknown chapter 'nosuchchapter'", "autoencoders, data, semauto")


def test_debug_shows_the_traceback():
    with pytest.raises(ConfigError, match="unknown chapter 'nope'"):
        cli.main(["run", "nope", "--debug"])
    with pytest.raises(ConfigError, match="unknown chapter 'nope'"):
        cli.main(["--debug", "run", "nope"])


def test_unknown_parameter_names_the_allowed_ones(capsys):
    assert cli.main(["run", "data", "-p", "min_itemz", "5"]) == 2
    one_line_error(capsys.readouterr().err, "unknown parameter 'min_itemz' for data", "min_items, n_examples")


@pytest.mark.parametrize("argv,needle", [(["frob"], "invalid choice: 'frob'"),
                                         (["download", "ml-25m", "--dest", "x"], "'ml-1m', 'ml-20m'"),
                                         (["run"], "notebook")])
def test_usage_errors_are_one_line(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    one_line_error(capsys.readouterr().err, needle)


def test_output_inside_the_staging_area_is_refused(capsys):
    target = book.EXECUTED / "notebooks" / "data.ipynb"
    assert cli.main(["run", "data", "--output", str(target)]) == 2
    one_line_error(capsys.readouterr().err, "inside the book's staging folder")


def staged() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in (book.EXECUTED / "notebooks").glob("*")} \
        if (book.EXECUTED / "notebooks").exists() else {}


def test_run_writes_into_its_own_folder(tmp_path, capsys):
    before = staged()
    assert cli.main(["run", "data", "--output", str(tmp_path / "data.ipynb")]) == 0
    assert (tmp_path / "data.ipynb").exists() and (tmp_path / "data.json").exists(), "notebook and results beside"
    assert not list(tmp_path.glob("*.partial.ipynb")) and not list(tmp_path.glob("*.failed.ipynb"))
    assert staged() == before, "the book's staging area was touched"
    assert "executed data" in capsys.readouterr().out


FAILING = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

```{code-cell} ipython3
:tags: [parameters]

results_dir = ""
```

```{code-cell} ipython3
raise ValueError("the chapter broke here")
```
"""


def test_a_failing_run_is_one_line_and_leaves_only_a_failed_notebook(tmp_path, capfd):
    """A run whose cell raises: one line on stderr (file descriptor level: nothing from the kernel, its warnings
    and interrupt traces go to the run's .log), only the failed notebook left, the last good run kept."""
    notebook = tmp_path / "broken.md"
    notebook.write_text(FAILING)
    (tmp_path / "broken.ipynb").write_text("an earlier successful run")
    before = staged()
    assert cli.main(["run", str(notebook), "--output", str(tmp_path / "broken.ipynb")]) == 2
    one_line_error(capfd.readouterr().err, "broken failed in cell", "ValueError: the chapter broke here",
                   "broken.failed.ipynb")
    assert (tmp_path / "broken.failed.ipynb").exists() and not list(tmp_path.glob("*.partial.ipynb"))
    assert (tmp_path / "broken.ipynb").read_text() == "an earlier successful run", "the last good run is kept"
    assert (tmp_path / "broken.log").exists()
    assert staged() == before, "the book's staging area was touched"


def test_a_parameter_of_the_wrong_type_is_one_line_before_anything_runs(tmp_path, capsys):
    assert cli.main(["run", "data", "-p", "min_items", "many", "--output", str(tmp_path / "data.ipynb")]) == 2
    one_line_error(capsys.readouterr().err, "parameter min_items must be an integer, got 'many'")
    assert not list(tmp_path.iterdir()), "nothing was executed"
    assert cli.main(["run", "cvae", "-p", "seeds", "[0, x]", "--output", str(tmp_path / "c.ipynb")]) == 2
    one_line_error(capsys.readouterr().err, "parameter seeds must be a list of integers, got [0, 'x']")


def test_a_list_of_names_is_read_as_a_reader_types_it(monkeypatch):
    seen = {}
    monkeypatch.setattr(book, "run_chapter", lambda name, params, output, quiet: (seen.update(params),
                                                                                 (Path("x.ipynb"), 0.0))[1])
    assert cli.main(["run", "comparison", "-p", "models", "[EASE, Mult-VAE]", "-p", "seeds", "[0, 1]"]) == 0
    assert seen == {"models": ["EASE", "Mult-VAE"], "seeds": [0, 1]}


@pytest.fixture()
def offline_cache(tmp_path, monkeypatch):
    """An empty data cache whose wheel cannot be fetched (no network), and no data set loaded in this process."""
    monkeypatch.setenv("REPLICATION_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "fetch_wheel", lambda dest: (_ for _ in ()).throw(
        DataError(f"could not fetch {datasets.WHEEL_SPEC}; place {datasets.WHEEL_NAME} in {dest} by hand")))
    datasets.load_movielens_100k.cache_clear()
    yield tmp_path
    datasets.load_movielens_100k.cache_clear()


def test_missing_data_is_one_line(offline_cache, capsys):
    assert cli.main(["data"]) == 2
    one_line_error(capsys.readouterr().err, "ml-100k.inter is missing or damaged", datasets.WHEEL_NAME)


def test_damaged_data_is_named(offline_cache, capsys):
    folder = offline_cache / "ml-100k"
    folder.mkdir()
    for name in datasets.FILES:
        (folder / name).write_bytes(b"")  # empty files: every one fails its checksum
    assert cli.main(["data"]) == 2
    one_line_error(capsys.readouterr().err, "ml-100k.inter is missing or damaged")


def test_a_bad_archive_is_one_line(tmp_path, capsys):
    archive = tmp_path / "mirror" / "ml-1m.zip"
    archive.parent.mkdir()
    archive.write_bytes(b"not a zip archive")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    code = cli.main(["download", "ml-1m", "--dest", str(tmp_path / "data"), "--url", archive.as_uri(),
                     "--sha256", digest, "--no-progress"])
    assert code != 0
    one_line_error(capsys.readouterr().err, "ml-1m")


def test_a_failing_chapter_of_the_book_is_one_line(monkeypatch, capsys):
    import papermill

    def fail(quick=False):
        raise papermill.PapermillExecutionError(cell_index=3, exec_count=4, source="x", ename="ConfigError",
                                                evalue="seeds must be a list\nmore", traceback=["..."])

    monkeypatch.setattr(book, "execute_all", fail)
    assert cli.main(["book"]) == 2
    one_line_error(capsys.readouterr().err, "a chapter failed in cell [4]: ConfigError: seeds must be a list")


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(book, "execute_all", lambda quick=False: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["book"])
