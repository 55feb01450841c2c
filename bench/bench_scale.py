"""What a larger MovieLens costs: each chapter that runs without the knowledge graph, executed at its smoke
parameters on ML-100K and on synthetic data sets of ML-100K's and ML-1M's size (``replication.synthetic``, in the
ML-1M file layout, prepared by the same download-and-verify path a reader uses), with wall time, the chapter's own
compute time and the peak memory of the whole process tree (kernel + workers, sampled every 0.1 s).

Each synthetic size runs twice: as the chapters run it ("dense": score matrices up to 64M entries held whole,
ML-1M included) and "blocked" (REPLICATION_DENSE_ENTRIES=0: every score matrix and E computed by blocks of users,
the code path ML-20M's 3.7 billion entries take). The ML-20M prediction extrapolates each chapter's blocked
compute time and peak memory from the two sizes with a power law in the number of ratings (20.0M / 1.0M = 20x
more). It is a prediction, printed as one.

Usage: python bench/bench_scale.py [--chapters autoencoders eautorec] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path

SIZES = {"ML-100K-sized": (943, 1682, 100_000), "ML-1M-sized": (6040, 3706, 1_000_209)}
ML20M_RATINGS = 20_000_263
CHAPTERS = ("autoencoders", "eautorec", "cvae", "comparison")


class PeakMemory:
    """Peak summed RSS (MiB) of this process and all its descendants, sampled on a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.process, self.interval, self.peak = psutil.Process(), interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self.process, *self.process.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 2**20)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_chapter(name: str, source: dict[str, str], out: Path, blocked: bool = False) -> dict[str, float]:
    """One smoke execution of `name` on `source`: wall s, compute s (the chapter's own timings), peak MiB;
    `blocked`: every score matrix by blocks of users (the kernel and its workers inherit the setting)."""
    from replication import book

    os.environ["REPLICATION_DENSE_ENTRIES"] = "0" if blocked else ""
    notebook = next(p for p in book.toc_notebooks() if p.stem == name)
    params = book.smoke_parameters(notebook) | source | {"results_dir": str(out)}
    if name == "comparison":  # the same models on every data set (SEMAUTO needs ML-100K's knowledge graph)
        params["models"] = [m for m in params["models"] if not m.startswith("SEMAUTO")]
    start = time.perf_counter()
    with PeakMemory() as memory:
        book.run_chapter(name, params, output=out / f"{name}.ipynb")
    wall = time.perf_counter() - start
    timings = json.loads((out / f"{name}.json").read_text())["timings"]
    return {"wall_s": wall, "compute_s": float(sum(timings.values())), "peak_mib": memory.peak}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=list(CHAPTERS), choices=CHAPTERS)
    parser.add_argument("--modes", nargs="+", default=["dense", "blocked"], choices=["dense", "blocked"])
    parser.add_argument("--keep", type=Path, default=None, help="keep the synthetic data and runs here")
    args = parser.parse_args(argv)
    from replication import synthetic

    os.environ["REPLICATION_CACHE"] = "off"  # measure the computation, never a cache hit
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    sources = {"ML-100K": {"dataset": "ml-100k", "data_dir": ""}} if "dense" in args.modes else {}
    for label, size in SIZES.items():
        start = time.perf_counter()
        data_dir = synthetic.prepare_download("ml-1m", root / label, n_users=size[0], n_items=size[1],
                                              n_ratings=size[2])
        sources[label] = {"dataset": "ml-1m", "data_dir": str(data_dir)}
        print(f"[bench] {label}: {size[0]:,} users x {size[1]:,} items, ~{size[2]:,} ratings, written and verified "
              f"in {time.perf_counter() - start:.1f} s", flush=True)
    rows = []
    for name in args.chapters:
        for label, source in sources.items():
            for mode in [m for m in args.modes if label in SIZES or m == "dense"]:
                measured = run_chapter(name, source, root / "runs" / label / mode, blocked=mode == "blocked")
                rows.append({"chapter": name, "data": label, "mode": mode, **measured})
                print(f"[bench] {name:12s} {label:14s} {mode:8s} wall {measured['wall_s']:6.1f} s  compute "
                      f"{measured['compute_s']:6.1f} s  peak {measured['peak_mib']:7.0f} MiB", flush=True)
    (root / "bench_scale.json").write_text(json.dumps(rows, indent=1))
    print(f"\n[bench] measurements in {root / 'bench_scale.json'}")
    if "blocked" not in args.modes:
        return
    print("\nML-20M predicted from the two synthetic sizes, blocked (power law in the number of ratings, smoke "
          "settings):")
    ratio = SIZES["ML-1M-sized"][2] / SIZES["ML-100K-sized"][2]
    for name in args.chapters:
        small, large = (next(r for r in rows if r["chapter"] == name and r["data"] == d and r["mode"] == "blocked")
                        for d in SIZES)
        line = [f"{name:12s}"]
        for key, unit in (("compute_s", "s"), ("peak_mib", "MiB")):
            exponent = math.log(large[key] / small[key]) / math.log(ratio)
            predicted = large[key] * (ML20M_RATINGS / SIZES["ML-1M-sized"][2]) ** exponent
            line.append(f"{key.split('_')[0]} x{large[key] / small[key]:.1f} per 10x ratings (exponent "
                        f"{exponent:.2f}) -> {predicted:,.0f} {unit}")
        print("  ".join(line))


if __name__ == "__main__":
    main()
