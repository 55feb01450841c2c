"""Command line: `python -m replication book | run | reference | data | download` (see `--help`).

Every user error (unknown chapter or parameter, a failing chapter, missing or damaged data, a bad archive) exits
non-zero with one line on stderr naming the problem and the allowed values; `--debug` shows the traceback."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import yaml

from .errors import ConfigError, DataError, OneLineParser


def parse_value(text: str):
    """Read a parameter value as a reader types it: a Python literal (5, 1e-3, [1, 2], True, None), else YAML as
    papermill's -y reads it ([EASE, Mult-VAE], {AutoRec: {epochs: 2}}, true), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None else value


def build_parser() -> argparse.ArgumentParser:
    """The commands and their options; `--debug` is accepted before or after the command."""
    parser = OneLineParser(prog="python -m replication",
                           description="Build and rerun the book on explainable autoencoders.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    debug = OneLineParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback")

    book = sub.add_parser("book", parents=[debug], help="execute every notebook with papermill, then build the book")
    book.add_argument("--quick", action="store_true", help="tiny parameters from notebooks/smoke.yml (minutes)")
    book.add_argument("--no-execute", action="store_true", help="render the already-executed notebooks only")

    run = sub.add_parser("run", parents=[debug], help="execute one chapter with parameters into its own folder, "
                                                     "e.g. run semauto -p epochs 50")
    run.add_argument("notebook", help="chapter name (e.g. 'data') or a notebook's path")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--output", help="the executed notebook (default _build/runs/<chapter>.ipynb; the results "
                                      "JSON goes beside it unless -p results_dir is given)")

    reference = sub.add_parser("reference", parents=[debug], help="regenerate the regression reference values in "
                                                                  "tests/reference/ (executes the whole book first)")
    reference.add_argument("--from", dest="source", help="copy from this results folder instead of executing")
    reference.add_argument("--smoke", action="store_true", help="the smoke reference values of the fast test suite "
                                                                 "(tests/reference/smoke/, chapters at smoke.yml)")

    sub.add_parser("data", parents=[debug], help="fetch and verify MovieLens-100K + knowledge graph into the cache")
    sub.add_parser("download", help="download and verify an official GroupLens archive: download NAME --dest DIR "
                                    "(see `download --help`)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m replication`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["download"]:
        from .grouplens import main_download

        return main_download(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except Exception as error:
        if args.debug or not is_user_error(error):
            raise
        print(f"error: {one_line(error)} (--debug shows the traceback)", file=sys.stderr)
        return 2


def is_user_error(error: Exception) -> bool:
    """Errors a reader can act on (bad input, a failing chapter, a file or network problem), as opposed to bugs."""
    return isinstance(error, (ConfigError, DataError, OSError, RuntimeError)) or \
        type(error).__name__ == "PapermillExecutionError"


def one_line(error: Exception) -> str:
    """The first line of an error's message (for a chapter of `book` that failed: the cell and the error)."""
    if type(error).__name__ == "PapermillExecutionError":
        from .book import cell_failure

        return f"a chapter {cell_failure(error)} (see _build/executed/)"
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def dispatch(args: argparse.Namespace) -> int:
    """Carry out one parsed command."""
    if args.command == "book":
        from . import book as book_module

        if not args.no_execute:
            book_module.execute_all(quick=args.quick)
        book_module.build_html()
    elif args.command == "run":
        from . import book as book_module

        params = {name: parse_value(value) for name, value in args.parameter}
        output, seconds = book_module.run_chapter(args.notebook, params, args.output, quiet=not args.debug)
        print(f"executed {args.notebook} in {seconds:.1f} s -> {output}")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
