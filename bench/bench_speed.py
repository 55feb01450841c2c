"""Training speed against the arithmetic floor, measured in one run on this machine (one thread, as in the book).

Prints, for an AutoRec and an E-AutoRec epoch (ML-100K, 90% of the ratings, k = 300, full batch) on the dense and
on the sparse path (E-AutoRec also with E given as the product M @ R, as the book feeds it): seconds per epoch, the
epoch's FLOPs, the arithmetic floor (FLOPs / this machine's single-thread GEMM throughput, measured in the same run)
and the ratio measured / floor; the step without the optimizer, and the epoch with the per-epoch validation the
book's trainings run, are shown too. Then a Mult-VAE and a C-VAE epoch (600-200-600, batch 64, the C-VAE with its
18 genre conditions and 3 x n_users conditioned rows per epoch) against two floors: dense (the first layer counted
over every input, as a dense Linear computes it) and sparse (the first layer over the non-zeros only: what is left
is the dense decoder, which no implementation can skip); the C-VAE epoch also with its conditioned validation on
the C-VAE chapter's first fold. Then the VAE update at the shapes of ML-1M (6,040 x 3,706) and ML-20M
(138,493 x 26,744) on synthetic data (``replication.synthetic``, a sample of users at the real mean activity, a few
updates each), extrapolated to the full epoch. Then each chapter's execution time from the last book build
(_build/executed/execution_log.json). Where a GPU is present the epochs are timed there as well, with the speed-up
over one CPU thread.

``--thp`` allocates torch's large CPU tensors on transparent huge pages (THP_MEM_ALLOC_ENABLE=1, set before torch
is imported; the book's processes do not set it): every training step frees and re-allocates its weight-sized
gradients, and at ML-20M's shape (64 MB each) faulting in their fresh 4 KiB pages is ~30% of the update.

Usage: python bench/bench_speed.py [--epochs 20] [--parts autorec vae shapes] [--thp]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if "--thp" in sys.argv:  # before torch allocates anything: torch reads it once (see the docstring)
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def gemm_throughput(device: torch.device, repeats: int = 10, rounds: int = 5) -> float:
    """FLOP/s of a (943 x 1682) @ (1682 x 300) float32 product, the shape of AutoRec's dense layers: the best of
    `rounds` timings (the machine's capability, not its noise, sets the floor)."""
    a, b = torch.randn(943, 1682, device=device), torch.randn(1682, 300, device=device)
    return 2 * 943 * 1682 * 300 / min(_seconds(lambda: a @ b, device, repeats) for _ in range(rounds))


def _seconds(fn, device: torch.device, repeats: int) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def autorec_epoch(train, extra, sparse: bool, epochs: int, device: torch.device,
                  valid=None) -> tuple[float, float]:
    """(median seconds per epoch with the optimizer (and the per-epoch validation when `valid` is given), after a
    warm-up fit; seconds of forward + backward only)."""
    from replication.models.autorec import AutoRec

    AutoRec(hidden=300, epochs=2, sparse=sparse, device=str(device)).fit(train, side=extra)  # warm-up
    model = AutoRec(hidden=300, epochs=epochs, sparse=sparse, device=str(device), seed=0).fit(train, side=extra,
                                                                                              valid=valid)
    total = float(model.history_["seconds"].median())
    # forward + backward alone, timed on the fitted network
    net, rows = model.network_, model.rows_
    ex = model.extra_

    def step():  # the model's training step: data term by autograd, the penalty's gradient added in place
        net.zero_grad(set_to_none=True)
        if sparse:
            h = net.encode_rows(rows.pattern, rows.values, ex)
            loss = ((net.decode_at(h, rows.pattern) - rows.values) ** 2).sum()
        else:
            x = torch.zeros(rows.n_users, rows.n_items, device=device).index_put_((rows.rows, rows.items),
                                                                                  rows.values)
            out = net(x, ex)
            loss = ((out[rows.rows, rows.items] - rows.values) ** 2).sum()
        loss.backward()
        for weight in (net.enc_weight, net.dec_weight):
            weight.grad.add_(weight, alpha=3.0)

    return total, _seconds(step, device, max(3, epochs // 2))


def autorec_flops(nnz: int, n_users: int, n_items: int, k: int, extra: str, sparse: bool,
                  mixing_nnz: int = 0) -> float:
    """Multiply-adds x 2 of one training step: encoder forward, decoder forward, decoder backward (grad of h and of
    W2), encoder backward (grad of W1): five products of the input size. The extra block E, forward E W_e and
    backward E^T G: two dense (users x items) products, or, given as M @ R, four sparse ones (R W_e, M (.), M^T G,
    R^T (.))."""
    ratings = nnz if sparse else n_users * n_items
    block = {"none": 0, "dense": 2 * n_users * n_items, "mixed": 2 * (nnz + mixing_nnz)}[extra]
    return 2 * k * (5 * ratings + block)


def vae_epoch(train, epochs: int, device: torch.device, side=None, **fit: object) -> tuple[float, float, object]:
    """(median and best seconds per epoch from the second on, the fitted model) of a Mult-VAE (`side` None) or
    C-VAE (`side` = the items x conditions matrix) with the book's settings, trained for `epochs` epochs; `fit`:
    validation arguments of MultVAE.fit."""
    from replication.models.vae import MultVAE

    model = MultVAE(epochs=epochs, patience=None, seed=0, device=str(device)).fit(train, side=side, **fit)
    seconds = model.history_["seconds"].iloc[1:]
    return float(seconds.median()), float(seconds.min()), model


def vae_flops(first_nnz: float, n_rows: float, n_items: int, n_inputs: int | None = None, hidden: int = 600,
              latent: int = 200, sparse: bool = True) -> float:
    """2 x multiply-adds of `n_rows` rows' updates: the first layer's forward and weight gradient (its input needs
    none) over its `first_nnz` non-zeros (sparse) or over all `n_inputs` inputs of every row (dense: items +
    conditions); the three dense layers (hidden -> 2 x latent, latent -> hidden, hidden -> n_items) forward, input
    gradient and weight gradient."""
    dense_layers = n_rows * (hidden * 2 * latent + latent * hidden + hidden * n_items)
    first = first_nnz * hidden if sparse else n_rows * (n_inputs or n_items) * hidden
    return 2.0 * (2 * first + 3 * dense_layers)


def cvae_rows(train, side, cond_per_epoch: float = 3.0) -> tuple[int, float]:
    """(rows, expected first-layer non-zeros) of one C-VAE epoch: every user once unconditioned plus
    cond_per_epoch x n_users conditioned rows, each holding its user's items and the condition."""
    from replication.models.vae import expand_conditions

    users, conds = expand_conditions(train, side)
    nnz = np.diff(train.indptr)
    conditioned = users[conds >= 0]
    n_sample = min(len(conditioned), int(round(cond_per_epoch * train.shape[0])))
    return train.shape[0] + n_sample, float(train.nnz + n_sample * (nnz[conditioned].mean() + 1.0))


def report_vae(name: str, seconds: tuple[float, float], rows: float, first_nnz: float, n_items: int, n_inputs: int,
               throughput: float, unit: str = "epoch") -> None:
    """One line: (median, best) seconds per `unit`, its dense and sparse floors, and the ratios measured / floor
    for the median and for the best (the throughput is a best-of too: the machine's capability, not its noise)."""
    dense = vae_flops(first_nnz, rows, n_items, n_inputs, sparse=False) / throughput
    sparse = vae_flops(first_nnz, rows, n_items, n_inputs) / throughput
    median, best = seconds
    print(f"{name:<32} {1e3 * median:8.1f} ms/{unit} (best {1e3 * best:.1f}) | floor dense {1e3 * dense:7.1f} ms, "
          f"sparse {1e3 * sparse:7.1f} ms | median (best) / floor: dense {median / dense:4.2f}x "
          f"({best / dense:4.2f}x), sparse {median / sparse:4.2f}x ({best / sparse:4.2f}x)")


def vae_benchmarks(binary, genres, epochs: int, device: torch.device, throughput: float) -> dict[str, float]:
    """The Mult-VAE and C-VAE epochs on `binary` (ML-100K positives), then the C-VAE epoch with its conditioned
    validation on the C-VAE chapter's first fold; returns the seconds per epoch by label."""
    from replication import splits
    from replication.experiments.protocols import conditioned_validation, load_data

    n_users, n_items = binary.shape
    seconds = {}
    for label, side in (("Mult-VAE", None), ("C-VAE", genres)):
        median, best, model = vae_epoch(binary, epochs, device, side)
        rows, first_nnz = (n_users, binary.nnz) if side is None else cvae_rows(binary, side)
        assert model.history_["weight"].iloc[0] == rows
        seconds[label] = median
        n_inputs = n_items + (0 if side is None else side.shape[1])
        report_vae(f"{label} (batch 64)", (median, best), rows, first_nnz, n_items, n_inputs, throughput)
    data = load_data()
    split = splits.strong_generalization_folds(data.ratings, n_folds=5, n_valid_users=100, seed=0,
                                               n_items=data.n_items)[0]
    valid, valid_conditions = conditioned_validation(split.valid_in, split.valid_out, genres)
    plain, _, _ = vae_epoch(split.train, epochs, device, genres)
    validated, _, _ = vae_epoch(split.train, epochs, device, genres, valid=valid, valid_conditions=valid_conditions)
    print(f"{'C-VAE, chapter fold 0':<32} {1e3 * plain:8.1f} ms/epoch; with its conditioned validation "
          f"({valid.target.shape[0]} rows) {1e3 * validated:8.1f} ms ({validated / plain:.2f}x)")
    return seconds


PARTS = ("autorec", "vae", "shapes")
#: name: (users, items, ratings) of the GroupLens originals, and the users sampled to time a few updates
SHAPES = {"ML-1M": (6040, 3706, 1_000_209), "ML-20M": (138_493, 26_744, 20_000_263)}
SHAPE_SAMPLE_USERS = 640


def synthetic_positives(n_users: int, n_items: int, n_ratings: int, sample: int, root: Path):
    """(positives >= 4 as a 0/1 CSR, items x genres) of `sample` synthetic users over `n_items` items at the mean
    activity of `n_ratings` / `n_users` (replication.synthetic, read back by the strict ML-1M loader)."""
    import scipy.sparse as sp

    from replication import grouplens, splits, synthetic

    folder = synthetic.write_grouplens("ml-1m", root, n_users=sample, n_items=n_items,
                                       n_ratings=int(round(n_ratings / n_users * sample)))
    ratings, items = grouplens.load_grouplens("ml-1m", folder)
    R = sp.csr_array((ratings["rating"].to_numpy(np.float32), (ratings["user_id"].to_numpy() - 1,
                                                               ratings["item_id"].to_numpy() - 1)),
                     shape=(sample, n_items))
    names = sorted({g for genres in items["genres"] for g in genres})
    G = np.zeros((n_items, len(names)), dtype=np.float32)
    for item, genres in zip(items["item_id"].to_numpy() - 1, items["genres"]):
        G[item, [names.index(g) for g in genres]] = 1.0
    return splits.positives(R), G


def shape_benchmarks(device: torch.device, throughput: float) -> None:
    """The Mult-VAE and C-VAE update at ML-1M's and ML-20M's shapes (three epochs of a user sample, the last two
    timed), against the floors per update, and the full epoch extrapolated from it."""
    with tempfile.TemporaryDirectory(prefix="bench-vae-") as root:
        for name, (n_users, n_items, n_ratings) in SHAPES.items():
            binary, genres = synthetic_positives(n_users, n_items, n_ratings, SHAPE_SAMPLE_USERS, Path(root) / name)
            for label, side in (("Mult-VAE", None), ("C-VAE", genres)):
                median, best, _ = vae_epoch(binary, 3, device, side)
                rows, first_nnz = (binary.shape[0], binary.nnz) if side is None else cvae_rows(binary, side)
                updates = int(np.ceil(rows / 64))
                per_update = median / updates
                full = int(np.ceil(n_users * rows / binary.shape[0] / 64))
                n_inputs = n_items + (0 if side is None else side.shape[1])
                report_vae(f"{label} at {name}'s shape", (per_update, best / updates), rows / updates,
                           first_nnz / updates, n_items, n_inputs, throughput, unit="update")
                print(f"{'':<32} -> {per_update * full:7.1f} s per full epoch ({full:,} updates; "
                      f"{binary.nnz / binary.shape[0]:.0f} positives per user)")


def report(name: str, seconds: float, flops: float, throughput: float, step: float | None = None) -> None:
    floor = flops / throughput
    extra = f" | step without optimizer {1e3 * step:7.1f} ms ({step / floor:5.1f}x floor)" if step else ""
    print(f"{name:<32} {1e3 * seconds:8.1f} ms/epoch | {flops / 1e9:6.3f} GFLOP | floor {1e3 * floor:7.2f} ms "
          f"| {seconds / floor:6.1f}x floor{extra}")


def main(argv=None) -> None:
    from replication import explain, metrics, splits
    from replication.experiments import runner
    from replication.experiments.protocols import load_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--thp", action="store_true", help="torch's large tensors on transparent huge pages")
    args = parser.parse_args(argv)
    runner.limit_threads()
    data = load_data()
    split = splits.random_split(data.ratings, 0.1, seed=0, shape=(data.n_users, data.n_items))
    train = split.train
    if "autorec" in args.parts:
        E = explain.explainability_matrix(train, 50, 0.0)
        mixed = explain.explainability_input(train, 50, 0.0)  # the same E as M @ R, as the book feeds it
    binary = splits.positives(train)
    genres = data.genre_matrix()
    valid = metrics.Validation(split.test, metric="rmse")  # held-out ratings (a benchmark: nothing is chosen on them)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); GPU: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none on this machine'}; "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', '')!r}")
    n_users, n_items = train.shape
    seconds = {}
    for device in devices:
        throughput = gemm_throughput(device)
        print(f"\n[{device.type}] GEMM throughput {throughput / 1e9:.1f} GFLOP/s (943 x 1682 x 300, float32)")
        if "autorec" in args.parts:
            for label, extra, kind in (("AutoRec", None, "none"), ("E-AutoRec", E, "dense")):
                for sparse in (False, True):
                    total, step = autorec_epoch(train, extra, sparse, args.epochs, device)
                    seconds[device.type, label, sparse] = total
                    flops = autorec_flops(train.nnz, n_users, n_items, 300, kind, sparse)
                    name = f"{label} {'sparse' if sparse else 'dense'} path" + (", dense E" if extra is not None
                                                                                else "")
                    report(name, total, flops, throughput, step)
                print(f"{'':<32} sparse / dense speed-up: "
                      f"{seconds[device.type, label, False] / seconds[device.type, label, True]:.1f}x")
            total, step = autorec_epoch(train, mixed, True, args.epochs, device)
            seconds[device.type, "E-AutoRec, E = M R", True] = total
            report("E-AutoRec sparse path, E = M R", total,
                   autorec_flops(train.nnz, n_users, n_items, 300, "mixed", True, mixed.mixing.nnz), throughput, step)
            print(f"{'':<32} speed-up over the dense E block: {seconds[device.type, 'E-AutoRec', True] / total:.1f}x")
            for label, extra in (("AutoRec", None), ("E-AutoRec, E = M R", mixed)):
                validated, _ = autorec_epoch(train, extra, True, args.epochs, device, valid)
                print(f"{label + ' + validation':<32} {1e3 * validated:8.1f} ms/epoch (validating every epoch, as the "
                      f"book trains: {validated / seconds[device.type, label, True]:.2f}x the epoch without)")
        if "vae" in args.parts:
            for label, total in vae_benchmarks(binary, genres, max(3, args.epochs // 2), device, throughput).items():
                seconds[device.type, label, True] = total
        if "shapes" in args.parts:
            shape_benchmarks(device, throughput)
    if len(devices) > 1:
        print("\nGPU speed-up over one CPU thread: " + ", ".join(
            f"{label} {'sparse' if s else 'dense'} {seconds['cpu', label, s] / seconds['cuda', label, s]:.1f}x"
            for (dev, label, s) in seconds if dev == "cpu"))
    log = ROOT / "_build" / "executed" / "execution_log.json"
    if log.exists():
        from replication import report as reports
        from replication import results

        table = reports.cost_table(reports.load_all_results(results.default_results_dir()),
                                   reports.execution_table(log))
        print(f"\nWhat each chapter cost in the last book build ({log.relative_to(ROOT)} and results/*.json):")
        print(table.to_string())
    else:
        print("\n(no book build yet: run `make book` for the chapters' jobs, CPU seconds and wall seconds)")

if __name__ == "__main__":
    main()
