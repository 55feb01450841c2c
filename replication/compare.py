"""Every model of the book under one top-N protocol, on accuracy, explainability and cost.

Protocol: a per-user holdout (20% of each user's ratings to test, seeded); relevant = held-out rating >= 4; every
item the user has not rated in training is ranked; the explainability matrix E (E-AutoRec's neighbourhood
explainability, 50 neighbours, theta = 0) comes from the training ratings only and defines MEP@k for every model.
Each model is trained on the training ratings with the settings of its own chapter and scored for all users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import explain, metrics, profiling, splits
from .datasets import Dataset
from .errors import ConfigError
from .features import ItemFeatures, build_item_features
from .models import autorec, baselines, semauto, vae

KS = (10, 20)
PROTOCOL = {"split": "per-user holdout", "test_fraction": 0.2, "relevant_threshold": 4.0,
            "ranked": "all items unrated in training", "explainability": "E-AutoRec neighbourhood E",
            "n_neighbors": 50, "theta": 0.0, "ks": list(KS)}


@dataclass
class Context:
    """What every model may use for one seed: the training ratings and side information derived without test data."""

    data: Dataset
    split: splits.RatingSplit
    features: ItemFeatures
    explainability: sp.csr_array
    settings: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # results shared by models of one seed (e.g. SEMAUTO profiles)

    @property
    def train(self) -> sp.csr_array:
        return self.split.train

    @property
    def train_binary(self) -> sp.csr_array:
        """Implicit feedback for the VAEs: training ratings >= 4 (as in Liang et al.'s protocol)."""
        return sp.csr_array(self.split.train >= PROTOCOL["relevant_threshold"], dtype=np.float32)


def make_context(data: Dataset, seed: int, settings: dict | None = None, min_items: int = 2) -> Context:
    """Split with `seed` and derive the side information every model may use (from training data only)."""
    split = splits.holdout_split(data.ratings, PROTOCOL["test_fraction"], seed=seed,
                                 shape=(data.n_users, data.n_items))
    E = explain.explainability_matrix(split.train, PROTOCOL["n_neighbors"], PROTOCOL["theta"])
    return Context(data, split, build_item_features(data, min_items=min_items), E, settings or {})


# ----------------------------------------------------------------------------------------------------------------
# one runner per model: (context, seed) -> dense scores (users x items)
# ----------------------------------------------------------------------------------------------------------------

def run_baseline(name: str) -> Callable[[Context, int], np.ndarray]:
    def run(ctx: Context, seed: int) -> np.ndarray:
        return baselines.fit_score(name, ctx.train, **ctx.settings.get(name, {}))
    return run


def run_autorec(explainable: bool) -> Callable[[Context, int], np.ndarray]:
    def run(ctx: Context, seed: int) -> np.ndarray:
        extra = ctx.explainability if explainable else None
        params = ctx.settings.get("autorec", {})
        model, _ = autorec.fit_autorec(ctx.train, extra=extra, seed=seed, **params)
        return autorec.predict(model, ctx.train, extra=extra, clip=False)
    return run


def train_semauto(ctx: Context) -> np.ndarray:
    """SEMAUTO's user profiles: one training serves both recommenders (deterministic given the split)."""
    model = semauto.SemAuto(**ctx.settings.get("semauto", {})).fit(ctx.train, ctx.features.matrix)
    return model.profiles()


def run_semauto(recommender: str) -> Callable[[Context, int], np.ndarray]:
    def run(ctx: Context, seed: int) -> np.ndarray:
        profiles = ctx.cache["semauto"].result
        if recommender == "sum":
            return semauto.sum_scores(profiles, ctx.features.matrix)
        k = ctx.settings.get("semauto_k", 20)
        return semauto.knn_scores(semauto.cosine_neighbours(profiles, k), ctx.train, k)
    return run


def run_vae(kind: str) -> Callable[[Context, int], np.ndarray]:
    def run(ctx: Context, seed: int) -> np.ndarray:
        params = dict(ctx.settings.get("vae", {}))
        if kind == "dae":
            params["variational"] = False
        conditions = ctx.data.genre_matrix() if kind == "cvae" else None
        model, _ = vae.fit_vae(ctx.train_binary, conditions=conditions, seed=seed, **params)
        return vae.score(model, ctx.train_binary)
    return run


MODELS: dict[str, Callable[[Context, int], np.ndarray]] = {
    "Pop": run_baseline("pop"),
    "ItemKNN": run_baseline("itemknn"),
    "EASE": run_baseline("ease"),
    "AutoRec": run_autorec(explainable=False),
    "E-AutoRec": run_autorec(explainable=True),
    "SEMAUTO-sum": run_semauto("sum"),
    "SEMAUTO-kNN": run_semauto("knn"),
    "Mult-DAE": run_vae("dae"),
    "Mult-VAE": run_vae("vae"),
    "C-VAE": run_vae("cvae"),
}
# training shared by several models: done once per seed, its cost added to each model that uses it
SHARED: dict[str, tuple[str, Callable[[Context], object]]] = {
    "SEMAUTO-sum": ("semauto", train_semauto),
    "SEMAUTO-kNN": ("semauto", train_semauto),
}
EXPLANATIONS = {
    "Pop": "none beyond 'popular with everyone'",
    "ItemKNN": "items you rated that are similar to the recommendation",
    "EASE": "items you rated with the largest item-item weights (a linear model)",
    "AutoRec": "none (latent hidden units)",
    "E-AutoRec": "neighbour-based: how your most similar users rated the item (its E value)",
    "SEMAUTO-sum": "knowledge-graph features of the item that weigh most in your explicit feature profile",
    "SEMAUTO-kNN": "users with a similar feature profile liked it; the profile itself is labelled",
    "Mult-DAE": "none (latent code)",
    "Mult-VAE": "none (latent code); position in the latent space only",
    "C-VAE": "'because you asked for genre g': conditioned lists, and genre regions of the latent space",
}


def evaluate(ctx: Context, scores: np.ndarray) -> dict[str, float]:
    """The shared protocol's metrics for one score matrix."""
    out = metrics.evaluate_topn(scores, ctx.train, ctx.split.test, ks=KS,
                                relevant_threshold=PROTOCOL["relevant_threshold"], explainable=ctx.explainability)
    keep = ("ndcg@10", "recall@20", "map@10", "mep@10", "precision@10", "coverage@10", "novelty@10", "gini@10")
    return {k: out[k] for k in keep}


def run_comparison(data: Dataset, seeds: list[int], models: list[str] | None = None,
                   settings: dict | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per (model, seed): the protocol's metrics, training seconds and peak extra memory (MiB)."""
    names = list(MODELS) if models is None else list(models)
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise ConfigError(f"unknown models {unknown}; allowed: {list(MODELS)}")
    from tqdm.auto import tqdm

    rows = []
    jobs = [(seed, name) for seed in seeds for name in names]
    bar = tqdm(jobs, disable=not progress, desc="comparison")
    ctx = None
    for seed, name in bar:
        if ctx is None or ctx.split.seed != seed:
            ctx = make_context(data, seed, settings=dict(settings or {}))
        bar.set_postfix_str(f"seed {seed} {name}")
        scores, seconds, peak_mb = train_and_score(ctx, name, seed)
        rows.append({"model": name, "seed": seed, **evaluate(ctx, scores), "train_seconds": seconds,
                     "peak_mb": peak_mb})
    return pd.DataFrame(rows)


def train_and_score(ctx: Context, name: str, seed: int) -> tuple[np.ndarray, float, float]:
    """Train one model and score all users: (scores, seconds, peak extra MiB), shared training included."""
    seconds, peak_mb = 0.0, 0.0
    if name in SHARED:
        key, prepare = SHARED[name]
        if key not in ctx.cache:
            ctx.cache[key] = profiling.measure(prepare, ctx)
        seconds, peak_mb = ctx.cache[key].seconds, ctx.cache[key].peak_mb
    run = profiling.measure(MODELS[name], ctx, seed)
    return run.result, seconds + run.seconds, max(peak_mb, run.peak_mb)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI half-width over seeds for every metric, one row per model (in MODELS order)."""
    columns = [c for c in runs.columns if c not in ("model", "seed")]
    table = {}
    for name, group in runs.groupby("model", sort=False):
        row = {}
        for col in columns:
            mean, half = metrics.mean_ci(group[col].to_numpy())
            row[col], row[f"{col}_ci"] = mean, half
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index")
