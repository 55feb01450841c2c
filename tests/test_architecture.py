"""The layering the book relies on: model files hold networks and their recommenders only (no data loading, no
evaluation), one training loop, one process pool."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "replication"


def runtime_imports(path: Path) -> set[str]:
    """Imports outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip.update(id(n) for n in ast.walk(node))
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[-1])
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[-1] for alias in node.names)
    return names


def test_model_modules_do_not_load_data_or_evaluate():
    for path in sorted((PACKAGE / "models").glob("*.py")):
        forbidden = runtime_imports(path) & {"datasets", "splits", "metrics", "protocols", "runner"}
        assert not forbidden, f"{path.name} imports {sorted(forbidden)}"


def test_one_training_loop_and_one_process_pool():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if path.name != "training.py":
            assert ".backward()" not in text and "optimizer.step()" not in text, f"a training loop in {path}"
        if path.name != "runner.py":
            for pool in ("ProcessPoolExecutor", "get_reusable_executor", "Parallel(", "multiprocessing"):
                assert pool not in text, f"{path} starts its own process pool ({pool})"
