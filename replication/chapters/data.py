"""Chapter "The data": MovieLens-100K and its Freebase knowledge graph, described and checked against their
documented sizes."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import datasets, features, plots, results
from ..experiments import claims as C
from ..experiments.protocols import item_features, load_data
from ..checks import check_int
from .common import ChapterConfig, ChapterResult, param, records, setup

EXPECTED = {"ratings": 100_000, "users": 943, "items": 1_682, "linked_items": 1_598, "triples": 91_600}
PRUNING = (1, 2, 5, 10)


@dataclass(frozen=True)
class Config(ChapterConfig):
    """The data chapter's settings."""

    chapter = "data"
    min_items: int = param(2, "a feature linked to one film only cannot relate two films (SEMAUTO's pruning)")
    n_examples: int = param(3, "films whose features are printed")

    def validate(self) -> None:
        check_int("min_items", self.min_items, 1)
        check_int("n_examples", self.n_examples, 0)


# the claims of the headline box at the top of the chapter (and of the findings page)
HEADLINE = ("size_ratings", "size_users", "size_items", "size_triples")


def run(config: Config = Config()) -> ChapterResult:
    """Load the data and build the knowledge-graph features (checked and parsed; nothing is trained here), with the
    feature counts of every pruning threshold the chapter shows."""
    setup()
    timer = results.Timer()
    with timer("load"):
        data = load_data()
        feats = item_features(config.min_items)
        triples = features.fold_triples(data)
        pruned = {k: item_features(k) for k in sorted({*PRUNING, 1})}
    pruning = pd.DataFrame([{"min_items": k, "features": f.n_features, "item-feature links": f.matrix.nnz,
                             "items with no feature": int((np.diff(f.matrix.indptr) == 0).sum())}
                            for k, f in pruned.items()]).set_index("min_items")
    result = ChapterResult(pd.DataFrame(), config, timer.seconds,
                           {"data": data, "features": feats, "triples": triples, "pruning": pruning,
                            "headline": HEADLINE})
    result.frame = pd.DataFrame(records({k: v for k, v in numbers(result).items() if k != "min_items"}))
    return result


def summary_table(result: ChapterResult) -> pd.DataFrame:
    return pd.DataFrame([result["data"].summary()]).T.rename(columns={0: "count"})


def ratings_figure(result: ChapterResult) -> plt.Figure:
    """Rating distribution, activity per user and the long tail of item popularity."""
    data = result["data"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    counts = data.ratings["rating"].value_counts().sort_index()
    axes[0].bar(counts.index.astype(int), counts.to_numpy())
    plots.label_axes(axes[0], "rating (stars)", "number of ratings", "Rating distribution")
    axes[1].hist(np.diff(data.rating_matrix().indptr), bins=50)
    plots.label_axes(axes[1], "ratings per user", "number of users", "Activity per user")
    ranked = np.sort(np.bincount(data.ratings["item"], minlength=data.n_items))[::-1]
    axes[2].plot(np.arange(1, len(ranked) + 1), ranked)
    axes[2].set_yscale("log")
    plots.label_axes(axes[2], "item rank by popularity", "ratings (log scale)", "The long tail")
    fig.tight_layout()
    return fig


def relations_table(result: ChapterResult) -> pd.DataFrame:
    """Item-entity links and distinct entities per (folded) relation."""
    table = result["triples"].groupby("relation").agg(links=("item", "size"), entities=("entity", "nunique"))
    return table.sort_values("links", ascending=False)


def relations_figure(result: ChapterResult) -> plt.Figure:
    table = relations_table(result)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh(table.index[::-1], table["links"].to_numpy()[::-1])
    plots.label_axes(ax, "item-entity links after folding inverse relations", "relation",
                     "Knowledge-graph links per relation")
    fig.tight_layout()
    return fig


def pruning_table(result: ChapterResult) -> pd.DataFrame:
    """Features, links and featureless items for several pruning thresholds (features linked to >= k films)."""
    return result["pruning"].loc[list(PRUNING)]


def features_figure(result: ChapterResult) -> plt.Figure:
    fig, ax = plt.subplots()
    ax.hist(np.diff(result["features"].matrix.indptr), bins=40)
    plots.label_axes(ax, f"features per item (min_items={result.config.min_items})", "number of items",
                     "Features per item")
    fig.tight_layout()
    return fig


def readable_features(result: ChapterResult) -> pd.DataFrame:
    """The first features of the most-rated films, with the labels the explanations print."""
    data, M = result["data"], result["features"]
    famous = np.argsort(-np.bincount(data.ratings["item"], minlength=data.n_items))[:result.config.n_examples]
    return pd.DataFrame([{"film": data.title(item), "relation": M.features.loc[f, "relation"],
                          "feature label": M.features.loc[f, "label"]}
                         for item in famous for f in M.item_features(item)[:6]])


def genres_figure(result: ChapterResult) -> plt.Figure:
    data = result["data"]
    genre_counts = pd.Series(data.genre_matrix().sum(0), index=datasets.GENRES).sort_values()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].barh(genre_counts.index, genre_counts.to_numpy())
    plots.label_axes(axes[0], "number of films", "genre", "Films per genre")
    axes[1].hist(data.users["age"], bins=30)
    plots.label_axes(axes[1], "age (years)", "number of users", "User ages")
    fig.tight_layout()
    return fig


def numbers(result: ChapterResult) -> dict:
    """The values the prose quotes."""
    data = result["data"]
    R = data.rating_matrix()
    per_user = np.diff(R.indptr)
    ranked = np.sort(np.bincount(data.ratings["item"], minlength=data.n_items))[::-1]
    out = {f"n_{k}": v for k, v in data.summary().items()}
    out |= {"density_pct": 100 * R.nnz / (data.n_users * data.n_items), "median_per_user": float(np.median(per_user)),
            "min_per_user": int(per_user.min()), "n_features": result["features"].n_features,
            "min_items": result.config.min_items,
            "head_share_pct": 100 * ranked[: int(0.2 * len(ranked))].sum() / ranked.sum(),
            "n_entities": int(result["triples"]["entity"].nunique()),
            "n_features_all": int(result["pruning"].loc[1, "features"])}
    return out


def claims(result: ChapterResult) -> list[C.Claim]:
    """The sizes of the data set, checked exactly (the triples within 100): MovieLens-100K's as its publication
    gives them, the knowledge graph's as the book records the shipped KB4Rec files (a check of the files)."""
    summary = result["data"].summary()
    out = []
    for key, value in EXPECTED.items():
        tolerance = 100 if key == "triples" else 0
        judged = C.Judgement(C.all_of([abs(summary[key] - value) <= tolerance]).verdict,
                             f"{summary[key]:,}", f"count, tolerance {tolerance}")
        ours = key in ("linked_items", "triples")
        source = C.BOOK if ours else C.cite("movielens", "Table 1 (MovieLens 100K: 100,000 ratings by 943 users "
                                                         "on 1,682 movies)")
        what = "the shipped KB4Rec files hold" if ours else "MovieLens-100K has"
        out.append(C.claim(f"size_{key}", f"{what} about {value:,} {key.replace('_', ' ')}", value, judged,
                           no_alternative="a count of the data files", source=source))
    return out
