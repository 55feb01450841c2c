"""Training speed against the arithmetic floor, measured in one run on this machine (one thread, as in the book).

Prints, for an AutoRec and an E-AutoRec epoch (ML-100K, 90% of the ratings, k = 300, full batch) on the dense and
on the sparse path (E-AutoRec also with E given as the product M @ R, as the book feeds it), and for a Mult-VAE
epoch (600-200-600, batch 64): seconds per epoch, the epoch's FLOPs, the arithmetic floor (FLOPs / this machine's
single-thread GEMM throughput, measured in the same run) and the ratio measured / floor; the step without the
optimizer, and the epoch with the per-epoch validation the book's trainings run, are shown too. Then each chapter's
execution time from the last book build (_build/executed/execution_log.json). Where a GPU is present the epochs are
timed there as well, with the speed-up over one CPU thread.

Usage: python bench/bench_speed.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

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


def vae_epoch(train, epochs: int, device: torch.device) -> float:
    from replication.models.vae import MultVAE

    model = MultVAE(epochs=epochs, patience=None, seed=0, device=str(device)).fit(train)
    return float(model.history_["seconds"].median())


def vae_flops(nnz: int, n_users: int, n_items: int, hidden: int = 600, latent: int = 200) -> float:
    """Multiply-adds x 2 x 3 (forward + backward) of one epoch: sparse first layer, then dense layers."""
    dense = n_users * (hidden * 2 * latent + latent * hidden + hidden * n_items)
    return 2 * 3 * (nnz * hidden + dense)


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
    args = parser.parse_args(argv)
    runner.limit_threads()
    data = load_data()
    split = splits.random_split(data.ratings, 0.1, seed=0, shape=(data.n_users, data.n_items))
    train = split.train
    E = explain.explainability_matrix(train, 50, 0.0)
    mixed = explain.explainability_input(train, 50, 0.0)  # the same E as M @ R, as the book feeds it
    binary = splits.positives(train)
    valid = metrics.Validation(split.test, metric="rmse")  # held-out ratings (a benchmark: nothing is chosen on them)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); GPU: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none on this machine'}")
    n_users, n_items = train.shape
    seconds = {}
    for device in devices:
        throughput = gemm_throughput(device)
        print(f"\n[{device.type}] GEMM throughput {throughput / 1e9:.1f} GFLOP/s (943 x 1682 x 300, float32)")
        for label, extra, kind in (("AutoRec", None, "none"), ("E-AutoRec", E, "dense")):
            for sparse in (False, True):
                total, step = autorec_epoch(train, extra, sparse, args.epochs, device)
                seconds[device.type, label, sparse] = total
                flops = autorec_flops(train.nnz, n_users, n_items, 300, kind, sparse)
                name = f"{label} {'sparse' if sparse else 'dense'} path" + (", dense E" if extra is not None else "")
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
            print(f"{label + ' + validation':<32} {1e3 * validated:8.1f} ms/epoch (validating every epoch, as the book "
                  f"trains: {validated / seconds[device.type, label, True]:.2f}x the epoch without)")
        total = vae_epoch(binary, max(3, args.epochs // 4), device)
        seconds[device.type, "Mult-VAE", True] = total
        report("Mult-VAE (batch 64)", total, vae_flops(binary.nnz, n_users, n_items), throughput)
    if len(devices) > 1:
        print("\nGPU speed-up over one CPU thread: " + ", ".join(
            f"{label} {'sparse' if s else 'dense'} {seconds['cpu', label, s] / seconds['cuda', label, s]:.1f}x"
            for (dev, label, s) in seconds if dev == "cpu"))
    log = ROOT / "_build" / "executed" / "execution_log.json"
    if log.exists():
        entries = json.loads(log.read_text())
        total = sum(e["seconds"] or 0 for e in entries.values())
        print(f"\nChapter execution times of the last book build ({log.relative_to(ROOT)}), share of the total:")
        for name, entry in entries.items():
            print(f"  {name:<16} {entry['seconds'] or float('nan'):7.1f} s  {100 * (entry['seconds'] or 0) / total:5.1f}%")
        print(f"  {'total':<16} {total:7.1f} s")
    else:
        print("\n(no book build yet: run `make book` for the chapter execution times)")


if __name__ == "__main__":
    main()
