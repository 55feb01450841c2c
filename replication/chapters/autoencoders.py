"""Chapter "Autoencoders for collaborative filtering, from first principles" (teaching): a user as a sparse vector,
AutoRec with the masked and the full loss, denoising (Mult-DAE) and variational (Mult-VAE) autoencoders.

Two experiments, both through the runner:

* masked vs full loss: U-AutoRec on a random 90/10 rating split per seed, both losses trained for the same fixed
  budget of epochs (a teaching demonstration of what each loss does; the claims are re-judged at a second budget);
* noise and the KL weight: a plain autoencoder of the Mult-DAE shape, Mult-DAE and Mult-VAE at several beta, on
  Liang's strong-generalization split, each stopping early on the validation users' nDCG@100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import explorer as pipeline
from .. import metrics, models, plots, results, settings, splits, teaching
from ..checks import check_int, check_seeds
from ..errors import ConfigError
from ..experiments import claims as C
from ..experiments import runner
from ..experiments.protocols import load_data
from .common import ChapterResult, OnData, param, setup

TOL = 0.5  # a prediction within half a star of 0 is "near zero" (closer to "no rating" than to 1 star)
K = 10


# ---------------------------------------------------------------------------------------------------- AutoRec


def summary_users(n_users: int, n_items: int, seed: int) -> np.ndarray:
    """The users whose predictions the collapse statistics describe: all of them while users x items is small
    enough to score at once (ML-100K, ML-1M), else a seeded sample of a quarter of that many entries (ML-20M:
    about 600 users, 17M predictions), so that no dense users x items matrix is held."""
    limit = settings.dense_entries()
    if n_users * n_items <= limit:
        return np.arange(n_users)
    size = max(1, limit // 4 // n_items)
    return np.sort(np.random.default_rng(seed).choice(n_users, size, replace=False))


def autorec_job(seed: int, loss: str, hidden: int, epochs: int, lr: float, batch_size: int,
                keep: bool, dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """U-AutoRec with one loss on one random 90/10 split: rating error, top-10 quality and how the predictions on
    unrated entries are distributed (the collapse). Scores are computed for blocks of users at a time."""
    data = load_data(dataset, data_dir)
    split = splits.random_split(data.ratings, 0.1, seed=seed, shape=(data.n_users, data.n_items))
    model = models.AutoRec(hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adam",
                           loss=loss, seed=seed).fit(split.train)
    rows = summary_users(data.n_users, data.n_items, seed)
    seen = split.train[rows]
    scores = metrics.scores_or_scorer(model.score, split.train.shape)
    raw = scores(rows) if callable(scores) else scores[rows]
    summary = teaching.prediction_summary(raw, seen, tol=TOL)
    clipped = (lambda users: np.clip(scores(users), 1.0, 5.0)) if callable(scores) else np.clip(scores, 1.0, 5.0)
    topn = metrics.evaluate_topn(scores, split.train, split.test, ks=(K,), relevant_threshold=4.0)
    values = {"rmse": metrics.rmse(clipped, split.test),
              f"ndcg@{K}": topn[f"ndcg@{K}"],
              f"recall@{K}": topn[f"recall@{K}"], f"coverage@{K}": topn[f"coverage@{K}"],
              "median popularity of top-k": teaching.recommended_popularity(raw, seen, K, split.train),
              "median unobserved prediction": summary["unobserved"]["median"],
              "share near zero": summary["unobserved"]["near_zero"],
              "collapsed": float(teaching.is_collapsed(summary, TOL))}
    records = [{"model": f"AutoRec, {loss} loss", "metric": m, "value": float(v)} for m, v in values.items()]
    artifacts = None
    if keep:
        artifacts = {"model": model, "unobserved": teaching.unobserved_predictions(raw, seen, seed=0)}
    return runner.JobOutput(records, artifacts)


# ---------------------------------------------------------------------------------------------------- VAEs


def vae_job(seed: int, name: str, variational: bool, dropout: float, beta_cap: float, hidden: int, latent: int,
            epochs: int, patience: int, lr: float, n_heldout_users: int, corrupt: float,
            keep: bool, dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """One Mult-DAE / Mult-VAE variant on one strong-generalization split: test nDCG@k and recall@k, the final KL
    and reconstruction terms, active latent units, and nDCG@100 with part of each test user's input hidden."""
    data = load_data(dataset, data_dir)
    sg = splits.strong_generalization(data.ratings, n_heldout_users=n_heldout_users, seed=seed, n_items=data.n_items)
    model = models.MultVAE(variational=variational, dropout=dropout, beta_cap=beta_cap, hidden=hidden, latent=latent,
                           epochs=epochs, patience=patience, lr=lr, seed=seed).fit(
        sg.train, valid=metrics.Validation(sg.valid_out, fold_in=sg.valid_in, metric="ndcg@100"))
    scores = model.score(sg.test_in)
    topn = metrics.evaluate_topn(scores, sg.test_in, sg.test_out, ks=(10, 100))
    partial = teaching.drop_interactions(sg.test_in, corrupt, seed=seed)
    hidden_input = metrics.evaluate_topn(model.score(partial), sg.test_in, sg.test_out, ks=(100,))["ndcg@100"]
    best = model.history_.iloc[model.history_.attrs["best_epoch"] - 1]
    values = {f"{m}@{k}": topn[f"{m}@{k}"] for k in (10, 100) for m in ("ndcg", "recall", "coverage")}
    values |= {"kl": float(best["kl"]), "nll": float(best["nll"]),
               "active units": teaching.active_units(model.encode(sg.test_in)),
               "ndcg@100, part of input hidden": hidden_input,
               "relative drop of ndcg@100": 1.0 - hidden_input / topn["ndcg@100"],
               "best_epoch": model.history_.attrs["best_epoch"]}
    if variational:  # the same users' lists decoded from a sampled code instead of its mean
        sampled = metrics.evaluate_topn(teaching.sampled_scores(model, sg.test_in, seed=seed), sg.test_in,
                                        sg.test_out, ks=(10, 100))
        values |= {f"{m}@{k}, sampled code": sampled[f"{m}@{k}"] for k in (10, 100) for m in ("ndcg", "coverage")}
    records = [{"model": name, "metric": m, "value": float(v)} for m, v in values.items()]
    return runner.JobOutput(records, {"model": model, "split": sg} if keep else None)


def ease_job(seed: int, l2_grid: list[float], n_heldout_users: int, dataset: str = "ml-100k",
             data_dir: str = "") -> runner.JobOutput:
    """The linear autoencoder EASE on the VAEs' strong-generalization split, l2 chosen on the validation users'
    nDCG@100: the linear model beside the non-linear ones."""
    data = load_data(dataset, data_dir)
    sg = splits.strong_generalization(data.ratings, n_heldout_users=n_heldout_users, seed=seed, n_items=data.n_items)
    fitted = [models.EASE(l2).fit(sg.train) for l2 in l2_grid]
    quality = [metrics.evaluate_topn(m.score(sg.valid_in), sg.valid_in, sg.valid_out, ks=(100,))["ndcg@100"]
               for m in fitted]
    best = int(np.argmax(quality))
    topn = metrics.evaluate_topn(fitted[best].score(sg.test_in), sg.test_in, sg.test_out, ks=(10, 100))
    values = {f"{m}@{k}": topn[f"{m}@{k}"] for k in (10, 100) for m in ("ndcg", "recall", "coverage")}
    values["l2 chosen"] = l2_grid[best]
    return runner.JobOutput([{"model": LINEAR, "metric": m, "value": float(v)} for m, v in values.items()])


LINEAR = "EASE (linear)"


def vae_conditions(dae_dropout: float, betas: list[float]) -> dict[str, dict[str, Any]]:
    out = {"AE, no noise": dict(variational=False, dropout=0.0, beta_cap=0.0),
           f"Mult-DAE, dropout {dae_dropout}": dict(variational=False, dropout=dae_dropout, beta_cap=0.0)}
    return out | {f"Mult-VAE, β = {b}": dict(variational=True, dropout=dae_dropout, beta_cap=b) for b in betas}


# ---------------------------------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Config(OnData):
    """The teaching chapter's settings: small models, chosen so that each training takes seconds."""

    chapter = "autoencoders"
    seeds: tuple[int, ...] = param([0, 1, 2, 3, 4], "one split + initialisation per seed; tables show mean ± 95% CI")
    autorec_hidden: int = param(50, "AutoRec hidden units (the code z): small enough to draw")
    autorec_epochs: int = param(10, "the same fixed Adam budget for both losses (a demonstration, not a race)")
    autorec_epochs_alternative: int = param(30, "a second budget the loss claims are re-judged at")
    autorec_lr: float = param(0.003, "AutoRec's Adam learning rate")
    autorec_batch: int = param(64, "users per AutoRec mini-batch")
    vae_hidden: int = param(150, "Mult-DAE / Mult-VAE hidden layer (Liang et al. use 600 on ML-20M)")
    vae_latent: int = param(50, "Mult-DAE / Mult-VAE code size")
    vae_epochs: int = param(100, "epoch budget; training stops when the validation users' nDCG@100 stops improving")
    vae_patience: int = param(10, "epochs without improvement before stopping (the best epoch's weights kept)")
    vae_lr: float = param(3e-3, "Adam learning rate for Mult-DAE / Mult-VAE")
    dae_dropout: float = param(0.5, "input dropout of the denoising models (Liang et al.'s 0.5)")
    betas: tuple[float, ...] = param([0.0, 0.2, 1.0], "KL weights of the Mult-VAE experiment")
    beta_ref: float = param(0.2, "the beta compared with Mult-DAE (Liang et al.'s cap); one of `betas`")
    n_heldout_users: int = param(100, "validation users and test users of the strong-generalization split (each)")
    exercise_epochs: int = param(8, "epochs of the small trainings inside the exercise solutions")
    ease_l2_grid: tuple[float, ...] = param([100.0, 500.0, 2000.0], "the linear EASE's l2, chosen on the "
                                                                   "validation users' nDCG@100")
    example_user: int = param(-1, "the user followed through the autoencoder; -1: the median number of ratings")
    explorer_users: int = param(5, "held-out users in the interactive explorer, from the lightest to the heaviest")

    def validate(self) -> None:
        super().validate()
        check_seeds(self.seeds)
        if self.beta_ref not in self.betas:
            raise ConfigError(f"beta_ref={self.beta_ref} must be one of betas={list(self.betas)}")
        check_int("explorer_users", self.explorer_users, 1)


def jobs(config: Config) -> list[runner.Job]:
    """Every training of the chapter: both AutoRec losses at both budgets, and every VAE condition, per seed."""
    source = config.source
    out = [runner.Job(autorec_job, dict(seed=s, loss=loss, hidden=config.autorec_hidden, epochs=e,
                                        lr=config.autorec_lr, batch_size=config.autorec_batch,
                                        keep=s == config.seeds[0] and e == config.autorec_epochs, **source),
                      {"seed": s, "experiment": "loss", "epochs": e})
           for e in (config.autorec_epochs, config.autorec_epochs_alternative) for s in config.seeds
           for loss in ("masked", "full")]
    out += [runner.Job(vae_job, dict(seed=s, name=name, hidden=config.vae_hidden, latent=config.vae_latent,
                                     epochs=config.vae_epochs, patience=config.vae_patience, lr=config.vae_lr,
                                     n_heldout_users=config.n_heldout_users, corrupt=0.5, keep=s == config.seeds[0],
                                     **spec, **source), {"seed": s, "experiment": "vae"}, cost=3.0)
            for s in config.seeds for name, spec in vae_conditions(config.dae_dropout, list(config.betas)).items()]
    out += [runner.Job(ease_job, dict(seed=s, l2_grid=list(config.ease_l2_grid),
                                      n_heldout_users=config.n_heldout_users, **source),
                       {"seed": s, "experiment": "vae"}, cost=1.0) for s in config.seeds]
    return out


# the claims of the headline box at the top of the chapter (and of the findings page)
HEADLINE = ("unmasked_collapses", "masked_ranks_better", "vae_vs_dae", "vae_samples_diverse",
            "nonlinear_beats_linear")


def run(config: Config = Config()) -> ChapterResult:
    """Train every model of the chapter; keep the first seed's models, splits and predictions for the figures."""
    setup()
    timer = results.Timer()
    todo = jobs(config)
    with timer("all runs"):
        outcome = timer.count(runner.run(todo, n_jobs=config.n_jobs, desc="autoencoders"))
    autorec_out, vae_out = {}, {}
    for job, art in zip(todo, outcome.artifacts):
        if art is not None:
            if job.fn is autorec_job:
                autorec_out[job.params["loss"]] = art
            else:
                vae_out[job.params["name"]] = art
    data = load_data(**config.source)
    counts = np.diff(data.rating_matrix().indptr)
    user = int(np.argsort(counts, kind="stable")[len(counts) // 2]) if config.example_user < 0 else \
        int(config.example_user)
    split = splits.random_split(data.ratings, 0.1, seed=config.seeds[0], shape=(data.n_users, data.n_items))
    users = next(iter(vae_out.values()))["split"]  # the first seed's strong-generalization split
    design = {"loss": C.Resampling.random_splits(split.train.nnz, split.test.nnz, "ratings"),
              "vae": C.Resampling.random_splits(users.train.shape[0], users.test_in.shape[0], "users")}
    return ChapterResult(outcome.frame, config, timer.seconds,
                         {"autorec": autorec_out, "vae": vae_out, "example_user": user, "data": data,
                          "split": split, "design": design, "deviations": DEVIATIONS, "headline": HEADLINE})


DEVIATIONS = {
    "AutoRec budget": "the loss comparison trains both losses for a fixed budget (a teaching demonstration), "
                      "re-judged at a second budget; the VAEs stop early on validation nDCG@100",
}


# ---------------------------------------------------------------------------------------------------- views


def values(result: ChapterResult, model: str, metric: str, epochs: int | None = None) -> np.ndarray:
    """One model's metric per seed (AutoRec runs: at the `epochs` budget)."""
    where = {"model": model} | ({} if epochs is None else {"epochs": epochs})
    return C.per_run(result.frame, metric, **where).to_numpy()


def table(result: ChapterResult, experiment: str) -> pd.DataFrame:
    """Mean and 95% CI half-width ("±" columns) over seeds, one row per condition."""
    f = result.frame[result.frame["experiment"] == experiment]
    if experiment == "loss":
        f = f[f["epochs"] == result.config.autorec_epochs]
    stats = C.summarise(f, ["model", "metric"])
    out = stats.pivot(index="model", columns="metric", values="mean")
    for metric in out.columns.copy():
        out[f"{metric} ±"] = stats.pivot(index="model", columns="metric", values="ci")[metric]
    order = list(dict.fromkeys(f["model"]))
    return out.loc[order, sorted(out.columns, key=lambda c: (c.rstrip(" ±"), c.endswith("±")))]


def first_split(result: ChapterResult) -> splits.RatingSplit:
    """The first seed's 90/10 rating split (the AutoRec runs' and the figures')."""
    return result["split"]


def trip(result: ChapterResult, user: int | None = None, loss: str = "masked", k: int = 10) -> teaching.StepThrough:
    """One user's trip through the first seed's AutoRec trained with `loss`."""
    model = result["autorec"][loss]["model"]
    net = model.network_
    x = first_split(result).train[[result["example_user"] if user is None else user]].toarray()
    with torch.no_grad():
        return teaching.step_through(x, lambda v: net.encode(torch.from_numpy(v / model.scale).float()),
                                     lambda z: net.decode(torch.from_numpy(z)) * model.scale, k=k,
                                     titles=result["data"].title)


def user_figure(result: ChapterResult) -> plt.Figure:
    data = result["data"]
    R = data.rating_matrix()
    counts = np.diff(R.indptr)
    x_user = R[[result["example_user"]]].toarray().ravel()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    rated = np.flatnonzero(x_user)
    axes[0].vlines(rated, 0, x_user[rated], linewidth=1)
    axes[0].set_xlim(0, data.n_items)
    user = result["example_user"]
    plots.label_axes(axes[0], "item index (film)", "stars (0 = not rated)", f"The vector of user {user}")
    axes[1].hist(100 * counts / data.n_items, bins=40)
    plots.label_axes(axes[1], "share of the catalogue rated (%)", "number of users", "How full the user vectors are")
    fig.tight_layout()
    return fig


def trip_figure(t: teaching.StepThrough) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), gridspec_kw={"width_ratios": [3, 1.4, 3]})
    seen = np.flatnonzero(t.x)
    axes[0].vlines(seen, 0, t.x[seen], linewidth=1)
    plots.label_axes(axes[0], "item index", "stars", "1. what goes in: x (training ratings)")
    axes[1].bar(np.arange(len(t.z)), t.z, width=1.0)
    plots.label_axes(axes[1], "hidden unit", "activation", f"2. the code z ({len(t.z)} numbers)")
    unseen = np.flatnonzero(t.x == 0)
    axes[2].scatter(unseen, t.x_hat[unseen], s=2, alpha=0.4, label="unrated films")
    axes[2].scatter(t.filled_in["item"], t.filled_in["score"], s=25, color="C3", label="top 10 filled in")
    axes[2].legend(loc="lower left")
    plots.label_axes(axes[2], "item index", "predicted stars", "3. what comes out: x̂ on unrated films")
    fig.tight_layout()
    return fig


def explorer_models(result: ChapterResult) -> dict[str, Any]:
    """The four first-seed models the explorer and the architecture figure show, by display name."""
    p = result.config
    return {"AutoRec, masked loss": result["autorec"]["masked"]["model"],
            "AutoRec, full loss": result["autorec"]["full"]["model"],
            f"Mult-DAE (dropout {p.dae_dropout})": result["vae"][f"Mult-DAE, dropout {p.dae_dropout}"]["model"],
            f"Mult-VAE (β = {p.beta_ref})": result["vae"][f"Mult-VAE, β = {p.beta_ref}"]["model"]}


def explorer_users(result: ChapterResult, n_users: int = 5) -> list[pipeline.ExplorerUser]:
    """`n_users` test users of the first seed's strong-generalization split (never seen by Mult-DAE / Mult-VAE),
    from the lightest to the heaviest by their number of training ratings in the first seed's AutoRec split."""
    if not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise ConfigError(f"explorer_users must be a positive integer, got {n_users!r}")
    split = first_split(result)
    test_users = next(iter(result["vae"].values()))["split"].test_users
    owner = np.repeat(np.arange(split.train.shape[0]), np.diff(split.train.indptr))
    liked = np.bincount(owner[split.train.data >= 4.0], minlength=split.train.shape[0])
    test_users = test_users[liked[test_users] > 0]  # Mult-DAE / Mult-VAE read the films rated 4+
    counts = np.diff(split.train.indptr)[test_users]
    order = test_users[np.argsort(counts, kind="stable")]
    quantiles = np.linspace(0.0, 1.0, min(n_users, len(order)))
    positions, first = np.unique((quantiles * (len(order) - 1)).round().astype(int), return_index=True)
    out = []
    for position, quantile in zip(positions, quantiles[first]):
        user = int(order[position])
        x = split.train[[user]].toarray().ravel()
        held = split.test[[user]]
        where = {0.0: "the lightest", 1.0: "the heaviest"}.get(quantile, f"percentile {100 * quantile:.0f}")
        label = f"user {user}: {np.count_nonzero(x)} training ratings ({where})"
        out.append(pipeline.ExplorerUser(user, label, x, held.indices[held.data >= 4.0]))
    return out


def explorer(result: ChapterResult, n_users: int = 5) -> pipeline.Explorer:
    """The interactive pipeline explorer: `n_users` held-out users through the four first-seed models."""
    titles = result["data"].title
    data = pipeline.explorer_data(explorer_models(result), explorer_users(result, n_users),
                                  [titles(i) for i in range(result["data"].n_items)], k=K)
    return pipeline.Explorer(data)


def architecture_figure(result: ChapterResult) -> plt.Figure:
    """Each architecture of the chapter with every stage drawn at a height proportional to log10 of its width."""
    shown = list(explorer_models(result).items())
    shown = [("AutoRec (masked or full loss)", shown[0][1])] + shown[2:]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 3.8))
    top = max(np.log10(layer.size) for _, m in shown for layer in pipeline.layers(m))
    for ax, (name, model) in zip(np.atleast_1d(axes), shown):
        stages = pipeline.layers(model)
        heights = [np.log10(layer.size) / top for layer in stages]
        for i, (layer, h) in enumerate(zip(stages, heights)):
            if i + 1 < len(stages):
                h2 = heights[i + 1]
                ax.fill([i + 0.15, i + 0.85, i + 0.85, i + 0.15], [-h / 2, -h2 / 2, h2 / 2, h / 2], color="0.9")
            ax.add_patch(plt.Rectangle((i - 0.15, -h / 2), 0.3, h, color=plots.PALETTE[0]))
            ax.text(i, -0.56, f"{layer.name}\n{layer.size:,}", ha="center", va="top", fontsize=9)
        ax.set_xlim(-0.6, len(stages) - 0.4)
        ax.set_ylim(-0.8, 0.55)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_title(name)
    fig.suptitle("The chapter's autoencoders to scale: each stage's height is proportional to log10 of its width")
    fig.tight_layout()
    return fig


def item_mean_decomposition(result: ChapterResult) -> pd.Series:
    """How much of the full (unmasked) loss of a sensible predictor, each film's mean rating, falls on the zeros."""
    train = first_split(result).train
    counts = np.maximum(np.diff(train.tocsc().indptr), 1)
    item_mean = np.asarray(train.sum(axis=0)).ravel() / counts
    guess = np.where(item_mean > 0, item_mean, train.data.mean())  # the same prediction row for every user
    return pd.Series(teaching.loss_decomposition(guess, train), name="item-mean predictor on the training matrix")


def collapse_figure(result: ChapterResult) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 4))
    bins = np.linspace(-1, 6, 71)
    for loss, color in (("masked", "C0"), ("full", "C3")):
        ax.hist(result["autorec"][loss]["unobserved"], bins=bins, density=True, alpha=0.55, color=color,
                label=f"{loss} loss: unrated entries")
    ax.hist(first_split(result).train.data, bins=bins, density=True, histtype="step", color="k", linewidth=1.5,
            label="actual ratings (training)")
    ax.legend()
    plots.label_axes(ax, "predicted stars (raw decoder output, not clipped)", "density",
                     "What the two models predict for films a user has not rated")
    fig.tight_layout()
    return fig


def loss_bars_figure(result: ChapterResult) -> plt.Figure:
    t = table(result, "loss")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, metric, label in zip(axes, ["rmse", f"ndcg@{K}", "median popularity of top-k"],
                                 ["held-out RMSE (stars, lower is better)", f"nDCG@{K} (higher is better)",
                                  "ratings per recommended film (median)"]):
        ax.bar([i.split(", ")[1] for i in t.index], t[metric].to_numpy(), yerr=t[f"{metric} ±"].to_numpy(),
               color=["C0", "C3"], capsize=6)
        plots.label_axes(ax, "training loss", label)
    fig.suptitle(f"Masked vs. full loss, mean ± 95% CI over {len(result.config.seeds)} seeds")
    fig.tight_layout()
    return fig


def filled_in_table(result: ChapterResult) -> pd.DataFrame:
    cols = {}
    for loss in ("masked", "full"):
        t = trip(result, loss=loss)
        cols[f"{loss} loss fills in"] = [f"{title} ({score:.2f})" for title, score in zip(t.filled_in["title"],
                                                                                           t.filled_in["score"])]
    return pd.DataFrame(cols, index=pd.RangeIndex(1, 11, name="rank"))


def vae_figure(result: ChapterResult) -> plt.Figure:
    t = table(result, "vae").drop(index=LINEAR, errors="ignore")  # the linear model is in the claims, not here
    names = list(t.index)
    betas = result.config.betas
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    y = np.arange(len(names))
    hide = "ndcg@100, part of input hidden"
    axes[0].barh(y + 0.2, t["ndcg@100"], height=0.4, xerr=t["ndcg@100 ±"], capsize=3, label="full fold-in history")
    axes[0].barh(y - 0.2, t[hide], height=0.4, xerr=t[f"{hide} ±"], capsize=3, label="half of it hidden")
    axes[0].set_yticks(y, names)
    axes[0].legend(loc="lower left")
    plots.label_axes(axes[0], "test nDCG@100", "", "Ranking quality")
    beta_names = [f"Mult-VAE, β = {b}" for b in betas]
    plots.curve_with_ci(axes[1], betas, np.array([values(result, n, "kl") for n in beta_names]).T, "KL")
    axes[1].set_yscale("log")
    plots.label_axes(axes[1], "β (KL weight)", "KL(q(z|x) || N(0, I)), nats per user", "The KL term vs. β")
    plots.curve_with_ci(axes[2], betas, np.array([values(result, n, "nll") for n in beta_names]).T, "NLL")
    plots.label_axes(axes[2], "β (KL weight)", "multinomial NLL per user (training)", "Reconstruction vs. β")
    fig.tight_layout()
    return fig


def reparameterization_figure(result: ChapterResult) -> plt.Figure:
    betas = result.config.betas
    lo, hi = f"Mult-VAE, β = {min(betas)}", f"Mult-VAE, β = {max(betas)}"
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, color in ((lo, "C0"), (hi, "C3")):
        model, sg = result["vae"][name]["model"], result["vae"][name]["split"]
        with torch.no_grad():
            mu, logvar = model.network_.encode(torch.from_numpy(sg.test_in[[0]].toarray()))
        dims = np.argsort(-np.abs(mu.numpy()[0]))[:2]
        z = teaching.reparameterize(mu.numpy()[:, dims], logvar.numpy()[:, dims], n_samples=300, seed=0)[:, 0, :]
        ax.scatter(z[:, 0], z[:, 1], s=6, alpha=0.5, color=color, label=f"{name}: samples of z")
        ax.scatter(*mu.numpy()[0, dims], marker="x", s=80, color=color)
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, linestyle="--", color="k", label="prior N(0, I), 1 sd"))
    ax.set_aspect("equal")
    ax.autoscale()
    ax.legend(loc="best", fontsize=8)
    plots.label_axes(ax, "latent dimension a (largest |μ|)", "latent dimension b (second largest |μ|)",
                     "One user's code as a distribution")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- claims


MARGIN_SHARE = 0.02  # non-inferiority margins: 2% of the reference model's mean, a difference a table reader notices


def claims(result: ChapterResult) -> list[C.Claim]:
    p = result.config
    design = result["design"]
    main_e, alt_e = p.autorec_epochs, p.autorec_epochs_alternative
    alt = f"a budget of {alt_e} epochs instead of {main_e}"
    masked, full = "AutoRec, masked loss", "AutoRec, full loss"

    def loss_pair(metric, epochs, higher=True):
        return C.paired(values(result, masked, metric, epochs), values(result, full, metric, epochs),
                        design=design["loss"], higher_is_better=higher, label="masked - full")

    def collapse(epochs):
        full_c, masked_c = values(result, full, "collapsed", epochs), values(result, masked, "collapsed", epochs)
        return C.Judgement(C.all_of(np.r_[full_c > 0, masked_c == 0]).verdict,
                           f"collapsed seeds: full {int(full_c.sum())} of {len(full_c)}, masked "
                           f"{int(masked_c.sum())} of {len(masked_c)}; median unrated prediction, full "
                           f"{np.median(values(result, full, 'median unobserved prediction', epochs)):.2f} stars",
                           "count over seeds (median unrated prediction within 0.5 star of 0)", "count")

    dae, ae = f"Mult-DAE, dropout {p.dae_dropout}", "AE, no noise"
    ref = f"Mult-VAE, β = {p.beta_ref}"
    betas = sorted(p.betas)
    kl = np.array([values(result, f"Mult-VAE, β = {b}", "kl") for b in betas])

    def kl_decreasing(rows, shown):
        return C.Judgement(C.all_of(np.all(np.diff(rows, axis=0) < 0, axis=0)).verdict,
                           "; ".join(f"KL at β = {b}: {row.mean():.1f}" for b, row in zip(shown, rows)),
                           f"count over {rows.shape[1]} seeds", "count")

    vae_pair = lambda a, b, metric, higher=True, label="A - B": C.paired(  # noqa: E731
        values(result, a, metric), values(result, b, metric), design=design["vae"], higher_is_better=higher,
        label=label)

    def vae_noninferior(metric: str) -> C.Judgement:
        dae_values = values(result, dae, metric)
        return C.noninferior(values(result, ref, metric), dae_values, design=design["vae"], label="VAE - DAE",
                             margin=C.relative_margin(dae_values, MARGIN_SHARE, "Mult-DAE"))
    primer = "Loss Function: Masked Reconstruction Error"
    sampled = lambda metric: C.paired(values(result, ref, f"{metric}, sampled code"),  # noqa: E731
                                      values(result, ref, metric), design=design["vae"], label="sampled - mean")
    return [
        C.claim("unmasked_collapses", "Trained with MSE over all entries (zeros included), the autoencoder collapses "
                "toward predicting zero for unrated items (median unrated prediction within 0.5 star of 0 in every "
                "seed, and in no seed with the masked loss)", "collapses to zero", collapse(main_e),
                {alt: collapse(alt_e)},
                source=C.cite("primer", primer, "the model would collapse to predicting zero everywhere")),
        C.claim("masked_rmse", "The masked loss gives lower held-out RMSE than the full loss", "masked is better",
                loss_pair("rmse", main_e, higher=False), {alt: loss_pair("rmse", alt_e, higher=False)},
                source=C.cite("primer", "The Pipeline: Masked loss", "We don't want the model to be penalized for "
                              "failing to reconstruct the zeros")),
        C.claim("masked_ranks_better", f"Ranking unrated items by the masked model's predicted ratings gives better "
                f"top-{K} lists (nDCG@{K}, held-out ratings >= 4) than the unmasked model", "implied by the primer",
                loss_pair(f"ndcg@{K}", main_e), {alt: loss_pair(f"ndcg@{K}", alt_e),
                                                 f"recall@{K} instead": loss_pair(f"recall@{K}", main_e)},
                source=C.cite("primer", "The Pipeline: Recommendation",
                              "The top-K items by predicted score become recommendations")),
        C.claim("dae_noise_helps", f"Input dropout ({p.dae_dropout}) improves the test nDCG@100 of the Mult-DAE "
                "architecture over the same network without noise", "dropout regularizes",
                vae_pair(dae, ae, "ndcg@100", label="DAE - AE"),
                {"nDCG@10 instead": vae_pair(dae, ae, "ndcg@10", label="DAE - AE"),
                 "recall@100 instead": vae_pair(dae, ae, "recall@100", label="DAE - AE")},
                source=C.cite("primer", "Denoising and Variational Autoencoders", "this acts as regularization")),
        C.claim("dae_robust", "A denoising model loses less nDCG@100 than the noiseless one when half of the user's "
                "input is hidden", "denoising simulates incomplete information",
                vae_pair(dae, ae, "relative drop of ndcg@100", higher=False, label="DAE - AE"),
                {"absolute nDCG@100 with half hidden": vae_pair(dae, ae, "ndcg@100, part of input hidden",
                                                                label="DAE - AE")},
                source=C.cite("primer", "Denoising and Variational Autoencoders",
                              "more closely simulates the recommendation task (we always have incomplete "
                              "information)")),
        C.claim("kl_decreases_with_beta", "A larger β pulls the codes toward the prior: the KL term decreases as β "
                "grows, in every seed", "β trades reconstruction for KL", kl_decreasing(kl, betas),
                {"without the smallest β": kl_decreasing(kl[1:], betas[1:])} if len(betas) > 2 else {},
                no_alternative=None if len(betas) > 2 else "only two values of β",
                source=C.cite("liang2018", "Sec. 2 (the objective, its KL term weighted by beta)")),
        C.claim("vae_vs_dae", f"Mult-VAE (β = {p.beta_ref}) ranks at least as well as Mult-DAE (test nDCG@100, "
                f"non-inferiority margin {MARGIN_SHARE:.0%} of Mult-DAE's)", "Mult-VAE >= Mult-DAE on ML-20M",
                vae_noninferior("ndcg@100"), {"recall@100 instead": vae_noninferior("recall@100")},
                source=C.cite("liang2018", "Table 2 (ML-20M: Mult-VAE 0.426, Mult-DAE 0.419 nDCG@100)")),
        C.claim("vae_samples_diverse", f"Mult-VAE (β = {p.beta_ref}) can sample diverse recommendations: top-10 lists "
                "decoded from a sampled code cover more of the catalogue than those decoded from its mean "
                "(coverage@10 of the test users' lists)", "enables diverse sampled recommendations",
                sampled("coverage@10"), {"coverage@100 instead": sampled("coverage@100"),
                                         "what it costs: nDCG@10, sampled - mean": sampled("ndcg@10")},
                source=C.cite("primer", "Denoising and Variational Autoencoders",
                              "enabling the model to sample diverse recommendations")),
        C.claim("nonlinear_beats_linear", "The non-linear autoencoders are more expressive than a linear one: "
                "Mult-DAE ranks better than EASE on the same split (test nDCG@100)", "more expressive",
                vae_pair(dae, LINEAR, "ndcg@100", label="Mult-DAE - EASE"),
                {f"Mult-VAE (β = {p.beta_ref}) instead of Mult-DAE": vae_pair(ref, LINEAR, "ndcg@100",
                                                                           label="Mult-VAE - EASE"),
                 "recall@100 instead": vae_pair(dae, LINEAR, "recall@100", label="Mult-DAE - EASE")},
                source=C.cite("primer", "Autoencoders for Collaborative Filtering",
                              "This makes them more expressive dimensionality reduction tools")),
    ]


def numbers(result: ChapterResult) -> dict:
    p = result.config
    data = result["data"]
    R = data.rating_matrix()
    counts = np.diff(R.indptr)
    t = trip(result)
    model = result["autorec"]["masked"]["model"]
    loss_t, vae_t = table(result, "loss"), table(result, "vae")
    decomp = item_mean_decomposition(result)
    out = {"user": result["example_user"], "user_n_rated": int(counts[result["example_user"]]),
           "density_pct": 100 * R.nnz / (data.n_users * data.n_items), "median_rated": float(np.median(counts)),
           "n_params": int(sum(x.numel() for x in model.network_.parameters())),
           "compression": t.summary()["compression"], "trip_n_rated": t.n_rated,
           "trip_rmse": t.summary()["rmse_on_rated"],
           "unobs_pct": 100 * decomp["n_unobserved"] / (data.n_users * data.n_items),
           "share_zero_loss_pct": 100 * decomp["share_unobserved"], "n_seeds": len(p.seeds),
           "autorec_epochs": p.autorec_epochs, "n_heldout": p.n_heldout_users, "dae_dropout": p.dae_dropout,
           "vae_latent": p.vae_latent, "beta_lo": min(p.betas), "beta_hi": max(p.betas)}
    for loss in ("masked", "full"):
        row = loss_t.loc[f"AutoRec, {loss} loss"]
        for metric, key in (("rmse", "rmse"), (f"ndcg@{K}", "ndcg"), ("median popularity of top-k", "pop"),
                            ("median unobserved prediction", "median"), ("share near zero", "near_zero")):
            out[f"{loss}_{key}"], out[f"{loss}_{key}_ci"] = float(row[metric]), float(row[f"{metric} ±"])
        out[f"{loss}_near_zero_pct"] = 100 * float(row["share near zero"])
    out["better_ranker"] = "the unmasked model" if out["full_ndcg"] > out["masked_ndcg"] else "the masked model"
    dae, ae = f"Mult-DAE, dropout {p.dae_dropout}", "AE, no noise"
    drop = "relative drop of ndcg@100"
    out |= {"dae_ndcg": float(vae_t.loc[dae, "ndcg@100"]), "dae_ndcg_ci": float(vae_t.loc[dae, "ndcg@100 ±"]),
            "ae_ndcg": float(vae_t.loc[ae, "ndcg@100"]), "ae_ndcg_ci": float(vae_t.loc[ae, "ndcg@100 ±"]),
            "dae_drop_pct": 100 * float(vae_t.loc[dae, drop]), "ae_drop_pct": 100 * float(vae_t.loc[ae, drop])}
    lo, hi = f"Mult-VAE, β = {min(p.betas)}", f"Mult-VAE, β = {max(p.betas)}"
    out |= {"kl_ratio": float(values(result, lo, "kl").mean() / values(result, hi, "kl").mean()),
            "nll_lo": float(values(result, lo, "nll").mean()), "nll_hi": float(values(result, hi, "nll").mean()),
            "au_hi": float(values(result, hi, "active units").mean()),
            "vae_best_epoch": float(np.mean([values(result, n, "best_epoch").mean() for n in vae_t.index
                                             if n != LINEAR]))}
    return out
