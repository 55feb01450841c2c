"""End to end: every notebook of _toc.yml executes at its real settings (as `make book` does) and writes a valid
results file whose headline numbers match the committed reference values; the book builds with zero warnings; and
a real headless browser sees every figure load, math typeset, and no error output.

Set REPLICATION_TEST_QUICK=1 to execute at the tiny parameters of notebooks/smoke.yml instead (minutes, no
regression check)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from replication import book, regression, report, results

pytestmark = pytest.mark.slow
CHECKER = Path(__file__).resolve().parent / "browser_check.html"
EXPLORER_CHECKER = Path(__file__).resolve().parent / "explorer_check.html"
NOTEBOOKS = [p.stem for p in book.toc_notebooks()]
QUICK = os.environ.get("REPLICATION_TEST_QUICK") == "1"


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def executed(results_dir) -> dict:
    """Execute every notebook of the book, at real settings unless QUICK."""
    return book.execute_all(quick=QUICK, extra_parameters={"results_dir": str(results_dir)})


@pytest.fixture(scope="module")
def html(executed) -> Path:
    return book.build_html().parent


def test_toc_lists_chapters_and_smoke_parameters_exist():
    assert "data" in NOTEBOOKS
    import yaml

    spec = yaml.safe_load(book.SMOKE_FILE.read_text())
    assert set(NOTEBOOKS) <= set(spec), f"chapters without smoke parameters: {set(NOTEBOOKS) - set(spec)}"


def test_chapters_are_thin_myst_notebooks():
    """Every chapter is a MyST text notebook with a parameters cell; its other code cells are short calls into
    replication/ (at most 15 lines, no function or class definitions outside exercise solutions)."""
    assert not list((book.ROOT / "notebooks").glob("*.ipynb")), "chapters are MyST (.md) files, not .ipynb"
    for source in book.toc_notebooks():
        notebook = book.read_notebook(source)
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        assert any("parameters" in c.metadata.get("tags", []) for c in cells), f"{source.name}: no parameters cell"
        for cell in cells:
            if "parameters" in cell.metadata.get("tags", []):
                continue
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert len(lines) <= 15, f"{source.name}: a code cell of {len(lines)} lines:\n{cell.source}"
            assert not re.search(r"^(def|class) ", cell.source, re.M), f"{source.name}: a definition in a cell"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_writes_valid_results(executed, results_dir, name):
    assert executed[name]["status"] == "ok"
    payload = results.read_results(results_dir / f"{name}.json")
    assert payload["chapter"] == name
    assert payload["claims"], f"{name}: no claims"
    assert payload["metrics"], f"{name}: no metrics"
    assert payload["data"], f"{name}: no data checksums"


@pytest.mark.skipif(QUICK, reason="reference values hold for the real settings only")
def test_headline_numbers_match_the_reference(executed, results_dir):
    references = sorted(regression.REFERENCE_DIR.glob("*.json"))
    assert references, "no reference values: run `python -m replication reference` and commit tests/reference/"
    assert {p.stem for p in references} >= set(NOTEBOOKS), "a chapter has no reference values"
    report = regression.compare_folder(results_dir)
    moved = {chapter: lines for chapter, lines in report.items() if lines}
    assert not moved, "results moved from tests/reference/ (regenerate only after review):\n" + json.dumps(moved, indent=1)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_notebooks_print_no_warnings(executed, name):
    """The book hides stderr (progress bars); make sure nothing else, such as a warning, is hidden with it."""
    notebook = json.loads((book.EXECUTED / "notebooks" / f"{name}.ipynb").read_text())
    stderr = ["".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", [])
              if o.get("name") == "stderr"]
    warnings = [t for t in stderr if re.search(r"warn|error", t, re.I) and "TqdmWarning: IProgress" not in t]
    assert not warnings, f"{name} printed warnings: {warnings[:3]}"


def test_book_builds_every_page(html):
    for name in book.toc_files():
        assert (html / f"{name}.html").exists(), name
    assert (html / "index.html").exists()
    for source in book.toc_notebooks():  # each chapter offers its executed notebook for download
        page = html / "notebooks" / f"{source.stem}.html"
        link = re.search(r'href="([^"]*_sources/notebooks/[^"]*\.ipynb)"', page.read_text())
        assert link and (page.parent / link.group(1)).resolve().exists(), f"{source.stem}: no source download"


def browser_view(page: Path, checker: Path = CHECKER) -> dict:
    """Open `page` in headless Chromium, with the network disabled (every host name fails to resolve, every proxied
    request goes nowhere), through `checker` (an HTML page that reports what it saw) and return the report."""
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
           "--allow-file-access-from-files", "--virtual-time-budget=15000",
           f"--user-data-dir={tempfile.mkdtemp()}", "--dump-dom", f"{checker.as_uri()}#{page.resolve().as_uri()}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout
    found = re.search(r'<pre id="result">(.*?)</pre>', out, re.S)
    assert found and found.group(1) != "pending", f"browser gave no report for {page}"
    return json.loads(unescape(found.group(1)))  # --dump-dom writes the report's "&", "<" as entities


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("name", book.toc_files())
def test_reader_sees_figures_math_and_no_errors(html, name):
    view = browser_view(html / f"{name}.html")
    assert view["broken"] == [], f"{name}: images that do not load: {view['broken']}"
    assert view["tracebacks"] == 0, f"{name}: the page shows an error or traceback"
    assert view["math_raw"] == 0, f"{name}: math left as raw LaTeX"
    assert view["external"] == [], f"{name}: the page requests resources from the network: {view['external']}"
    assert view["wide_tables"] == [], f"{name}: tables cut off behind a horizontal scroll bar: {view['wide_tables']}"
    if name.startswith("notebooks/") and name.split("/")[1] not in report.SUMMARIES:
        assert view["headline_first"], f"{name}: no headline box before the first section"
    if view["math_elements"]:
        assert view["mathjax_loaded"] and view["math_typeset"] > 0, f"{name}: MathJax did not typeset the math"
    source = book.ROOT / f"{name}.md"
    if source.exists() and "_figure(" in source.read_text():
        assert view["images"] > 0, f"{name}: a chapter with plots shows no figure"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_math_is_typeset_offline(html):
    view = browser_view(html / "book" / "intro.html")
    assert view["math_elements"] > 0 and view["math_typeset"] >= view["math_elements"]


def embedded_explorer(page: Path) -> dict:
    """The data the explorer of `page` was built with, read from the HTML file (not from the browser)."""
    found = re.search(r'<script type="application/json" class="aex-data">(.*?)</script>', page.read_text(), re.S)
    assert found, f"{page.name}: no pipeline explorer"
    return json.loads(found.group(1))  # JSON reads the "<\/" the page escapes "</" with


def decoded(stage: dict) -> np.ndarray:
    if "values" in stage:
        return np.array(stage["values"])
    codes = np.frombuffer(base64.b64decode(stage["bytes"]), dtype=np.uint8)
    return stage["lo"] + codes / 255 * (stage["hi"] - stage["lo"])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_reader_can_use_the_explorer_and_the_questions_offline(html):
    """Pick every user and model of the teaching chapter's explorer, step through the stages, hover and click one,
    open every check-your-understanding answer: what is shown matches the embedded top-10 lists and stages, changes
    with the selection, and the page requests nothing from the network."""
    page = html / "notebooks" / "autoencoders.html"
    data = embedded_explorer(page)
    view = browser_view(page, EXPLORER_CHECKER)
    assert "error" not in view, view.get("error")
    assert view["explorers"] == view["ready"] == 1, "the explorer did not start"
    assert view["external"] == [], f"network requests: {view['external']}"
    pairs = {(s["user"], s["model"]) for s in view["selections"]}
    assert pairs == {(u, m) for u in range(len(data["users"])) for m in range(len(data["models"]))}
    for shown in view["selections"]:
        person, run = data["users"][shown["user"]], data["models"][shown["model"]]["runs"][shown["user"]]
        assert shown["shown"] == run["top"] and len(run["top"]) == data["k"], shown
        assert all(t.startswith(data["titles"][i]) for t, i in zip(shown["titles"], run["top"]))
        assert not set(run["top"]) & set(person["rated"]), "a recommended film the user already rated"
        assert shown["marked"] == [i for i in run["top"] if i in set(person["held_out"])]
        assert shown["inputs"] == person["rated"][:data["k"]]
    assert len({tuple(s["shown"]) for s in view["selections"]}) > 1, "the list never changes with the selection"
    last = data["models"][view["stepped"]["model"]]
    sizes = [layer["size"] for layer in last["layers"]]
    assert [s["stage"] for s in view["steps"]] == list(range(len(sizes)))
    assert [s["selected"] for s in view["steps"]] == list(range(len(sizes)))
    stages = last["runs"][view["stepped"]["user"]]["stages"]
    assert view["steps"][0]["bars"] == np.count_nonzero(decoded(stages[0])), "input: one bar per rated film"
    assert [s["bars"] for s in view["steps"][1:]] == sizes[1:], "one bar per value of each later stage"
    assert view["steps"][-1]["red"] == data["k"], "the output stage marks the top-k films"
    assert all(layer["name"] in s["text"] for layer, s in zip(last["layers"], view["steps"]))
    assert view["hover"] == {"during": 1, "after": len(sizes) - 1}, "hovering previews a stage, leaving restores"
    assert view["click"] == {"shown": 1, "selected": 1, "bars": sizes[1]}
    assert len(view["answers"]) >= 3, "the check-your-understanding block has too few questions"
    for answer in view["answers"]:
        assert not answer["before"] and answer["after"], f"an answer does not open on click: {answer['question']}"
        assert re.search(r"\d\.\d", answer["answer"]) and "glue" not in answer["answer"], answer
