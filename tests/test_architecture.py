"""The layering the book relies on, checked on the source: data -> models -> evaluation -> experiments -> chapters
-> book, no module importing from a layer above its own (at module level or inside a function); model files hold
networks and their recommenders only (no data loading, no evaluation); one training loop, one process pool; every
environment setting read in one module; what a cache shares cannot be changed in place by one of its users."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "replication"
# lowest first; a module belongs to the layer of its longest matching prefix
LAYERS = [
    ("base", ["replication.errors", "replication.checks", "replication.settings", "replication.papers"]),
    ("data", ["replication.datasets", "replication.grouplens", "replication.features", "replication.splits",
              "replication.synthetic", "replication.neighbours"]),
    ("models", ["replication.models"]),
    ("evaluation", ["replication.metrics", "replication.explain", "replication.faithfulness", "replication.latent",
                    "replication.teaching", "replication.profiling"]),
    ("experiments", ["replication.experiments", "replication.results", "replication.report", "replication.plots",
                     "replication.explorer"]),
    ("chapters", ["replication.chapters"]),
    ("book", ["replication.book", "replication.cli", "replication.regression", "replication.__main__"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    """The index of the module's layer (None for the package itself)."""
    matches = [(len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
               if module == p or module.startswith(p + ".")]
    return max(matches)[1] if matches else None


def imports(path: Path, type_checking: bool = False) -> list[tuple[str, bool]]:
    """(imported module, inside a function) for every import of a replication module in `path`, imports under
    `if TYPE_CHECKING:` left out unless `type_checking`."""
    tree = ast.parse(path.read_text())
    skip = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                skip.update(id(n) for n in ast.walk(node))
    top = {id(n) for n in tree.body}
    module, is_package = module_name(path), path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = module.split(".") if is_package else module.split(".")[:-1]
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        found += [(n, id(node) not in top) for n in names if n.startswith("replication")]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(p) for p in SOURCES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer(m) is None] == ["replication"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_no_module_imports_from_a_layer_above_its_own(path):
    own = layer(module_name(path))
    upward = sorted({name for name, _ in imports(path) if name in MODULES and (layer(name) or 0) > (own or 0)})
    assert not upward, f"{module_name(path)} ({LAYERS[own][0]}) imports {upward} from above"


def test_below_the_chapters_no_function_reaches_into_another_layer():
    """Function-local imports hide a dependency; below the chapters they stay inside their own layer (the book's
    command line imports lazily, so that `--help` does not load torch)."""
    hidden = []
    for path in SOURCES:
        own = layer(module_name(path))
        if own is None or own >= layer("replication.chapters"):
            continue
        hidden += [f"{module_name(path)} -> {name}" for name, local in imports(path)
                   if local and name in MODULES and layer(name) not in (None, own)]
    assert not hidden, hidden


def test_model_modules_do_not_load_data_or_evaluate():
    for path in sorted((PACKAGE / "models").glob("*.py")):
        forbidden = {name.split(".")[1] for name, _ in imports(path) if name.count(".") >= 1} & \
            {"datasets", "splits", "metrics", "experiments", "grouplens"}
        assert not forbidden, f"{path.name} imports {sorted(forbidden)}"


def test_one_training_loop_and_one_process_pool():
    for path in SOURCES:
        text = path.read_text()
        if path.name != "training.py":
            assert ".backward()" not in text and "optimizer.step()" not in text, f"a training loop in {path}"
        if path.name != "runner.py":
            for pool in ("ProcessPoolExecutor", "get_reusable_executor", "Parallel(", "multiprocessing"):
                assert pool not in text, f"{path} starts its own process pool ({pool})"


def test_environment_settings_are_read_in_one_module():
    readers = [p.name for p in SOURCES if "os.environ" in p.read_text() or "getenv(" in p.read_text()]
    assert readers == ["settings.py"], readers


def test_shared_data_cannot_be_changed_through_a_cache():
    from replication.experiments import protocols

    first = protocols.load_data()
    first.ratings.loc[0, "rating"] = 99.0  # a user's change lands on its own copy (pandas copy-on-write)
    assert protocols.load_data().ratings.loc[0, "rating"] != 99.0
    features = protocols.item_features(2, "genres")
    with pytest.raises(ValueError, match="read-only"):
        features.matrix.data[0] = 5.0
