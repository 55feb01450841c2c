"""Training cost of every model of the book on ML-100K, measured in one run on this machine.

For each model: wall time of one training on the comparison chapter's protocol (seed 0), time per epoch for the
iterative ones, peak extra memory, and the ratio to EASE's time (measured in the same run). Then the batched
SEMAUTO vs its per-user loop (bench/bench_semauto.py). Runs on the CPU; a CUDA device is reported when present
(the models here train on the CPU).  Usage: python bench/run_all.py [--models EASE AutoRec ...] [--threads 2]
"""

from __future__ import annotations

import argparse
import inspect
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def default_epochs(fn, name: str = "epochs"):
    """The default number of epochs of a training function (for time per epoch)."""
    return inspect.signature(fn).parameters[name].default


def main(argv=None) -> None:
    from replication import compare, datasets, report
    from replication.models import autorec, semauto, vae

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(compare.MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--semauto-users", type=int, default=100)
    parser.add_argument("--semauto-epochs", type=int, default=80)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    print(f"CPU: {report.cpu_name()} | torch threads: {args.threads} | Python {platform.python_version()} | "
          f"torch {torch.__version__}")
    print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none on this machine")
    data = datasets.load()
    ctx = compare.make_context(data, seed=0)
    epochs = {"AutoRec": default_epochs(autorec.fit_autorec), "E-AutoRec": default_epochs(autorec.fit_autorec),
              "SEMAUTO-sum": semauto.SemAuto().epochs, "SEMAUTO-kNN": semauto.SemAuto().epochs, "Mult-DAE": default_epochs(vae.fit_vae),
              "Mult-VAE": default_epochs(vae.fit_vae), "C-VAE": default_epochs(vae.fit_vae)}
    rows = []
    for name in args.models:
        _, seconds, peak_mb = compare.train_and_score(ctx, name, seed=0)
        rows.append((name, seconds, epochs.get(name), peak_mb))
    reference = next((s for n, s, _, _ in rows if n == "EASE"), None)
    print(f"\n{'model':<12} {'total s':>9} {'epochs':>7} {'s/epoch':>9} {'peak MiB':>9} {'x EASE':>8}")
    for name, seconds, n_epochs, peak in rows:
        per_epoch = f"{seconds / n_epochs:9.4f}" if n_epochs else f"{'-':>9}"
        ratio = f"{seconds / reference:8.1f}" if reference else f"{'-':>8}"
        print(f"{name:<12} {seconds:9.2f} {n_epochs or '-':>7} {per_epoch} {peak:9.1f} {ratio}")

    print("\nSEMAUTO, batched vs per-user loop (same users, same epochs):")
    import bench_semauto

    bench_semauto.main(["--users", str(args.semauto_users), "--epochs", str(args.semauto_epochs)])


if __name__ == "__main__":
    main()
