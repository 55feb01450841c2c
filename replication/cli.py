"""Command line: `python -m replication book | run | data | download` (see `--help`)."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def parse_value(text: str):
    """Read a parameter value as a Python literal when possible (5, 0.1, [1, 2], True), else as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m replication`."""
    parser = argparse.ArgumentParser(prog="python -m replication",
                                     description="Build and rerun the book on explainable autoencoders.")
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute every notebook with papermill, then build the HTML book")
    book.add_argument("--quick", action="store_true", help="tiny parameters from notebooks/smoke.yml (minutes)")
    book.add_argument("--no-execute", action="store_true", help="render the already-executed notebooks only")

    run = sub.add_parser("run", help="execute one notebook with parameters, e.g. run semauto -p epochs 50")
    run.add_argument("notebook", help="notebook name (e.g. 'data') or path")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--output", help="where to write the executed notebook (default _build/executed/notebooks/)")

    reference = sub.add_parser("reference", help="regenerate the regression reference values in tests/reference/ "
                                                 "(executes the whole book at real settings first)")
    reference.add_argument("--from", dest="source", help="copy from this results folder instead of executing")
    reference.add_argument("--smoke", action="store_true", help="the smoke reference values of the fast test suite "
                                                                 "(tests/reference/smoke/, chapters at smoke.yml)")

    sub.add_parser("data", help="fetch and verify MovieLens-100K + knowledge graph into the data cache")

    download = sub.add_parser("download", help="download and verify an official GroupLens archive (ml-1m, ml-20m)")
    download.add_argument("name")
    download.add_argument("--dest", required=True)

    args = parser.parse_args(argv)
    if args.command == "book":
        from . import book as book_module

        if not args.no_execute:
            book_module.execute_all(quick=args.quick)
        book_module.build_html()
    elif args.command == "run":
        from . import book as book_module

        path = Path(args.notebook)
        if not path.suffix:
            path = book_module.ROOT / "notebooks" / f"{args.notebook}.md"
        output = Path(args.output) if args.output else book_module.EXECUTED / "notebooks" / f"{path.stem}.ipynb"
        params = {name: parse_value(value) for name, value in args.parameter}
        seconds = book_module.execute_notebook(path.resolve(), output, params)
        print(f"executed {path.name} in {seconds:.1f} s -> {output}")
    elif args.command == "reference":
        from . import book as book_module
        from .regression import update_reference
        from .results import default_results_dir

        if args.smoke:
            import tempfile

            from .regression import SMOKE_CHAPTERS, SMOKE_REFERENCE_DIR, run_smoke

            with tempfile.TemporaryDirectory() as tmp:
                for chapter in SMOKE_CHAPTERS:
                    run_smoke(chapter, Path(tmp))
                for path in update_reference(Path(tmp), SMOKE_REFERENCE_DIR):
                    print(f"smoke reference updated: {path}")
            return 0
        source = Path(args.source) if args.source else default_results_dir()
        if not args.source:
            book_module.execute_all(extra_parameters={"results_dir": str(source)})
        for path in update_reference(source):
            print(f"reference updated: {path}")
    elif args.command == "data":
        from .datasets import load

        print(load().summary())
    elif args.command == "download":
        from .grouplens import main_download

        return main_download([args.name, "--dest", args.dest]) or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
