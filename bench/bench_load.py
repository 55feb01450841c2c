"""A chapter's experiments on a quiet machine and beside one competing CPU-bound process, measured in one run.

On a shared 2-core machine a chapter's two single-threaded workers should slow down by about 1.5x when a third
process competes for the cores (three runnable processes on two cores), never collapse as multi-threaded torch does
(OpenMP threads spin while a core is taken). Prints each chapter's wall time quiet and loaded, and the ratio.

Usage: python bench/bench_load.py [--chapters eautorec semauto] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import time


def busy(stop) -> None:
    """A CPU-bound competitor: pure Python arithmetic until told to stop."""
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x = (x * 31 + i) % 1_000_003


def chapter_seconds(name: str, params: dict) -> float:
    """Wall time of the chapter's experiments (its module's run(), the notebook's bulk) at `params`."""
    module = importlib.import_module(f"replication.chapters.{name}")
    config = module.Config.of({k: v for k, v in params.items() if k != "results_dir"})
    start = time.perf_counter()
    module.run(config)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=["autoencoders", "semauto", "eautorec"])
    parser.add_argument("--smoke", action="store_true", help="the tiny parameters of notebooks/smoke.yml")
    args = parser.parse_args(argv)
    os.environ["REPLICATION_CACHE"] = "off"  # compute every job both times
    from replication import book

    print(f"{'chapter':<14} {'quiet s':>8} {'loaded s':>9} {'slowdown':>9}")
    for name in args.chapters:
        smoke = book.smoke_parameters(book.ROOT / "notebooks" / f"{name}.md")
        params = smoke if args.smoke else {}
        chapter_seconds(name, smoke)  # warm-up: data loaded, worker pool started, as for the runs that follow
        quiet = chapter_seconds(name, params)
        stop = multiprocessing.Event()
        competitor = multiprocessing.Process(target=busy, args=(stop,))
        competitor.start()
        try:
            loaded = chapter_seconds(name, params)
        finally:
            stop.set()
            competitor.join()
        print(f"{name:<14} {quiet:8.1f} {loaded:9.1f} {loaded / quiet:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
