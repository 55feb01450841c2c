"""Chapter "SEMAUTO": one semantics-aware autoencoder per user (Bellini et al. 2017/2018), trained for all users at
once; profiles, explanations, feature summation and user-kNN on a per-user holdout, with controls and ablations.

Protocol: per seed, a per-user holdout (20% of each user's ratings to test) and a validation part carved from the
training part the same way (20% of it). Every model is fitted on the remaining training ratings; the number of
neighbours k of the kNN recommenders is chosen per seed on the validation part (nDCG@10); the test part only
reports. A held-out rating >= 4 is relevant; every item not rated in training or validation is ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import explain, metrics, models, plots, results
from ..checks import check_seeds
from ..experiments import claims as C
from ..experiments import runner
from ..experiments.protocols import holdout, item_features, load_data
from ..models import semauto as S
from .common import setup, write

PARAMETERS = dict(seeds=[0, 1, 2, 3, 4], epochs=1000, lr=0.3, init=0.01, loss="sum", min_items=2,
                  ks=[5, 10, 20, 30, 50], ablation_seeds=[0, 1], ablation_relations=["genres", "people"],
                  ablation_min_items=[10], show_users=[0, 12, 404], explain_max_items=50, n_jobs=2)
VARIANTS = {"SEMAUTO": {}, "unmasked": {"masked": False}, "untrained": {"epochs": 0}}
BASELINES = {"Random": {}, "Pop": {}, "ItemKNN": {}, "UserKNN (ratings)": {"binary": False}, "EASE": {}}
THRESHOLD = 4.0


def _evaluate(scores: np.ndarray, split, part: str) -> dict[str, float]:
    if part == "valid":
        return metrics.evaluate_topn(scores, split.fit_train, split.valid, ks=(10,), relevant_threshold=THRESHOLD)
    return metrics.evaluate_topn(scores, split.fit_train + split.valid, split.test, ks=(10,),
                                 relevant_threshold=THRESHOLD)


def _records(scores, split, **labels) -> list[dict[str, Any]]:
    """Test metrics, and for the kNN recommenders also validation metrics (they choose k)."""
    parts = ("valid", "test") if labels.get("recommender") == "knn" else ("test",)
    return [{**labels, "part": part, "metric": name, "value": value}
            for part in parts for name, value in _evaluate(scores, split, part).items()]


def fit_and_evaluate(seed: int, epochs: int, lr: float, init: float, loss: str, min_items: int,
                     relations: str, ks: list[int], variants: list[str], baselines: bool,
                     show_users: list[int], explain_max_items: int, keep: bool) -> runner.JobOutput:
    """Train SEMAUTO (and its controls) on one split; every recommender on the validation and test parts."""
    split = holdout(seed, "holdout", 0.2, valid_fraction=0.2)
    feats = item_features(min_items, relations)
    records, artifacts = [], {}
    fitted = {}
    for variant in variants:
        model = S.SemAuto(**{**dict(epochs=epochs, lr=lr, init=init, loss=loss), **VARIANTS[variant]})
        fitted[variant] = model.fit(split.fit_train, side=feats.matrix, snapshots=(0,) if keep else ())
        records += _records(model.variant("sum").score(), split, model=variant, recommender="sum")
        for k in ks:
            records += _records(model.variant("knn", k).score(), split, model=variant, recommender="knn", k=k)
    g = fitted[variants[0]].graph_
    records += [{"model": "SEMAUTO", "metric": name, "value": float(value)} for name, value in
                (("edges", g.n_edges), ("hidden_units", len(g.uf_user)), ("distinct_hidden_units", g.n_classes),
                 ("features", feats.n_features))]
    if baselines:
        for name, params in BASELINES.items():
            base = models.make(name.split(" ")[0], **({"seed": seed} if name == "Random" else {}), **params)
            records += _records(base.fit(split.fit_train).score(), split, model=name)
    if keep:
        artifacts = _figure_data(fitted, split, feats, show_users, explain_max_items)
    return runner.JobOutput(records, artifacts)


def _figure_data(fitted, split, feats, show_users, max_items) -> dict[str, Any]:
    """Small things the chapter's figures and tables need from the first seed's trained networks."""
    data = load_data()
    model = fitted["SEMAUTO"]
    network = model.network_
    P = model.profiles_
    user = show_users[0]
    before = S.minmax_profiles(model.graph_, network.snapshots[0])[user]
    counts = np.diff(split.fit_train.indptr)
    small = int(np.flatnonzero(counts == np.sort(counts)[40])[0])
    x_u, mask_u, items_u, feats_u = S.user_mask(split.fit_train, feats.matrix, small)
    known = split.fit_train + split.valid
    tables = []
    for name, rec in (("SEMAUTO-sum", model.variant("sum")), ("SEMAUTO-kNN k=20", model.variant("knn", 20))):
        scores = rec.score()
        table = explain.recommendations_table(P, scores, feats.matrix, feats.features, known, show_users,
                                              data.title, max_items=max_items)
        tables.append(table.assign(recommender=name))
    specific = P[user] * (feats.features["n_items"].to_numpy() <= max_items)
    return {
        "losses": {v: m.network_.losses for v, m in fitted.items() if v != "untrained"},
        "profiles": {"before training (epoch 0)": explain.top_profile_features(before, feats.features),
                     "after training": explain.top_profile_features(P[user], feats.features),
                     f"after, features of <= {max_items} films": explain.top_profile_features(specific,
                                                                                              feats.features)},
        "profile_corr": float(np.nanmean(profile_correlation(model.graph_, network.snapshots[0], network.pre_))),
        "sum_vs_nfeat": mean_rank_correlation(model.variant("sum").score(), np.diff(feats.matrix.indptr)),
        "mask": {"user": small, "mask": mask_u, "titles": [data.title(i) for i in items_u],
                 "relations": feats.features["relation"].to_numpy()[feats_u]},
        "recommendations": pd.concat(tables)[["recommender", "user", "rank", "film", "explanation"]],
    }


def mean_rank_correlation(scores: np.ndarray, values: np.ndarray) -> float:
    """Mean over users (rows) of the Spearman correlation between a row of `scores` and the per-item `values`."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)
    target = rankdata(values)
    ranks = ranks - ranks.mean(axis=1, keepdims=True)
    target = target - target.mean()
    denom = np.linalg.norm(ranks, axis=1) * np.linalg.norm(target)
    denom[denom == 0] = np.nan
    return float(np.nanmean(ranks @ target / denom))


def profile_correlation(graph: S.Graph, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-user Pearson correlation between two sets of hidden-unit values (e.g. epoch 0 and the end of training),
    over that user's hidden units; NaN for users with fewer than two units or a constant set."""
    u = graph.uf_user
    n = np.bincount(u, minlength=graph.n_users).astype(float)
    safe = np.where(n > 0, n, 1.0)
    mb = np.bincount(u, before, graph.n_users) / safe
    ma = np.bincount(u, after, graph.n_users) / safe
    db, da = before - mb[u], after - ma[u]
    cov = np.bincount(u, db * da, graph.n_users)
    var = np.sqrt(np.bincount(u, db * db, graph.n_users) * np.bincount(u, da * da, graph.n_users))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 1) & (var > 0), cov / np.where(var > 0, var, 1.0), np.nan)


@dataclass
class Result:
    frame: pd.DataFrame  # main runs: model, recommender, k, part, seed, metric, value
    ablations: pd.DataFrame
    figures: dict
    k_best: dict  # (model, seed) -> k chosen on validation
    params: dict
    timings: dict
    outcome: runner.Outcome


def run(seeds=(0, 1, 2, 3, 4), epochs: int = 1000, lr: float = 0.3, init: float = 0.01, loss: str = "sum",
        min_items: int = 2, ks=(5, 10, 20, 30, 50), ablation_seeds=(0, 1), ablation_relations=("genres", "people"),
        ablation_min_items=(10,), show_users=(0, 12, 404), explain_max_items: int = 50, n_jobs: int = 2) -> Result:
    setup()
    seeds, ablation_seeds = check_seeds(seeds), check_seeds(ablation_seeds)
    params = dict(seeds=seeds, epochs=epochs, lr=lr, init=init, loss=loss, min_items=min_items, ks=list(ks),
                  ablation_seeds=ablation_seeds, ablation_relations=list(ablation_relations),
                  ablation_min_items=list(ablation_min_items), show_users=list(show_users),
                  explain_max_items=explain_max_items, n_jobs=n_jobs)
    base = dict(epochs=epochs, lr=lr, init=init, loss=loss, ks=list(ks), show_users=list(show_users),
                explain_max_items=explain_max_items)
    jobs = [runner.Job(fit_and_evaluate, {**base, "seed": s, "min_items": min_items, "relations": "all",
                                          "variants": list(VARIANTS), "baselines": True, "keep": s == seeds[0]},
                       {"seed": s, "ablation": "main"}, cost=3.0) for s in seeds]
    ablations = [("relations", r, {"relations": r, "min_items": min_items}) for r in ablation_relations]
    ablations += [("min_items", m, {"relations": "all", "min_items": m}) for m in ablation_min_items]
    jobs += [runner.Job(fit_and_evaluate, {**base, **extra, "seed": s, "variants": ["SEMAUTO"], "baselines": False,
                                           "keep": False},
                        {"seed": s, "ablation": f"{kind}={value}"}) for kind, value, extra in ablations
             for s in ablation_seeds]
    timer = results.Timer()
    with timer("all runs"):
        outcome = runner.run(jobs, n_jobs=n_jobs, desc="SEMAUTO")
    frame = outcome.frame
    main = frame[frame["ablation"] == "main"].drop(columns="ablation")
    valid = main[(main["part"] == "valid") & (main["metric"] == "ndcg@10") & (main["recommender"] == "knn")]
    k_best = {(r.model, r.seed): int(r.k) for r in
              valid.loc[valid.groupby(["model", "seed"])["value"].idxmax()].itertuples()}
    return Result(main.reset_index(drop=True), frame[frame["ablation"] != "main"].reset_index(drop=True),
                  outcome.artifacts[0], k_best, params, timer.seconds, outcome)


# ---------------------------------------------------------------------------------------------------- selections


def method_values(result: Result, method: str, metric: str = "ndcg@10", frame: pd.DataFrame | None = None
                  ) -> pd.Series:
    """Test values per seed of a method: "SEMAUTO-kNN" (k chosen on validation), "SEMAUTO-sum", "unmasked-kNN",
    "untrained-sum", a baseline name, or "SEMAUTO-kNN k=20" (a fixed k)."""
    f = result.frame if frame is None else frame
    f = f[(f["part"] == "test") & (f["metric"] == metric)]
    if "-" in method and method.split("-")[0] in VARIANTS:
        model, rest = method.split("-", 1)
        rec, _, fixed = rest.partition(" k=")
        f = f[(f["model"] == model) & (f["recommender"] == rec.lower())]
        if rec.lower() == "knn":
            if fixed:
                f = f[f["k"] == int(fixed)]
            else:
                f = f[[int(k) == result.k_best.get((model, s), -1) for k, s in zip(f["k"], f["seed"])]]
    else:
        f = f[f["model"] == method]
    return f.set_index("seed")["value"].sort_index()


MAIN_METHODS = ["SEMAUTO-sum", "SEMAUTO-kNN", "unmasked-sum", "unmasked-kNN", "untrained-sum", "untrained-kNN",
                "Random", "Pop", "ItemKNN", "UserKNN (ratings)", "EASE"]
SHOWN = ["precision@10", "recall@10", "ndcg@10", "coverage@10", "gini@10", "novelty@10"]


def accuracy_table(result: Result) -> pd.DataFrame:
    rows = {}
    for method in MAIN_METHODS:
        row = {}
        for metric in SHOWN:
            mean, half = metrics.mean_ci(method_values(result, method, metric))
            row[metric] = f"{mean:.4f} ± {half:.4f}"
        rows[method] = row
    return pd.DataFrame(rows).T


def graph_table(result: Result) -> pd.DataFrame:
    f = result.frame[result.frame["metric"].isin(["edges", "hidden_units", "distinct_hidden_units", "features"])]
    return f.pivot_table(index="seed", columns="metric", values="value").astype(int)


def mask_figure(result: Result) -> plt.Figure:
    m = result.figures["mask"]
    order = np.argsort(-m["mask"].sum(0), kind="stable")[:60]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.imshow(m["mask"][:, order], cmap="Greys", aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(m["titles"])), [t[:28] for t in m["titles"]], fontsize=7)
    ax.set_xticks(range(len(order)), m["relations"][order], rotation=90, fontsize=6)
    plots.label_axes(ax, "hidden unit (feature, by relation; 60 most connected shown)", "input/output unit (film)",
                     f"Mask of user {m['user']}'s network: {m['mask'].shape[0]} films x {m['mask'].shape[1]} features")
    return fig


def loss_figure(result: Result) -> plt.Figure:
    fig, ax = plt.subplots()
    labels = {"SEMAUTO": "SEMAUTO (masked)", "unmasked": "same network, fully connected"}
    for variant, losses in result.figures["losses"].items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=labels[variant])
    ax.set_yscale("log")
    ax.legend()
    plots.label_axes(ax, "epoch", "training loss (sum over all users)",
                     f"Reconstruction loss, seed {result.params['seeds'][0]}")
    return fig


def profile_figure(result: Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for ax, (name, top) in zip(axes, result.figures["profiles"].items()):
        ax.barh(range(len(top))[::-1], top["weight"], color=plots.PALETTE[0])
        ax.set_yticks(range(len(top))[::-1], [t[:48] for t in top["label"]], fontsize=8)
        plots.label_axes(ax, "profile weight (min-max scaled)", "feature", name)
    fig.tight_layout()
    return fig


def k_figure(result: Result) -> plt.Figure:
    fig, ax = plt.subplots()
    ks = result.params["ks"]
    for model, label in (("SEMAUTO", "SEMAUTO profiles"), ("unmasked", "unmasked (feature sets)"),
                         ("untrained", "untrained profiles")):
        runs = np.array([method_values(result, f"{model}-kNN k={k}").to_numpy() for k in ks]).T
        plots.curve_with_ci(ax, ks, runs, label)
    ax.axhline(method_values(result, "Pop").mean(), color="grey", linestyle="--", label="popularity")
    ax.legend()
    plots.label_axes(ax, "neighbours k", "nDCG@10 (test)", "User-kNN in profile space")
    return fig


def ablation_table(result: Result) -> pd.DataFrame:
    rows = []
    groups = [("main", result.frame)] + list(result.ablations.groupby("ablation", sort=False))
    for name, frame in groups:
        if name != "main":
            frame = frame.drop(columns="ablation")
        seeds = sorted(frame["seed"].unique())
        sub = Result(frame, result.ablations, {}, result.k_best, result.params, {}, result.outcome)
        valid = frame[(frame["part"] == "valid") & (frame["metric"] == "ndcg@10") & (frame["recommender"] == "knn")
                      & (frame["model"] == "SEMAUTO")]
        sub.k_best = {("SEMAUTO", r.seed): int(r.k) for r in
                      valid.loc[valid.groupby("seed")["value"].idxmax()].itertuples()}
        knn = method_values(sub, "SEMAUTO-kNN")
        feats = frame[frame["metric"] == "features"]["value"]
        rows.append({"ablation": name, "features": int(feats.iloc[0]) if len(feats) else None,
                     "seeds": len(seeds), "ndcg@10 sum": method_values(sub, "SEMAUTO-sum").mean(),
                     "ndcg@10 kNN": knn.mean(), "ndcg@10 kNN ci": metrics.mean_ci(knn)[1],
                     "coverage@10 kNN": method_values(sub, "SEMAUTO-kNN", "coverage@10").mean()})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------- claims

ALTERNATIVE_K = 20  # a fixed neighbourhood instead of the validation-chosen one (when 20 is in ks)


def alternative_k(result: Result) -> int:
    ks = result.params["ks"]
    return ALTERNATIVE_K if ALTERNATIVE_K in ks else ks[len(ks) // 2]


def _paired(result, a, b, metric="ndcg@10", **kw):
    x, y = method_values(result, a, metric), method_values(result, b, metric)
    common = x.index.intersection(y.index)
    return C.paired(x.loc[common].to_numpy(), y.loc[common].to_numpy(), label=f"{a} - {b}", **kw)


def claims(result: Result) -> list[C.Claim]:
    out = []
    alt_k = alternative_k(result)

    def _fixed(method: str) -> str:
        return method + f" k={alt_k}" if method.endswith("kNN") else method

    def compare(cid, statement, paper, a, b, metric="ndcg@10"):
        alternatives = {f"k = {alt_k} for every kNN": _paired(result, _fixed(a), _fixed(b), metric),
                        "precision@10 instead of nDCG@10": _paired(result, a, b, "precision@10")}
        if metric != "ndcg@10":
            alternatives.pop("precision@10 instead of nDCG@10")
            alternatives["gini@10 (lower = more even)"] = _paired(result, a, b, "gini@10", higher_is_better=False)
        out.append(C.claim(cid, statement, paper, _paired(result, a, b, metric), alternatives))

    compare("plain_ae_more_accurate", "A plain autoencoder is more accurate than the KG autoencoder (authors' later "
            "ML-1M table); here: the same per-user network fully connected (its profile is the feature set), kNN, "
            "nDCG@10", "plain AE more accurate", "unmasked-kNN", "SEMAUTO-kNN")
    compare("kg_ae_more_diverse", "The KG autoencoder recommends a more diverse catalogue than the plain one "
            "(coverage@10, SEMAUTO-kNN vs unmasked-kNN)", "KG-AE more diverse", "SEMAUTO-kNN", "unmasked-kNN",
            "coverage@10")
    compare("beats_popularity", "SEMAUTO-kNN is more accurate than popularity (nDCG@10)", "yes", "SEMAUTO-kNN", "Pop")
    compare("knn_beats_sum", "User-kNN in profile space (2018) beats feature summation (2017), nDCG@10",
            "kNN preferred in 2018", "SEMAUTO-kNN", "SEMAUTO-sum")
    compare("training_adds", "Training the autoencoder adds accuracy: kNN on the trained profiles beats kNN on the "
            "untrained (initial) profiles, nDCG@10", "implied: the profile is learned", "SEMAUTO-kNN",
            "untrained-kNN")
    x, y = method_values(result, "SEMAUTO-kNN"), method_values(result, "ItemKNN")
    alternatives = {f"k = {alt_k}": C.noninferior(method_values(result, _fixed("SEMAUTO-kNN")).to_numpy(),
                                                          y.to_numpy(), margin=0.01, label="SEMAUTO-kNN - ItemKNN"),
                    "margin 0.02": C.noninferior(x.to_numpy(), y.to_numpy(), margin=0.02,
                                                 label="SEMAUTO-kNN - ItemKNN")}
    out.append(C.claim("competitive_with_cf", "SEMAUTO-kNN is at least as accurate as item-kNN (nDCG@10, "
                       "non-inferiority margin 0.01)", "competitive with CF baselines",
                       C.noninferior(x.to_numpy(), y.to_numpy(), margin=0.01, label="SEMAUTO-kNN - ItemKNN"),
                       alternatives))
    ks = result.params["ks"]
    lo, hi = (method_values(result, f"SEMAUTO-kNN k={k}").to_numpy() for k in (ks[0], ks[-1]))
    mid = method_values(result, f"SEMAUTO-kNN k={ks[len(ks) // 2]}").to_numpy()
    out.append(C.claim("more_neighbours", f"Accuracy grows from k={ks[0]} to k={ks[-1]} neighbours (nDCG@10)",
                       "best k around 50 in 2018", C.paired(hi, lo, label=f"k={ks[-1]} - k={ks[0]}"),
                       {f"k={ks[len(ks) // 2]} vs k={ks[0]}": C.paired(mid, lo, label=f"k={ks[len(ks) // 2]} - "
                                                                                        f"k={ks[0]}")}))
    abl = result.ablations
    genre = abl[abl["ablation"] == "relations=genres"]
    if len(genre):
        sub_seeds = sorted(genre["seed"].unique())
        main_k = method_values(result, f"SEMAUTO-kNN k={alt_k}").loc[sub_seeds].to_numpy()
        g = Result(genre.drop(columns="ablation"), abl, {}, {}, result.params, {}, result.outcome)
        genre_k = method_values(g, f"SEMAUTO-kNN k={alt_k}").to_numpy()
        main_sum = method_values(result, "SEMAUTO-sum").loc[sub_seeds].to_numpy()
        genre_sum = method_values(g, "SEMAUTO-sum").to_numpy()
        if len(sub_seeds) > 1:
            out.append(C.claim("all_relations_help", f"Features from all relations beat genres and subjects only "
                               f"(SEMAUTO-kNN, k={alt_k}, nDCG@10, {len(sub_seeds)} seeds)",
                               "more feature types help", C.paired(main_k, genre_k, label="all - genres"),
                               {"feature summation instead of kNN": C.paired(main_sum, genre_sum,
                                                                            label="all - genres")}))
    labels = item_features(result.params["min_items"]).features["label"]
    readable = bool(labels.str.len().gt(0).all() and not labels.str.contains(r"\bm\.0", regex=True).any())
    out.append(C.claim("explicit_profile", "Every hidden unit of SEMAUTO carries a readable label (an explicit user "
                       "model)", "by construction",
                       C.Judgement(C.all_of([readable]).verdict, f"{len(labels):,} feature labels, none a raw "
                                   "Freebase id" if readable else "some labels are raw ids", "label check"),
                       no_alternative="true by construction of the masked network: a check of the labels"))
    return out


def numbers(result: Result) -> dict:
    fig = result.figures
    out = {"n_seeds": len(result.params["seeds"]), "min_items": result.params["min_items"],
           "n_ablation_seeds": len(result.params["ablation_seeds"]),
           "explain_max_items": result.params["explain_max_items"], "user0": result.params["show_users"][0],
           "seed0": result.params["seeds"][0], "profile_corr": fig["profile_corr"],
           "sum_vs_nfeat": fig["sum_vs_nfeat"], "small_user": fig["mask"]["user"],
           "small_items": int(fig["mask"]["mask"].shape[0]), "small_feats": int(fig["mask"]["mask"].shape[1])}
    g = graph_table(result).mean()
    out |= {"n_edges_m": g["edges"] / 1e6, "n_hidden_m": g["hidden_units"] / 1e6,
            "n_classes_m": g["distinct_hidden_units"] / 1e6, "n_features": int(g["features"])}
    out["train_s"] = float(np.median([s for s in result.outcome.job_seconds[:len(result.params["seeds"])]]))
    ks = pd.Series([k for (m, _), k in result.k_best.items() if m == "SEMAUTO"])
    out["k_best"] = ", ".join(f"{k} ({n} seeds)" for k, n in ks.value_counts().sort_index().items())
    for method in MAIN_METHODS:
        key = method.replace("-", "_").replace(" ", "_").replace("(", "").replace(")", "")
        mean, half = metrics.mean_ci(method_values(result, method))
        out[f"ndcg_{key}"], out[f"ndcg_ci_{key}"] = mean, half
        out[f"cov_{key}"] = float(method_values(result, method, "coverage@10").mean())
    table = ablation_table(result)
    best = table.loc[table["ndcg@10 kNN"].idxmax()]
    out["abl_best_ndcg"], out["abl_best_name"] = float(best["ndcg@10 kNN"]), str(best["ablation"])
    out["abl_main_ndcg"] = float(table["ndcg@10 kNN"].iloc[0])
    return out


def save(result: Result, chapter_claims: list[C.Claim], results_dir: str = "") -> Path:
    config = {**result.params, "test_fraction": 0.2, "valid_fraction_of_train": 0.2,
              "relevant_threshold": THRESHOLD, "rating_scale": S.RATING_SCALE,
              "k_best": {f"{m} seed {s}": k for (m, s), k in result.k_best.items()},
              "deviations": ["MovieLens-100K with KB4Rec Freebase features instead of ML-1M/ML-20M with DBpedia",
                             "the unmasked comparison is the same per-user network fully connected (it collapses to "
                             "one effective hidden unit), not the authors' shared collaborative autoencoder",
                             "ratings divided by 5; loss = 1/2 sum over the user's rated films (Java), not the TF mean",
                             "user-kNN k chosen per seed on a validation part carved from training; every model is "
                             "fitted on the remaining 80% of the training ratings",
                             "explanations skip features linked to more than explain_max_items films",
                             "the Java code's back-propagation defects are not reproduced (textbook gradients)",
                             "word2vec-style profile enrichment of the 2018 pipeline is not reproduced"]}
    frame = pd.concat([result.frame.assign(ablation="main"), result.ablations], ignore_index=True)
    return write("semauto", results_dir, config=config, seeds=result.params["seeds"], metrics=frame,
                 claims=chapter_claims, timings=result.timings)
