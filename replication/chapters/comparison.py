"""Chapter "One protocol for every model": every recommender of the book trained on the same splits and measured
by the same code, on accuracy, explainability and cost.

Protocol: a per-user holdout (20% of each user's ratings to test, seeded); a validation part is carved from the
training part the same way (20% of it), and EVERY model is fitted on the remaining training ratings, so all
models see the same data; the models that train iteratively stop early on the validation part. Every model's
hyper-parameters come from a seeded random search with the same number of trials for every model, per split,
judged on that split's validation part (nDCG@10); the chosen trial's fitted model is the one tested. A held-out
rating of 4 or 5 stars is relevant; every item the user has not rated (in training or validation) is ranked. MEP uses
E-AutoRec's explainability matrix (50 neighbours, theta = 0) computed from the fitted training ratings only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import explain, metrics, models, plots, profiling, results
from ..errors import ConfigError
from ..splits import positives
from ..checks import check_seeds
from ..experiments import claims as C
from ..experiments import runner, search
from ..experiments.search import Choice, LogUniform, Uniform
from ..experiments.protocols import holdout, side_information
from .common import ChapterResult, OnData, param, setup

MODELS = ["Random", "Pop", "ItemKNN", "UserKNN", "EASE", "RP3beta", "PureSVD", "iALS", "AutoRec", "E-AutoRec",
          "SEMAUTO-sum", "SEMAUTO-kNN", "Mult-DAE", "Mult-VAE", "C-VAE"]
CONTROLS = ("Random", "Pop")  # the floors: lists that use no personal information
# each model's first trial (never chosen on a test split): its chapter's choice where a chapter tunes it (the AutoRecs'
# lambda 10, SEMAUTO's k 100, ItemKNN's k 200), the literature's common values otherwise; the trained models' epoch
# budgets with early stopping on the validation part
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "ItemKNN": {"k": 200},
    "AutoRec": {"hidden": 300, "l2": 10.0, "epochs": 200, "patience": 10},
    "E-AutoRec": {"hidden": 300, "l2": 10.0, "epochs": 200, "patience": 10},
    "SEMAUTO": {"k": 100},
    "Mult-DAE": {"epochs": 100, "patience": 10},
    "Mult-VAE": {"epochs": 100, "patience": 10},
    "C-VAE": {"epochs": 100, "patience": 10},
}
# the search space of every model with hyper-parameters (Random and Pop have none: one trial each). The ranges hold
# each model's default and the values its paper or the reproducibility studies report; epoch budgets are not searched
# (early stopping on the validation part ends every trial of a trained model)
_VAE = {"dropout": Uniform(0.2, 0.7), "lr": LogUniform(5e-4, 3e-3)}
_AUTOREC = {"hidden": Choice([100, 300, 500]), "l2": LogUniform(0.1, 100.0)}
SEARCH: dict[str, dict[str, search.Dimension]] = {
    "ItemKNN": {"k": Choice([20, 50, 100, 200, 400]), "shrink": Choice([0.0, 10.0, 50.0, 100.0])},
    "UserKNN": {"k": Choice([10, 20, 50, 100, 200])},
    "EASE": {"l2": LogUniform(10.0, 5000.0)},
    "RP3beta": {"alpha": Uniform(0.5, 1.5), "beta": Uniform(0.0, 1.0), "k": Choice([50, 100, 200])},
    "PureSVD": {"factors": Choice([10, 20, 50, 100, 200])},
    "iALS": {"factors": Choice([32, 64, 128]), "reg": LogUniform(0.01, 10.0), "alpha": LogUniform(1.0, 50.0)},
    "AutoRec": _AUTOREC, "E-AutoRec": _AUTOREC,
    "SEMAUTO": {"lr": LogUniform(0.05, 1.0), "k": Choice([20, 50, 100, 200])},  # k: SEMAUTO-kNN's neighbours
    "Mult-DAE": _VAE, "Mult-VAE": {**_VAE, "beta_cap": Uniform(0.1, 0.5)},
    "C-VAE": {**_VAE, "beta_cap": Uniform(0.1, 0.5)},
}
SELECTION = {"metric": "valid ndcg@10", "relevant": ">= 4", "candidates": "unrated in the fitted training part",
             "rtol": 0.005}  # a later trial must beat the earlier ones by more than 0.5% of the score to be chosen
PROTOCOL = {"split": "per-user holdout", "test_fraction": 0.2, "valid_fraction_of_train": 0.2,
            "relevant_threshold": 4.0, "ranked": "all items unrated in training and validation",
            "explainability": "E-AutoRec neighbourhood E of the fitted training ratings", "n_neighbors": 50,
            "theta": 0.0, "ks": [10, 20], "search": "seeded random search, the same trials for every model, per split, "
                                                 "on its validation part (nDCG@10); the first trial the defaults",
            "correlation": "Spearman across models (means over seeds), bootstrap over "
                                                      "models"}
MAIN = {"k": 10, "relevant": ">= 4", "candidates": "unrated"}
EXPLANATIONS = {
    "Random": "none", "Pop": "none beyond 'popular with everyone'",
    "ItemKNN": "items you rated that are similar to the recommendation",
    "UserKNN": "users with a history like yours rated it",
    "EASE": "items you rated with the largest item-item weights (a linear model)",
    "RP3beta": "items you rated from which a short random walk reaches the recommendation",
    "PureSVD": "none (latent factors)", "iALS": "none (latent factors)",
    "AutoRec": "none (latent hidden units)",
    "E-AutoRec": "neighbour-based: how your most similar users rated the item (its E value)",
    "SEMAUTO-sum": "knowledge-graph features of the item that weigh most in your explicit feature profile",
    "SEMAUTO-kNN": "users with a similar feature profile liked it; the profile itself is labelled",
    "Mult-DAE": "none (latent code)", "Mult-VAE": "none (latent code); position in the latent space only",
    "C-VAE": "'because you asked for genre g': conditioned lists, and genre regions of the latent space",
}


def _evaluate(scores: metrics.Scores, split, expl: metrics.Explainable) -> list[dict[str, Any]]:
    """The protocol's metrics under the main choices and the alternatives the claims are re-judged with, and the
    main choices' accuracy on the long-tail films only (held-out ratings of short-head films dropped from the test;
    every unrated film still ranked)."""
    known = split.fit_train + split.valid  # every item the system knows the user rated: never recommended
    tail = metrics.long_tail(split.fit_train)
    tail_test = sp.csr_array(split.test @ sp.diags(tail.astype(np.float64)))
    tail_test.eliminate_zeros()
    values = metrics.evaluate_topn(scores, known, tail_test, ks=(10, 20), relevant_threshold=4.0, candidates="unrated")
    out = [{"relevant": ">= 4", "candidates": "unrated", "k": int(name.split("@")[1]),
            "metric": f"tail {name.split('@')[0]}", "value": value}
           for name, value in values.items() if name.split("@")[0] in ("ndcg", "recall")]
    for relevant, threshold in ((">= 4", 4.0), ("all", None)):
        for candidates in ("unrated", "test_items"):
            values = metrics.evaluate_topn(scores, known, split.test, ks=(10, 20), relevant_threshold=threshold,
                                           explainable=expl, candidates=candidates)
            for name, value in values.items():
                metric, k = name.split("@")
                if candidates == "test_items" and metric in ("coverage", "gini", "novelty"):
                    continue
                out.append({"relevant": relevant, "candidates": candidates, "k": int(k), "metric": metric,
                            "value": value})
    return out


def fit_and_evaluate(model: str, seed: int, settings: dict[str, Any], dataset: str = "ml-100k",
                     data_dir: str = "") -> runner.JobOutput:
    """Fit one model (SEMAUTO: both recommenders from one training) on one split and record its metrics, training
    time and peak extra memory. Scores are a dense matrix up to ML-1M, a scorer of user blocks beyond."""
    source = {"dataset": dataset, "data_dir": data_dir}
    split = holdout(seed, "holdout", 0.2, valid_fraction=0.2, **source)
    expl = explain.explainable_pairs(split.fit_train, PROTOCOL["n_neighbors"], PROTOCOL["theta"])
    names = ["SEMAUTO-sum", "SEMAUTO-kNN"] if model == "SEMAUTO" else [model]
    train = split.fit_train
    valid = None
    entry = models.MODELS[names[0]]
    if entry.implicit:
        train = positives(split.fit_train)
        valid = metrics.Validation(positives(split.valid), metric="ndcg@100", exclude=train)
    elif entry.trained:
        valid = metrics.Validation(split.valid, metric="rmse")
    side = side_information(entry.side, split.fit_train, **source)
    params = {**({"seed": seed} if entry.seeded else {}), **settings}
    fitted = profiling.measure(lambda: models.make(names[0], **params).fit(train, valid=valid, side=side))
    records, per_user = [], {}
    for name in names:
        recommender = fitted.result if model != "SEMAUTO" else fitted.result.variant(
            "sum" if name == "SEMAUTO-sum" else "knn")
        # kNN models do their work here (on a block of users at a time when the matrix is too large to hold)
        scored = profiling.measure(lambda: metrics.scores_or_scorer(recommender.score, split.fit_train.shape),
                                   collect=False)  # the fit's measure has just collected the garbage
        evaluated = profiling.measure(lambda: _evaluate(scored.result, split, expl), collect=False)
        for record in evaluated.result:
            records.append({"model": name, **record})
        # the search's score: the validation part's ratings >= 4, ranked among every film not in the fitted part
        valid_ndcg = metrics.evaluate_topn(scored.result, split.fit_train, split.valid, ks=(10,),
                                           relevant_threshold=4.0, candidates="unrated")["ndcg@10"]
        records.append({"model": name, "metric": SELECTION["metric"], "value": valid_ndcg})
        # each user's nDCG@10 and MEP@10 under the main choices: the bootstrap over users of the across-model claim
        users = metrics.per_user_metrics(scored.result, split.fit_train + split.valid, split.test, ks=(10,),
                                         relevant_threshold=4.0, explainable=expl, only=["ndcg", "mep"])
        per_user[name] = {"users": users.index.to_numpy(np.int32), "ndcg": users["ndcg@10"].to_numpy(np.float32),
                          "mep": users["mep@10"].to_numpy(np.float32)}
        # with a scorer (large data) the model scores while the lists are ranked: that time is scoring time too
        score_seconds = scored.seconds + (evaluated.seconds if callable(scored.result) else 0.0)
        records += [{"model": name, "metric": "fit_and_score_seconds", "value": fitted.seconds + score_seconds},
                    {"model": name, "metric": "peak_mb", "value": max(fitted.peak_mb, scored.peak_mb, evaluated.peak_mb
                                                                      if callable(scored.result) else 0.0)}]
        history = getattr(fitted.result, "history_", None)
        if entry.trained and history is not None:
            records.append({"model": name, "metric": "epochs_trained", "value": len(history)})
    return runner.JobOutput(records, per_user)


@dataclass(frozen=True)
class Config(OnData):
    """Every model of the book on one protocol."""

    chapter = "comparison"
    seeds: tuple[int, ...] = param([0, 1, 2, 3, 4], "per-user holdout splits shared by every model")
    models: tuple[str, ...] = param([], "the models compared (empty: every model the data set allows)")
    settings: dict = param({}, "hyper-parameters per model, over DEFAULT_SETTINGS (a setting named here is "
                                    "not searched)")
    trials: int = param(4, "trials of the hyper-parameter search per model and split (1: the defaults only)")

    def validate(self) -> None:
        super().validate()
        check_seeds(self.seeds)
        if not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"comparison: trials must be an integer >= 1, got {self.trials!r}")

    @property
    def graph(self) -> bool:
        """Whether the knowledge graph exists for the data set (ML-100K as shipped)."""
        return self.dataset == "ml-100k" and not self.data_dir


def main_records(result: ChapterResult) -> pd.DataFrame:
    """Records of the main protocol choices (relevant >= 4, unrated candidates)."""
    f = result.frame
    return f[(f["relevant"] == MAIN["relevant"]) & (f["candidates"] == MAIN["candidates"])]


# the claims of the headline box at the top of the chapter (and of the findings page)
HEADLINE = ("eautorec_mep", "semauto_over_pop", "vae_over_ease", "cvae_matches_vae",
            "explainability_costs_accuracy")


def run(config: Config = Config()) -> ChapterResult:
    """Every model x seed x search trial through the runner (SEMAUTO's two recommenders share one training); per
    model and seed the trial with the best validation nDCG@10 is kept and its fitted model's test records are the
    model's. Beyond ML-100K there is no knowledge graph: the SEMAUTO models are left out of the default list and
    refused when named."""
    setup()
    c, source = config, config.source
    allowed = MODELS if c.graph else [m for m in MODELS if not m.startswith("SEMAUTO")]
    names = list(c.models or allowed)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        why = "" if c.graph else f" (without a knowledge graph, on {c.dataset})"
        raise ConfigError(f"unknown models {unknown}{why}; allowed: {allowed}")
    semauto = [m for m in names if m.startswith("SEMAUTO")]
    groups = [m for m in names if not m.startswith("SEMAUTO")] + (["SEMAUTO"] if semauto else [])
    used = {g: {**DEFAULT_SETTINGS.get(g, {}), **c.settings.get(g, {})} for g in groups}
    spaces = {g: {k: v for k, v in SEARCH.get(g, {}).items() if k not in c.settings.get(g, {})} for g in groups}
    plans = {(g, s): search.trials(spaces[g], c.trials, s, g, first=_explicit(g, spaces[g]) | used[g])
             for s in c.seeds for g in groups}
    jobs = [runner.Job(fit_and_evaluate, {"model": g, "seed": s, "settings": settings, **source},
                       labels={"seed": s, "trial": t}, cost=models.MODELS[g if g != "SEMAUTO" else semauto[0]].cost)
            for (g, s), plan in plans.items() for t, settings in enumerate(plan)]
    timer = results.Timer()
    with timer("search, train and evaluate"):
        outcome = timer.count(runner.run(jobs, n_jobs=c.n_jobs, desc="comparison"))
    frame = outcome.frame[outcome.frame["model"].isin(names)]
    frame = _keep_chosen(frame, {(m, s): plans[("SEMAUTO" if m.startswith("SEMAUTO") else m, s)]
                                 for m in names for s in c.seeds})
    kept = set(chosen_trials(frame).itertuples(index=False, name=None))
    per_user = {(m, job.labels["seed"]): values for job, found in zip(jobs, outcome.artifacts)
                for m, values in found.items() if (m, job.labels["seed"], job.labels["trial"]) in kept}
    split = holdout(c.seeds[0], "holdout", 0.2, valid_fraction=0.2, **source)
    shown = {g: {k: str(v) for k, v in space.items()} for g, space in spaces.items()}
    return ChapterResult(frame.reset_index(drop=True), config, timer.seconds,
                         {"models": names, "settings": used, "per_user": per_user, "spaces": shown,
                          "design": C.Resampling.random_splits(split.fit_train.nnz, split.test.nnz, "ratings"),
                          "protocol": {**PROTOCOL, "models": names, "model_settings": used, "trials": c.trials,
                                       "selection": SELECTION,
                                       "search_spaces": {g: space for g, space in shown.items() if space}},
                          "deviations": DEVIATIONS, "headline": HEADLINE})


def chosen_trials(frame: pd.DataFrame) -> pd.DataFrame:
    """(model, seed, trial) of every model's chosen trial: the trial its test records come from."""
    return frame.loc[frame["metric"] == "ndcg", ["model", "seed", "trial"]].drop_duplicates()


def _explicit(group: str, space: dict[str, search.Dimension]) -> dict[str, Any]:
    """The constructor's default of every searched setting, so the first trial names the values it runs with."""
    import inspect

    entry = models.MODELS["SEMAUTO-kNN" if group == "SEMAUTO" else group]
    defaults = inspect.signature(entry.build).parameters
    return {k: defaults[k].default for k in space}


def _keep_chosen(frame: pd.DataFrame, plans: dict[tuple[str, int], list[dict[str, Any]]]) -> pd.DataFrame:
    """The search's selection: per model and seed, only the chosen trial's test records (the choice reads the
    validation score alone), every trial's validation score with its settings (the search's record), and the
    search's total fit-and-score seconds."""
    valid = frame[frame["metric"] == SELECTION["metric"]].sort_values("trial")
    keep, searched = [], []
    for (model, seed), trial_scores in valid.groupby(["model", "seed"]):
        best = search.chosen(trial_scores["value"].to_numpy(), rtol=SELECTION["rtol"])
        keep.append((model, seed, int(trial_scores["trial"].iloc[best])))
        scored = trial_scores.copy()
        scored["settings"] = [json.dumps(plans[(model, seed)][int(t)], sort_keys=True) for t in scored["trial"]]
        searched.append(scored)
    chosen = pd.DataFrame(keep, columns=["model", "seed", "trial"])
    tested = frame[frame["metric"] != SELECTION["metric"]].merge(chosen, on=["model", "seed", "trial"])
    seconds = frame[frame["metric"] == "fit_and_score_seconds"].groupby(["model", "seed"], as_index=False)["value"]
    seconds = seconds.sum()
    seconds["metric"] = "search_seconds"
    return pd.concat([tested, *searched, seconds], ignore_index=True)


def search_table(result: ChapterResult) -> pd.DataFrame:
    """Per model: its search space, the settings chosen on each seed and the chosen trials' validation nDCG@10."""
    f = result.frame
    valid = f[(f["metric"] == SELECTION["metric"])]
    picked = valid.merge(chosen_trials(f), on=["model", "seed", "trial"])
    rows = []
    for model in [m for m in result["models"] if m in set(picked["model"])]:
        mine = picked[picked["model"] == model].sort_values("seed")
        group = "SEMAUTO" if model.startswith("SEMAUTO") else model
        space = result["spaces"].get(group, {})
        values = [json.loads(x) for x in mine["settings"]]
        shown = "; ".join(f"seed {s}: " + ", ".join(f"{k}={v[k]}" for k in space) for s, v in zip(mine["seed"], values)
                          ) if space else "(nothing to search)"
        rows.append({"model": model, "searched": ", ".join(f"{k} {d}" for k, d in space.items()) or "-",
                     "trials": int(valid[(valid["model"] == model)].groupby("seed").size().max()),
                     "chosen trial per seed": ", ".join(str(int(t)) for t in mine["trial"]),
                     "chosen settings": shown, "valid nDCG@10": round(float(mine["value"].mean()), 4)})
    return pd.DataFrame(rows).set_index("model")


def search_figure(result: ChapterResult) -> plt.Figure:
    """The search's best-so-far validation nDCG@10 after each trial, per model, minus the first trial's (the
    defaults): how much the search added, mean over seeds (absolute, so a model near zero does not dominate)."""
    f = result.frame
    valid = f[f["metric"] == SELECTION["metric"]]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    searched = [m for m in result["models"] if m in set(valid["model"])]
    for i, model in enumerate(searched):
        mine = valid[valid["model"] == model].pivot_table(index="seed", columns="trial", values="value")
        if mine.shape[1] < 2:
            continue
        curves = np.array([search.best_so_far(row) for row in mine.to_numpy()])
        gain = (curves - curves[:, :1]).mean(axis=0)
        n = len(plots.PALETTE)
        ax.plot(np.arange(1, len(gain) + 1), gain, marker="o", color=plots.PALETTE[i % n],
                linestyle=("-", "--", ":")[(i // n) % 3], label=model)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(1, result.config.trials + 1))
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left")
    plots.label_axes(ax, "trial (1 = the default settings)", "best validation nDCG@10 so far − trial 1's",
                     "What the search adds to each model's defaults")
    fig.tight_layout()
    return fig


DEVIATIONS = {
    "protocol": "every model is measured on a per-user 80/20 holdout (relevant = rating >= 4), not on its paper's "
                "protocol; every model is fitted on the same 80% of the training ratings, the other 20% is the "
                "validation part that trained models stop on",
    "VAEs": "the VAEs are trained on training ratings >= 4 (implicit feedback) of all users and score the same users "
            "(weak generalization)",
    "tuning": "each model's hyper-parameters come from a small seeded random search (the same number of trials for "
              "every model, the first its defaults) on each split's own validation part, not from its paper's grid "
              "or its chapter's protocol",
}


def summary(result: ChapterResult, k: int = 10) -> pd.DataFrame:
    """Mean and 95% CI over seeds of every main-protocol metric (and the costs), one row per model."""
    f = main_records(result)
    f = f[(f["k"] == k) | f["k"].isna()]
    cost = result.frame[result.frame["metric"].isin(["fit_and_score_seconds", "search_seconds", "peak_mb",
                                                     "epochs_trained"])]
    table = C.summarise(pd.concat([f, cost]), ["model", "metric"])
    wide = table.pivot(index="model", columns="metric", values=["mean", "ci"])
    out = wide["mean"].copy()
    for metric in wide["ci"].columns:
        out[f"{metric}_ci"] = wide["ci"][metric]
    return out.loc[[m for m in result["models"] if m in out.index]]


def table(result: ChapterResult) -> pd.DataFrame:
    """The chapter's table: mean +- CI of the headline metrics, mean costs."""
    s = summary(result)
    shown = ["ndcg", "recall", "map", "mep", "coverage", "novelty"]
    out = pd.DataFrame({m: [f"{s.loc[i, m]:.3f} ± {s.loc[i, m + '_ci']:.3f}" for i in s.index] for m in shown},
                       index=s.index)
    out.columns = [f"{m}@10" for m in shown]
    out["fit + score s"] = s["fit_and_score_seconds"].round(1)
    out["search s"] = s["search_seconds"].round(1)
    out["peak MiB"] = s["peak_mb"].round(0)
    return out


def tradeoff_figure(result: ChapterResult) -> plt.Figure:
    """nDCG@10 against MEP@10 and against training time, one point per model with 95% CIs."""
    s = summary(result)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for i, name in enumerate(s.index):
        row = s.loc[name]
        color = plots.PALETTE[i % len(plots.PALETTE)]
        axes[0].errorbar(row["mep"], row["ndcg"], xerr=row["mep_ci"], yerr=row["ndcg_ci"], fmt="o", color=color,
                         capsize=3)
        seconds = max(row["fit_and_score_seconds"], 1e-3)
        axes[1].errorbar(seconds, row["ndcg"], yerr=row["ndcg_ci"], fmt="o", color=color, capsize=3)
        for ax, x in ((axes[0], row["mep"]), (axes[1], seconds)):
            ax.annotate(name, (x, row["ndcg"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes[1].set_xscale("log")
    plots.label_axes(axes[0], "MEP@10 (share of the top 10 with a neighbour explanation)", "nDCG@10",
                     "Accuracy vs explainability")
    plots.label_axes(axes[1], "fit + score time per run (seconds, log scale)", "nDCG@10", "Accuracy vs cost")
    fig.tight_layout()
    return fig


def diversity_figure(result: ChapterResult) -> plt.Figure:
    s = summary(result)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.scatter(s["coverage"], s["novelty"], s=40)
    for name in s.index:
        ax.annotate(name, (s.loc[name, "coverage"], s.loc[name, "novelty"]), textcoords="offset points",
                    xytext=(5, 3), fontsize=8)
    plots.label_axes(ax, "catalogue coverage@10 (share of films recommended to anyone)",
                     "novelty@10 (mean self-information, bits)", "Beyond accuracy")
    fig.tight_layout()
    return fig


def tail_figure(result: ChapterResult) -> plt.Figure:
    """Recall@10 on every held-out film and on the long-tail films only, per model (means over seeds, 95% CIs)."""
    f = main_records(result)
    f = f[(f["k"] == 10) & f["metric"].isin(["recall", "tail recall"])]
    table = C.summarise(f, ["model", "metric"]).pivot(index="model", columns="metric", values=["mean", "ci"])
    order = [m for m in result["models"] if m in table.index]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    x = np.arange(len(order))
    for offset, metric, label in ((-0.2, "recall", "every held-out film"), (0.2, "tail recall", "long-tail films")):
        ax.bar(x + offset, table.loc[order, ("mean", metric)], 0.4, yerr=table.loc[order, ("ci", metric)],
               label=label, capsize=2)
    ax.set_xticks(x, order, rotation=30, ha="right")
    ax.legend()
    plots.label_axes(ax, "", "recall@10", "Accuracy on the long tail (films outside the short head of 1/3 of the "
                                          "training ratings)")
    fig.tight_layout()
    return fig


def explanations_table(result: ChapterResult) -> pd.DataFrame:
    return pd.DataFrame({"explanation": EXPLANATIONS}).loc[result["models"]]


ALTERNATIVES = {"k = 20": {"k": 20}, "every held-out rating relevant": {"relevant": "all"},
                "only the user's test items ranked": {"candidates": "test_items"}}


def _pair(result: ChapterResult, a: str, b: str, metric: str, **choice: Any) -> tuple[np.ndarray, np.ndarray]:
    return C.pair(_choice_frame(result, **choice), {"model": a}, {"model": b}, metric)


MARGIN_SHARE = 0.02  # equivalence margins: 2% of the reference model's mean, a difference a table reader notices


def _better(result: ChapterResult, a: str, b: str, metric: str) -> tuple[C.Judgement, dict[str, C.Judgement]]:
    label = f"{a} - {b}"
    design = result["design"]
    main = C.paired(*_pair(result, a, b, metric), design=design, label=label)
    alternatives = {name: C.paired(*_pair(result, a, b, metric, **choice), design=design, label=label)
                    for name, choice in ALTERNATIVES.items()}
    return main, alternatives


CLAIMS = [  # (id, statement, paper value, a, b, metric, source)
    ("eautorec_mep", "E-AutoRec's top-10 is more explainable than AutoRec's (MEP@10)", "higher", "E-AutoRec",
     "AutoRec", "mep", C.cite("eautorec", "Sec. 4.2", "MEP is higher across all tested parameter ranges")),
    ("eautorec_map", "E-AutoRec is more accurate than AutoRec (MAP@10)", "higher", "E-AutoRec", "AutoRec", "map",
     C.cite("eautorec", "Sec. 5", "E-AutoRec outperforms the baseline in terms of RMSE, explainability and MAP")),
    ("semauto_knn_over_sum", "Of SEMAUTO's two recommenders, user-kNN beats feature summation (nDCG@10)",
     "- (both described, not compared)", "SEMAUTO-kNN", "SEMAUTO-sum", "ndcg", C.BOOK),
    ("semauto_over_pop", "SEMAUTO (kNN) beats popularity (nDCG@10)", "- (a control)", "SEMAUTO-kNN", "Pop", "ndcg",
     C.BOOK),
    ("vae_over_dae", "Mult-VAE beats Mult-DAE (nDCG@10)", "higher on ML-20M", "Mult-VAE", "Mult-DAE", "ndcg",
     C.cite("liang2018", "Table 2 (ML-20M nDCG@100: Mult-VAE 0.426, Mult-DAE 0.419)")),
    ("vae_over_ease", "Mult-VAE beats EASE, the simplest strong baseline (nDCG@10)", "- (no paper compares them)",
     "Mult-VAE", "EASE", "ndcg", C.BOOK),
]


def _choice_frame(result: ChapterResult, **choice: Any) -> pd.DataFrame:
    """The records of one protocol choice: MAIN with `choice` (k, relevant, candidates) changed."""
    where = {**MAIN, **choice}
    f = result.frame
    return f[(f["relevant"] == where["relevant"]) & (f["candidates"] == where["candidates"]) & (f["k"] == where["k"])]


def _correlations(result: ChapterResult, **choice: Any) -> np.ndarray:
    """Per seed, the Pearson correlation across models of MEP@10 and nDCG@10 (the split-noise view)."""
    wide = _choice_frame(result, **choice)
    wide = wide[wide["metric"].isin(["mep", "ndcg"])].pivot_table(index=["seed", "model"], columns="metric",
                                                                   values="value")
    return np.array([np.corrcoef(g["mep"], g["ndcg"])[0, 1] for _, g in wide.groupby(level="seed")])


def model_means(result: ChapterResult, exclude: tuple[str, ...] = (), **choice: Any) -> pd.DataFrame:
    """Each model's MEP@10 and nDCG@10, means over the seeds (one row per model)."""
    f = _choice_frame(result, **choice)
    wide = f[f["metric"].isin(["mep", "ndcg"])].groupby(["model", "metric"])["value"].mean().unstack()
    return wide.drop(index=[m for m in exclude if m in wide.index])


def _correlation_draws(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """The correlation across models (columns) of two metrics in every resample (rows); NaN-free draws only."""
    import scipy.stats

    if method == "spearman":  # ranks within each resample (ties averaged), then Pearson on the ranks
        a, b = scipy.stats.rankdata(a, axis=1), scipy.stats.rankdata(b, axis=1)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    scale = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    draws = ((a * b).sum(axis=1) / np.where(scale > 0, scale, np.nan))
    return draws[np.isfinite(draws)]  # resamples with one distinct model have no correlation


def _correlation_verdict(observed: float, draws: np.ndarray, method: str, n_models: int, over: str
                         ) -> C.Judgement:
    low, high = np.percentile(draws, [2.5, 97.5])
    verdict = "holds" if high < 0 else "does not hold" if low > 0 else "inconclusive"
    p = float(min(1.0, 2 * min(np.mean(draws >= 0), np.mean(draws <= 0))))
    label = "Spearman rho" if method == "spearman" else "Pearson r"
    return C.Judgement(verdict, f"{label}(MEP@10, nDCG@10) across {n_models} models = {observed:+.3f} (95% bootstrap "
                                f"interval over {over} [{low:+.3f}, {high:+.3f}]); claim < 0",
                       f"bootstrap over the {over} ({len(draws)} resamples)", "bootstrap", p)


def _observed(mep: np.ndarray, ndcg: np.ndarray, method: str) -> float:
    import scipy.stats

    return float(scipy.stats.spearmanr(mep, ndcg)[0] if method == "spearman" else np.corrcoef(mep, ndcg)[0, 1])


def across_models(result: ChapterResult, exclude: tuple[str, ...] = (), method: str = "spearman",
                  n_boot: int = 2000, seed: int = 0, **choice: Any) -> C.Judgement:
    """"More explainable lists are less accurate", judged across models (the unit the claim is about): the rank (or
    Pearson) correlation of the models' mean MEP@10 and nDCG@10, with a percentile interval from resampling the
    models with replacement; holds when the interval lies below 0, does not hold when above."""
    means = model_means(result, exclude, **choice)
    mep, ndcg = means["mep"].to_numpy(), means["ndcg"].to_numpy()
    pick = np.random.default_rng(seed).integers(0, len(mep), (n_boot, len(mep)))  # resampled model sets
    draws = _correlation_draws(mep[pick], ndcg[pick], method)
    return _correlation_verdict(_observed(mep, ndcg, method), draws, method, len(mep), "models")


def across_users(result: ChapterResult, exclude: tuple[str, ...] = (), n_boot: int = 1000, seed: int = 0
                 ) -> C.Judgement:
    """The same Spearman correlation across the models, its interval from resampling the USERS (the same resample
    for every model and seed; the models fixed): how much the relationship rests on which users were tested. Each
    resample's model means are weighted user counts, one matrix product for every model and seed at once."""
    per_user = result["per_user"]
    names = [m for m in result["models"] if m not in exclude and any(k[0] == m for k in per_user)]
    seeds = sorted({k[1] for k in per_user})
    n_users = 1 + max(int(v["users"].max()) for v in per_user.values())
    counts = np.zeros((n_boot, n_users))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_users),
                       np.random.default_rng(seed).integers(0, n_users, n_boot * n_users)), 1.0)
    means = {}
    for metric in ("mep", "ndcg"):
        values = np.full((n_users, len(names) * len(seeds)), np.nan)
        for j, (m, s) in enumerate((m, s) for m in names for s in seeds):
            values[per_user[(m, s)]["users"], j] = per_user[(m, s)][metric]
        seen = np.isfinite(values)
        with np.errstate(invalid="ignore"):  # a resample of only users without a relevant film: no mean (NaN)
            drawn = (counts @ np.where(seen, values, 0.0)) / (counts @ seen)  # (n_boot, models x seeds)
        means[metric] = drawn.reshape(n_boot, len(names), len(seeds)).mean(axis=2)
        full = (np.nansum(values, axis=0) / seen.sum(axis=0)).reshape(len(names), len(seeds)).mean(axis=1)
        means[f"observed {metric}"] = full
    whole = np.isfinite(means["mep"]).all(axis=1) & np.isfinite(means["ndcg"]).all(axis=1)
    draws = _correlation_draws(means["mep"][whole], means["ndcg"][whole], "spearman")
    observed = _observed(means["observed mep"], means["observed ndcg"], "spearman")
    return _correlation_verdict(observed, draws, "spearman", len(names), "users")


#: comparison claim -> (chapter, the chapter's claim it restates, why the two protocols may disagree)
RESTATED = {
    "eautorec_mep": ("eautorec", "mep_every_n", "the chapter: the paper's random 90/10 rating split, its tuned lambda "
                     "and MEP@n for every n (intersection-union); here: a per-user 80/20 holdout, lambda and width "
                     "from this chapter's search, MEP@10, every unrated film ranked"),
    "eautorec_map": ("eautorec", "map_every_n", "as for MEP: another split, lambda and candidate set, MAP@10 only"),
    "semauto_knn_over_sum": ("semauto", "knn_beats_sum", "the chapter: its own holdout and k chosen from its grid; "
                             "here: k and the learning rate from this chapter's search, on its split"),
    "semauto_over_pop": ("semauto", "beats_popularity", "the same question on another split, with the "
                         "search's k and learning rate"),
    "vae_over_dae": ("cvae", "A1", "the chapter: strong generalization (new users folded in), nDCG@100, every user "
                     "tested in K folds; here: weak generalization on a rating holdout, nDCG@10"),
    "cvae_matches_vae": ("cvae", "A2", "as for A1: strong vs weak generalization, nDCG@100 vs nDCG@10"),
}


def reconciliation(claims_here: list[C.Claim], results_dir: str | Path = "", result: ChapterResult | None = None
                   ) -> pd.DataFrame:
    """Every comparison claim that restates a chapter's claim, with the chapter's verdict beside this chapter's (read
    from the chapter's results file in `results_dir`; "not run" when it is absent) and why they may differ. With
    `result`, the table is also kept in its protocol, so that the chapter's results file records it."""
    from ..report import chapter_results

    folder = Path(results_dir) if results_dir else results.default_results_dir()
    found = chapter_results(folder) if folder.exists() else {}
    rows = []
    for c in claims_here:
        if c.id not in RESTATED:
            continue
        chapter, other, why = RESTATED[c.id]
        theirs = {x["id"]: x for x in found.get(chapter, {}).get("claims", [])}.get(other)
        rows.append({"claim": c.id, "here": c.verdict, "chapter": f"{chapter}: {other}",
                     "there": theirs["verdict"] if theirs else "not run",
                     "agree": "" if not theirs else "yes" if theirs["verdict"] == c.verdict else "no",
                     "why they may differ": why})
    if result is not None and "protocol" in result.artifacts:
        result.artifacts["protocol"]["reconciliation"] = rows
    return pd.DataFrame(rows).set_index("claim") if rows else pd.DataFrame()


def claims(result: ChapterResult) -> list[C.Claim]:
    present = set(result.frame["model"])
    out = []
    for cid, statement, paper, a, b, metric, source in CLAIMS:
        if {a, b} <= present:
            main, alternatives = _better(result, a, b, metric)
            out.append(C.claim(cid, statement, paper, main, alternatives, source=source))
    design = result["design"]
    if {"SEMAUTO-kNN", "Mult-DAE"} <= present:
        tail = lambda metric, k=10: C.paired(*_pair(result, "SEMAUTO-kNN", "Mult-DAE", metric, k=k),  # noqa: E731
                                             design=design, label="SEMAUTO-kNN - Mult-DAE")
        out.append(C.claim(
            "semauto_tail_over_dae", "SEMAUTO-kNN is more accurate than a plain autoencoder (Mult-DAE) on the long "
            "tail (recall@10 of the held-out films outside the short head)", "- (the SEMAUTO chapter's diversity "
            "claim, asked of accuracy)", tail("tail recall"),
            {"k = 20": tail("tail recall", 20), "tail nDCG@10": tail("tail ndcg")}, source=C.BOOK))
    if {"C-VAE", "Mult-VAE"} <= present:
        def matches(**choice: Any) -> C.Judgement:
            cvae, vae = _pair(result, "C-VAE", "Mult-VAE", "ndcg", **choice)
            return C.equivalent(cvae, vae, margin=C.relative_margin(vae, MARGIN_SHARE, "Mult-VAE"), design=design,
                                label="C-VAE - Mult-VAE")
        out.append(C.claim("cvae_matches_vae", "Conditioning costs C-VAE no unconditioned accuracy (nDCG@10 within "
                           f"{MARGIN_SHARE:.0%} of Mult-VAE's)", "equivalent without a condition", matches(),
                           {name: matches(**choice) for name, choice in ALTERNATIVES.items()},
                           source=C.cite("cvae", "Sec. 2, Conditioned VAE", "C-VAE is equivalent to Mult-VAE")))
    if len(present) > 3:
        negative = C.Bound(0.0, "the claim is a trade-off: only the sign of the correlation matters")
        main = across_models(result)
        alternatives = {"without the controls (Random, Pop)": across_models(result, exclude=CONTROLS),
                        "bootstrap over users (the models fixed)": across_users(result),
                        "Pearson r instead of Spearman": across_models(result, method="pearson"),
                        "per seed, Pearson r over seeds (corrected t: split noise only)": C.threshold(
                            _correlations(result), below=negative, design=design,
                            label="r(MEP@10, nDCG@10) across models")}
        alternatives |= {name: across_models(result, **choice) for name, choice in ALTERNATIVES.items()}
        out.append(C.claim("explainability_costs_accuracy", "Across models, more explainable top-N lists are less "
                           "accurate (negative correlation of MEP@10 and nDCG@10 across the models)",
                           "no trade-off in E-AutoRec; one's intuition expects one", main, alternatives,
                           source=C.cite("eautorec", "Sec. 4.2", "one's intuition is that accuracy has to pay a price "
                                                                 "for each increase in explainability")))
    return out


def numbers(result: ChapterResult) -> dict:
    s = summary(result)
    best, explainable = s["ndcg"].idxmax(), s["mep"].idxmax()
    import scipy.stats

    means = model_means(result)
    rho = float(scipy.stats.spearmanr(means["mep"], means["ndcg"])[0]) if len(means) > 2 else float("nan")
    controls = model_means(result, exclude=CONTROLS)
    rho_personal = float(scipy.stats.spearmanr(controls["mep"], controls["ndcg"])[0]) if len(controls) > 2 \
        else float("nan")
    out = {"n_seeds": len(result.config.seeds), "n_models": len(s), "best_model": best,
           "best_ndcg": float(s.loc[best, "ndcg"]), "most_explainable": explainable,
           "best_mep": float(s.loc[explainable, "mep"]), "mep_ndcg_rho": rho, "mep_ndcg_rho_personal": rho_personal,
           "corr_reading": "go together" if rho > 0.3 else "trade off" if rho < -0.3 else "are not clearly related"}
    f = result.frame
    valid = f[f["metric"] == SELECTION["metric"]]
    chosen = chosen_trials(f)
    searched = chosen[chosen["model"].isin(valid.groupby("model")["trial"].max().loc[lambda t: t > 0].index)]
    out |= {"trials": result.config.trials, "n_searched_runs": len(searched),
            "n_not_default": int((searched["trial"] > 0).sum()),
            "search_cpu_minutes": float(f.loc[f["metric"] == "search_seconds", "value"].sum() / 60)}
    for model in ("Random", "Pop", "AutoRec", "E-AutoRec"):
        if model in s.index:
            key = model.lower().replace("-", "")
            out[f"mep_{key}"], out[f"ndcg_{key}"] = float(s.loc[model, "mep"]), float(s.loc[model, "ndcg"])
    return out
