"""Build the book: papermill executes every chapter of `_toc.yml` into `_build/executed/`, then Jupyter Book 1.x
renders those executed copies (execution off, warnings as errors).

Chapters are MyST Markdown notebooks (`notebooks/<name>.md`, jupytext text files that diff like prose); each is
converted to .ipynb for papermill, executed, and its injected-parameters cell is hidden from the rendered page."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from .errors import ConfigError

from .settings import BUILD, EXECUTED, ROOT, RUNS  # noqa: F401  (BUILD: the build folder, for the CLI and tests)
SMOKE_FILE = ROOT / "notebooks" / "smoke.yml"


def project_root() -> Path:
    """The repository root (the package is installed in editable mode, so this is the checkout)."""
    return ROOT


def toc_files(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Every document path listed in `_toc.yml` (root first), without file extension."""
    spec = yaml.safe_load(toc.read_text())
    found = [spec["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in spec.items() if k != "root"})
    return found


def toc_notebooks() -> list[Path]:
    """The chapter sources (MyST Markdown notebooks under notebooks/) the book lists, in reading order."""
    return [ROOT / f"{name}.md" for name in toc_files()
            if name.startswith("notebooks/") and (ROOT / f"{name}.md").exists()]


def execution_order() -> list[Path]:
    """The chapters in reading order, then the pages that summarise their results files (report.SUMMARIES: the
    appendix, then the findings page that the book opens with), whatever their place in the table of contents."""
    from .report import SUMMARIES

    notebooks = toc_notebooks()
    last = [nb for name in SUMMARIES for nb in notebooks if nb.stem == name]
    return [nb for nb in notebooks if nb not in last] + last


def read_notebook(source: Path):
    """A chapter source as an nbformat notebook (MyST Markdown through jupytext, or .ipynb)."""
    import jupytext

    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                "language": "python"})
    notebook.metadata["kernelspec"].setdefault("language", "python")
    return notebook


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell `remove-cell`: readers see the chapter's own parameter cell."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, path)


def smoke_parameters(notebook: Path) -> dict[str, Any]:
    """Tiny parameters for a quick run of a notebook (tests, `--quick`), from notebooks/smoke.yml."""
    spec = yaml.safe_load(SMOKE_FILE.read_text()) if SMOKE_FILE.exists() else {}
    return dict((spec or {}).get(notebook.stem, {}))


def execute_notebook(notebook: Path, output: Path, parameters: dict[str, Any] | None = None,
                     timeout: int = 1800) -> float:
    """Execute one chapter with papermill (kernel python3, cwd = notebooks/) into `output` (.ipynb) and return its
    wall time."""
    import nbformat
    import papermill

    if not notebook.exists():
        raise ConfigError(f"no notebook {notebook}; the book lists {[p.name for p in toc_notebooks()]}")
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{notebook.stem}.ipynb"
        nbformat.write(read_notebook(notebook), source)
        papermill.execute_notebook(str(source), str(output), parameters=parameters or {}, kernel_name="python3",
                                   language="python", cwd=str(notebook.parent), execution_timeout=timeout,
                                   progress_bar=False)
    hide_injected_parameters(output)
    return time.perf_counter() - start


def parameter_names(notebook: Path) -> list[str]:
    """The names a chapter's parameters cell assigns (what `-p NAME VALUE` may set)."""
    cells = [c for c in read_notebook(notebook).cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return []
    return [t.id for node in ast.parse(cells[0].source).body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)]


class RunFailed(RuntimeError):
    """A chapter run by `python -m replication run` raised an error in one of its cells."""


def cell_failure(error: Exception) -> str:
    """One line for papermill's PapermillExecutionError: the failing cell, the error's type and first line."""
    first_line = (str(error.evalue).splitlines() or [""])[0]
    return f"failed in cell [{error.exec_count}]: {error.ename}: {first_line}"


def run_chapter(name: str, parameters: dict[str, Any], output: Path | None = None,
                quiet: bool = False) -> tuple[Path, float]:
    """Execute one chapter of the book with `parameters` into its own folder (default `_build/runs/<name>.ipynb`,
    results JSON beside it), never into the book's staging area; return the executed notebook and the wall time.

    A chapter is a name the book lists or a path to a notebook; unknown names and parameters, and values of the
    wrong type, raise ConfigError naming the allowed ones before anything runs. A failing run leaves only
    `<name>.failed.ipynb` (for reading) and raises RunFailed. `quiet`: what the kernel and papermill print on
    stderr (warnings, an interrupted kernel's traceback) goes to `<name>.log` beside the output instead."""
    import papermill

    known = {p.stem: p for p in toc_notebooks()}
    notebook = Path(name) if Path(name).suffix else known.get(name)
    if notebook is None or not notebook.exists():
        raise ConfigError(f"unknown chapter {name!r}; allowed: {', '.join(known)} (or a notebook's path)")
    notebook = notebook.resolve()
    allowed = parameter_names(notebook)
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]!r} for {notebook.stem}; allowed: {', '.join(allowed)}")
    check_parameters(notebook.stem, parameters)
    output = (Path(output) if output else RUNS / f"{notebook.stem}.ipynb").absolute()
    if output.suffix != ".ipynb":
        raise ConfigError(f"--output must be an .ipynb file, got {output}")
    if output.resolve().is_relative_to(EXECUTED.resolve()):
        raise ConfigError(f"--output {output} is inside the book's staging folder {EXECUTED}; choose another")
    parameters = dict(parameters)
    if "results_dir" in allowed:  # relative to where the command runs (the chapter itself runs in notebooks/)
        parameters["results_dir"] = str(Path(parameters.get("results_dir") or output.parent).absolute())
    failed = output.with_suffix(".failed.ipynb")
    partial = output.with_suffix(".partial.ipynb")
    failed.unlink(missing_ok=True)
    try:
        with _stderr_to(output.with_suffix(".log") if quiet else None):
            seconds = execute_notebook(notebook, partial, parameters)
    except papermill.PapermillExecutionError as error:
        if partial.exists():
            partial.replace(failed)
        raise RunFailed(f"{notebook.stem} {cell_failure(error)} (executed notebook: {failed})") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)
    return output, seconds


def check_parameters(chapter: str, parameters: dict[str, Any]) -> None:
    """A book chapter's parameters checked against its Config (names and types) before a kernel starts."""
    import importlib

    try:
        module = importlib.import_module(f"replication.chapters.{chapter}")
    except ModuleNotFoundError:
        return  # a notebook outside the book: its own cells check what they read
    module.Config.of({k: v for k, v in parameters.items() if k in module.Config.names()})


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """Send this process's stderr, and that of the processes it starts (the kernel), to `path` (None: leave it)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def notebook_job(notebook: str, output: str, parameters: dict[str, Any]):
    """One chapter execution as a job of the runner (the book's one process pool): its wall time as a record."""
    from .experiments.runner import JobOutput

    return JobOutput([{"metric": "seconds", "value": execute_notebook(Path(notebook), Path(output), parameters)}])


def execute_side_by_side(tasks: list[tuple[Path, Path, dict[str, Any]]], parallel: int = 2) -> list[float]:
    """Execute (chapter, output, parameters) tasks `parallel` at a time, each in a worker process of the runner
    (papermill changes the working directory, so not in threads), and return their wall times.

    For runs that mostly wait (kernel start, imports), such as the tests' tiny-parameter runs. The book executes its
    chapters one at a time, each on both cores through its runner: two at once (four workers and two kernels on two
    cores) was measured slower for the whole book, 674 s against 632 s, the time-sliced processes spending 12% more
    CPU time on the same work."""
    from .experiments import runner

    jobs = [runner.Job(notebook_job, {"notebook": str(nb), "output": str(out), "parameters": params})
            for nb, out, params in tasks]
    return runner.run(jobs, n_jobs=parallel, use_cache=False, progress=False).frame["value"].tolist()


def execute_all(quick: bool = False, only: list[str] | None = None,
                extra_parameters: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Execute every notebook of the book into _build/executed/notebooks/, recording time and status of each.
    `extra_parameters` (e.g. a results_dir) are passed to every notebook."""
    log: dict[str, dict[str, Any]] = {}
    for notebook in execution_order():
        if only and notebook.stem not in only:
            continue
        params = {**(smoke_parameters(notebook) if quick else {}), **(extra_parameters or {})}
        print(f"[book] executing {notebook.relative_to(ROOT)}" + (f" with {params}" if params else ""), flush=True)
        target = EXECUTED / notebook.relative_to(ROOT).with_suffix(".ipynb")
        try:
            seconds = execute_notebook(notebook, target, params)
            log[notebook.stem] = {"seconds": round(seconds, 1), "status": "ok", "parameters": params}
            print(f"[book]   done in {seconds:.1f} s", flush=True)
        except Exception as exc:  # record, then stop the build: a failed chapter must not render as if fine
            log[notebook.stem] = {"seconds": None, "status": f"failed: {type(exc).__name__}", "parameters": params}
            write_log(log)
            raise
        write_log(log)
    return log


def write_log(log: dict[str, dict[str, Any]]) -> None:
    """Keep the per-notebook execution log beside the executed notebooks (read by the appendix)."""
    EXECUTED.mkdir(parents=True, exist_ok=True)
    (EXECUTED / "execution_log.json").write_text(json.dumps(log, indent=2) + "\n")


def stage_sources() -> Path:
    """Copy the book's sources into _build/executed/ beside the executed notebooks, ready for Jupyter Book."""
    EXECUTED.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, EXECUTED / name)
    if (EXECUTED / "book").exists():
        shutil.rmtree(EXECUTED / "book")
    shutil.copytree(ROOT / "book", EXECUTED / "book")
    if (EXECUTED / "_static").exists():
        shutil.rmtree(EXECUTED / "_static")
    shutil.copytree(ROOT / "book" / "_static", EXECUTED / "_static")  # Jupyter Book loads the CSS files found there
    missing = [p for p in toc_notebooks() if not (EXECUTED / p.relative_to(ROOT).with_suffix(".ipynb")).exists()]
    if missing:
        raise ConfigError(f"notebooks not executed yet: {[str(p.relative_to(ROOT)) for p in missing]}")
    return EXECUTED


def build_html() -> Path:
    """Run `jupyter-book build` on the staged sources with warnings as errors; return the index page."""
    source = stage_sources()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--path-output", str(ROOT),
           "-W", "-n", "--keep-going"]
    print(f"[book] {' '.join(cmd)}", flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise SystemExit(f"jupyter-book build failed (exit {done.returncode}); see the warnings above")
    index = BUILD / "html" / "index.html"
    print(f"[book] open {index}")
    return index


def build(quick: bool = False) -> Path:
    """Execute every notebook, then render the book."""
    execute_all(quick=quick)
    return build_html()
