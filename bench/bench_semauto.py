"""Batched SEMAUTO (all users' networks as one sparse edge computation) vs the per-user loop of the same math.

The loop trains one network per user: `--loop dense` (default) is the literal dense masked autoencoder
(`tests/oracles.py`'s `reference_user`, what the authors' code does); `--loop edges` runs the batched code on one user at a time.
The batched model trains the same users' networks at once. Same users, same epochs, same settings; prints both wall
times and their ratio, and checks the two agree. Usage: python bench/bench_semauto.py --users 100 --epochs 80
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test oracles live in tests/oracles.py


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="number of users (random sample; 943 = all)")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--loop", default="dense", choices=["dense", "edges"], help="per-user implementation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)

    from replication import splits
    from replication.experiments import runner
    from replication.experiments.protocols import item_features, load_data
    from replication.models import semauto as S
    from tests.oracles import reference_fit

    runner.limit_threads()
    data, feats = load_data(), item_features(2)
    split = splits.holdout_split(data.ratings, 0.2, seed=args.seed, shape=(data.n_users, data.n_items))
    rng = np.random.default_rng(args.seed)
    users = np.sort(rng.choice(data.n_users, size=min(args.users, data.n_users), replace=False))
    train = split.train[users]  # the chosen users only, for both versions
    dtype = np.dtype(args.dtype)

    start = time.perf_counter()
    graph = S.build_graph(train, feats.matrix)
    fast = S.MaskedNetworks(epochs=args.epochs, dtype=dtype).fit(train, feats.matrix, graph=graph)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    if args.loop == "dense":
        loop = reference_fit(train, feats.matrix, range(len(users)), epochs=args.epochs, dtype=dtype)["profiles"]
    else:
        loop = np.vstack([S.MaskedNetworks(epochs=args.epochs, dtype=dtype).fit(train[[u]], feats.matrix).profiles()
                          for u in range(len(users))])
    per_user = time.perf_counter() - start

    gap = np.abs(fast.profiles() - loop).max()
    print(f"users={len(users)} epochs={args.epochs} dtype={args.dtype} edges={graph.n_edges:,} "
          f"hidden units={len(graph.uf_user):,} (classes {graph.n_classes:,})")
    print(f"batched (incl. building the edges): {batched:8.2f} s")
    print(f"per-user loop ({args.loop:>5}):          {per_user:8.2f} s")
    print(f"ratio per-user / batched: {per_user / batched:.1f}x   (max profile difference {gap:.2e})")
    return per_user / batched


if __name__ == "__main__":
    main()
