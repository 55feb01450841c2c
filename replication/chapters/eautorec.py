"""Chapter "E-AutoRec": AutoRec vs E-AutoRec fed with the neighbourhood explainability matrix E (Haghighi,
Seton & Nasraoui 2019); RMSE, MAP@n, MEP@n; the paper's Figures 3-6 with their claims.

Protocol: per seed, a random 90/10 rating split; a validation part (1/9 of the training ratings, i.e. 10% of all)
is carved from the training part with its own seed. Each model trains on the rest, stops early on the validation
RMSE (patience epochs without improvement, the best epoch's weights kept) and lambda is chosen per seed and model
from the same grid by the best validation RMSE. E is computed from the fitted training ratings only. Ranking
metrics rank the raw (unclipped) predictions of every item the user has not rated (training or validation), exact
ties (rare) in a seeded random order; a test rating >= 4 is relevant. Alternatives recorded for the sensitivity
lists: Eq. 4 read as a sum, a fixed 40-epoch budget (lambda chosen by the last epoch's validation RMSE), clipped
predictions, only the user's test items ranked, only 5-star test ratings relevant.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import explain, metrics, models, plots, results
from ..checks import check_choice, check_int, check_seeds, read_only
from ..experiments import claims as C
from ..experiments import runner
from ..experiments.protocols import holdout, load_data
from ..models.autorec import AutoRec
from .common import ChapterResult, OnData, param, setup

MODELS = ("AutoRec", "E-AutoRec")
SUM = "E-AutoRec (r + e)"  # Eq. 4 read as W1 (r + e): one weight block over the sum of the two inputs
# how the ranked lists are built and judged: the main protocol and the alternatives of the sensitivity lists
EVALUATIONS = ("main", "clipped", "test_items", "strict")
RANKING_ALTERNATIVES = {"rank clipped predictions (ties at 5 stars, by item index)": "clipped",
                        "rank only the user's test items": "test_items",
                        "relevant = 5-star test ratings only": "strict"}


def _evaluation(name: str, relevant_threshold: float, strict_threshold: float) -> tuple[str, str, float]:
    """(ranking, candidates, relevance threshold) of an evaluation choice."""
    return {"main": ("raw", "unrated", relevant_threshold), "clipped": ("clipped", "unrated", relevant_threshold),
            "test_items": ("raw", "test_items", relevant_threshold),
            "strict": ("raw", "unrated", strict_threshold)}[name]


def _transformed(scores: metrics.Scores, how: str, seed: int) -> metrics.Scores:
    """Scores clipped to [1, 5] ("clipped") or with exact ties in a seeded random order ("ties"): of the whole
    matrix, or block by block for a scorer (then seeded by the block's first row)."""
    def apply(block: np.ndarray, block_seed: int) -> np.ndarray:
        return np.clip(block, 1, 5) if how == "clipped" else metrics.break_ties(block, block_seed)

    if callable(scores):
        return lambda rows: apply(scores(rows), seed + int(rows[0]) if len(rows) else seed)
    return apply(scores, seed)


@functools.lru_cache(maxsize=32)
def _explainable(seed: int, n_neighbors: int, theta: float, dataset: str = "ml-100k", data_dir: str = ""):
    """The explainable (user, item) pairs of a seed's E (cached per worker process: every job of a seed needs it;
    read-only, so that no job changes what the next one reads)."""
    split = holdout(seed, "random", 0.1, dataset=dataset, data_dir=data_dir)
    return read_only(explain.explainable_pairs(split.fit_train, n_neighbors, theta))


def _fit(split, model: str, n_neighbors: int, theta: float, valid: "metrics.Validation | None",
         **settings: Any) -> AutoRec:
    """AutoRec, E-AutoRec or E-AutoRec with Eq. 4 as a sum (`model`), fitted on the split's training ratings (E
    from them only)."""
    net = AutoRec(combine="sum" if model == SUM else "concat", **settings)
    side = None if model == "AutoRec" else explain.explainability_input(split.fit_train, n_neighbors, theta)
    return net.fit(split.fit_train, valid=valid, side=side)


def fit_and_evaluate(seed: int, model: str, hidden: int, l2: float, n_neighbors: int, theta: float,
                     ns: list[int], epochs: int, patience: int | None, optimizer: str, lr: float,
                     relevant_threshold: float, strict_threshold: float, mep_settings: list[list[float]],
                     keep: bool, dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """Train one AutoRec / E-AutoRec (concatenated or summed input) on one split and record RMSE, MAP@n and MEP@n
    (MEP against E of every (neighbours, theta) in `mep_settings`) under each evaluation choice. `patience` None =
    a fixed budget of `epochs` (the last epoch's weights). `keep`: return the history and the top-n lists.
    Predictions are one dense matrix up to ML-1M, scored block by block of users beyond."""
    split = holdout(seed, "random", 0.1, dataset=dataset, data_dir=data_dir)
    valid = metrics.Validation(split.valid, metric="rmse")
    net = _fit(split, model, n_neighbors, theta, valid if patience is not None else None, hidden=hidden, l2=l2,
               epochs=epochs, patience=patience, optimizer=optimizer, lr=lr, seed=seed)
    raw = metrics.scores_or_scorer(net.score, split.fit_train.shape)
    clipped = _transformed(raw, "clipped", seed)
    known = split.fit_train + split.valid
    history = net.history_
    best = history.attrs.get("best_epoch", len(history))
    valid_rmse = float(history["valid"].min()) if patience is not None else metrics.rmse(clipped, split.valid)
    records = [{"metric": "rmse", "value": metrics.rmse(clipped, split.test)},
               {"metric": "valid_rmse", "value": valid_rmse}, {"metric": "best_epoch", "value": best},
               {"metric": "epochs_trained", "value": len(history)}]
    for name, scores in (("main", raw), ("clipped", clipped)):
        records += [{"metric": "tied_lists", "n": n, "evaluation": name, "value": v}
                    for n, v in metrics.tied_shares(scores, known, ns).items()]
    explainable = {(int(nb), float(th)): _explainable(seed, int(nb), float(th), dataset, data_dir)
                   for nb, th in mep_settings}
    lists, meps = {}, {}
    ranked_scores = {"raw": _transformed(raw, "ties", seed), "clipped": clipped}  # index order on 5 stars
    for name in EVALUATIONS:  # rank once per evaluation; MAP does not depend on E, MEP is read off the same lists
        ranking, candidates, threshold = _evaluation(name, relevant_threshold, strict_threshold)
        per_user = metrics.per_user_metrics(ranked_scores[ranking], known, split.test,
                                            ks=ns, relevant_threshold=threshold, candidates=candidates,
                                            only=["map"])
        lists[name] = per_user
        for (nb, th), expl in explainable.items():
            # the strict relevance changes no list, only which listed items count as hits: the same MEP as main
            mep = meps[nb, th] if name == "strict" else metrics.mep_of_lists(per_user, expl, ns)
            if name == "main":
                meps[nb, th] = mep
            for n in ns:
                for metric, value in (("map", per_user[f"map@{n}"].mean()), ("mep", mep[f"mep@{n}"])):
                    records.append({"metric": metric, "n": n, "evaluation": name, "mep_neighbors": nb,
                                    "mep_theta": th, "value": float(value)})
    artifacts = None
    if keep:
        top = np.full((known.shape[0], max(ns)), -1)
        top[lists["main"].index.to_numpy()] = lists["main"].attrs["ranked"]
        artifacts = {"history": history[["epoch", "valid", "train_rmse"]], "top": top}
    return runner.JobOutput(records, artifacts)


def curve_job(seed: int, model: str, hidden: int, l2: float, n_neighbors: int, theta: float, epochs: int,
              optimizer: str, lr: float, dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """Figure 3's curves: one training run on past its early stop (no patience, `epochs` epochs), validated each
    epoch, so that the figure shows where the validation RMSE turns up while the training RMSE keeps falling."""
    split = holdout(seed, "random", 0.1, dataset=dataset, data_dir=data_dir)
    net = _fit(split, model, n_neighbors, theta, metrics.Validation(split.valid, metric="rmse"), hidden=hidden,
               l2=l2, epochs=epochs, optimizer=optimizer, lr=lr, seed=seed)
    return runner.JobOutput([{"metric": "curve_best_epoch", "value": net.history_.attrs["best_epoch"]}],
                            net.history_[["epoch", "valid", "train_rmse"]])


def _tuned(name: str, split, l2_grid: list[float], seed: int) -> tuple[models.Recommender, float]:
    """A rating predictor with lambda chosen from `l2_grid` on the validation ratings (early-stopped each)."""
    valid = metrics.Validation(split.valid, metric="rmse")
    fits = [models.make(name, l2=l2, seed=seed).fit(split.fit_train, valid=valid) for l2 in l2_grid]
    scores = [float(f.history_["valid"].min()) for f in fits]
    best = int(np.argmin(scores))
    return fits[best], l2_grid[best]


def context_job(seed: int, n_neighbors: int, theta: float, ns: list[int], relevant_threshold: float,
                reference_l2_grid: list[float], dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """The controls on the same split: random, popularity, item-kNN, user-kNN, EASE, the explanation score Exp
    itself as a ranker (MAP/MEP); for RMSE the global mean, each film's mean rating, user + item biases and a
    biased matrix factorisation (lambda of both chosen on validation from `reference_l2_grid`)."""
    split = holdout(seed, "random", 0.1, dataset=dataset, data_dir=data_dir)
    known = split.fit_train + split.valid
    shape = split.fit_train.shape
    expl = explain.explainable_pairs(split.fit_train, n_neighbors, theta)
    E = explain.ExplainableRows(split.fit_train, n_neighbors, theta)
    scorers = {name: models.make(name, **({"seed": seed} if name == "Random" else {})).fit(split.fit_train).score
               for name in ("Random", "Pop", "ItemKNN", "UserKNN", "EASE")}
    scorers["Exp score"] = lambda rows: E.rows(rows).toarray()
    records = []
    for name, scorer in scorers.items():  # popularity and Exp tie often: ties in a seeded random order, as above
        scores = _transformed(metrics.scores_or_scorer(scorer, shape), "ties", seed)
        for candidates in metrics.CANDIDATES:
            values = metrics.evaluate_topn(scores, known, split.test, ks=ns, relevant_threshold=relevant_threshold,
                                           explainable=expl, candidates=candidates)
            evaluation = "main" if candidates == "unrated" else "test_items"
            records += [{"model": name, "metric": m, "n": n, "evaluation": evaluation, "value": values[f"{m}@{n}"]}
                        for n in ns for m in ("map", "mep")]
    train = split.fit_train
    counts = np.diff(train.tocsc().indptr)
    item_mean = np.where(counts > 0, np.asarray(train.sum(axis=0)).ravel() / np.maximum(counts, 1),
                         train.data.mean())
    predictions = {"global mean": lambda rows: np.full((len(rows), shape[1]), train.data.mean()),
                   "item mean": lambda rows: np.tile(item_mean, (len(rows), 1))}
    for name, label in (("Biases", "user + item biases"), ("BiasedMF", "biased MF")):
        model, l2 = _tuned(name, split, reference_l2_grid, seed)
        predictions[label] = model.predict
        records += [{"model": label, "metric": "l2", "value": l2},
                    {"model": label, "metric": "best_epoch", "value": model.history_.attrs["best_epoch"]}]
    records += [{"model": label, "metric": "rmse", "value": metrics.rmse(p, split.test)}
                for label, p in predictions.items()]
    return runner.JobOutput(records)


def _jobs(seeds, models, settings, base, mep_settings=None, keep=False, budget="early"):
    """Jobs for every seed x model x setting; AutoRec's runs are also scored against the E of `mep_settings`."""
    jobs = []
    for seed in seeds:
        for model in models:
            for setting in settings:
                own = [setting.get("n_neighbors", base["n_neighbors"]), setting.get("theta", base["theta"])]
                params = {**base, **setting, "seed": seed, "model": model,
                          "mep_settings": mep_settings if model == "AutoRec" and mep_settings else [own],
                          "keep": keep}
                labels = {"seed": seed, "model": model, "hidden": params["hidden"], "l2": params["l2"],
                          "n_neighbors": params["n_neighbors"], "theta": params["theta"], "budget": budget}
                # epochs to converge grow with lambda (about 80, 150 and 380 at 3, 10 and 30): costliest first
                cost = params["hidden"] / 300 * (1 if model == "AutoRec" else 1.5) * max(params["l2"], 1.0) ** 0.6
                jobs.append(runner.Job(fit_and_evaluate, params, labels,
                                       cost=cost * params["epochs"] / 600 if budget == "fixed" else cost))
    return jobs


def _at_epoch(history: pd.DataFrame, epoch: int) -> float:
    """Validation RMSE after `epoch` epochs (the last recorded one if the run stopped earlier)."""
    return float(history["valid"].iloc[min(epoch, len(history)) - 1])


@dataclass(frozen=True)
class Config(OnData):
    """E-AutoRec at the paper's defaults where it gives them; lambda tuned per seed and model on validation."""

    chapter = "eautorec"
    seeds: tuple[int, ...] = param([0, 1, 2, 3, 4], "random 90/10 splits of Figures 3 and 4")
    sweep_seeds: tuple[int, ...] = param([0, 1, 2], "fewer seeds for the sweeps of Figures 5 and 6 (their cost)")
    hidden: int = param(300, "the paper's k")
    n_neighbors: int = param(50, "the paper's |N_u| behind E")
    theta: float = param(0.0, "the paper's explainability threshold (stars)")
    epochs: int = param(600, "budget of the early-stopped runs (none stops near it)")
    patience: int | None = param(10, "epochs without a better validation RMSE before stopping (the best epoch "
                                     "kept); None: a fixed budget of `epochs`")
    fixed_epochs: int = param(40, "the fixed budget the verdicts are re-judged under (the earlier protocol)")
    curve_epochs: int = param(400, "epochs of Figure 3's runs past the early stop")
    optimizer: str = param("rprop", "full-batch Rprop (the paper names no optimiser)")
    lr: float = param(0.01, "Rprop's initial step")
    l2_grid: tuple[float, ...] = param([5.0, 10.0, 20.0], "lambda chosen per seed and model on validation RMSE")
    ns: tuple[int, ...] = param([5, 10, 20, 30, 40, 50], "list lengths of Figure 4")
    n_fixed: int = param(10, "the list length of Figures 5 and 6")
    hidden_grid: tuple[int, ...] = param([100, 300, 500], "Figure 5's hidden sizes")
    neighbor_grid: tuple[int, ...] = param([10, 50, 200], "Figure 6's neighbourhood sizes")
    theta_grid: tuple[float, ...] = param([0.0, 1.0, 2.0], "Figure 6's thresholds")
    relevant_threshold: float = param(4.0, "a test rating of at least 4 stars is relevant")
    strict_threshold: float = param(5.0, "the alternative: only 5-star test ratings relevant")
    reference_l2_grid: tuple[float, ...] = param([1.0, 3.0, 10.0, 30.0], "lambda grid of the biases and MF "
                                                                         "reference models")
    example_user: int = param(-1, "the user whose explanations are shown; -1: the median number of ratings")

    def validate(self) -> None:
        super().validate()
        check_seeds(self.seeds)
        check_seeds(self.sweep_seeds)
        check_int("fixed_epochs", self.fixed_epochs, 1)
        check_int("curve_epochs", self.curve_epochs, 1)

    @property
    def list_lengths(self) -> list[int]:
        """Every list length measured: `ns` and `n_fixed`."""
        return sorted({int(n) for n in self.ns} | {int(self.n_fixed)})

    def base(self) -> dict[str, Any]:
        """The job parameters at the paper's defaults (lambda: the grid's first, replaced per job)."""
        return dict(hidden=self.hidden, n_neighbors=self.n_neighbors, theta=self.theta, ns=self.list_lengths,
                    epochs=self.epochs, patience=self.patience, optimizer=self.optimizer, lr=self.lr,
                    relevant_threshold=self.relevant_threshold, strict_threshold=self.strict_threshold,
                    l2=self.l2_grid[0], **self.source)

    def mep_settings(self) -> list[list[float]]:
        """Every (neighbours, theta) whose E AutoRec's lists are scored against (the defaults first)."""
        return [[self.n_neighbors, self.theta]] + [[nb, self.theta] for nb in self.neighbor_grid
                                                  if nb != self.n_neighbors] + \
            [[self.n_neighbors, th] for th in self.theta_grid if th != self.theta]


# the claims of the headline box at the top of the chapter (and of the findings page)
HEADLINE = ("rmse_better", "rmse_at_least_as_accurate", "map_every_n", "mep_every_n", "neighbours_raise_mep")


def run(config: Config = Config()) -> ChapterResult:
    """Phase 1: every lambda for AutoRec, E-AutoRec and E-AutoRec with Eq. 4 as a sum at the paper's defaults;
    lambda chosen per seed and model on the validation RMSE (the same grid, so the same search budget, for all).
    Phase 2 (with that lambda): the fixed-budget runs (`fixed_epochs`, lambda chosen by the validation RMSE at that
    epoch); on `sweep_seeds`, the hidden-size, neighbourhood and threshold sweeps of Figures 5 and 6 under the main
    protocol, with Eq. 4 as a sum and with the fixed budget; Figure 3's runs past the stop (`curve_epochs`, first
    seed). Then the controls."""
    setup()
    c, source = config, config.source
    seeds, sweep_seeds, base = list(c.seeds), list(c.sweep_seeds), c.base()
    mep_settings = c.mep_settings()
    timer = results.Timer()
    first_jobs = _jobs(seeds, MODELS + (SUM,), [{"l2": l2} for l2 in c.l2_grid], base, mep_settings, keep=True)
    with timer("phase 1: lambda"):
        first = timer.count(runner.run(first_jobs, n_jobs=c.n_jobs, desc="E-AutoRec lambda"))
    histories = {(j.labels["seed"], j.labels["model"], j.labels["l2"]): art["history"]
                 for j, art in zip(first_jobs, first.artifacts)}
    f1 = first.frame
    valid = f1[f1["metric"] == "valid_rmse"]
    chosen = valid.loc[valid.groupby(["seed", "model"])["value"].idxmin(), ["seed", "model", "l2"]].assign(
        budget="early")
    # the fixed budget: lambda chosen by the validation RMSE after `fixed_epochs` epochs (the curves are the same
    # training: a run stopped early on validation is the fixed run continued)
    at_fixed = pd.DataFrame([{"seed": s, "model": m, "l2": l2, "value": _at_epoch(h, c.fixed_epochs)}
                             for (s, m, l2), h in histories.items() if m in MODELS])
    chosen_fixed = at_fixed.loc[at_fixed.groupby(["seed", "model"])["value"].idxmin(), ["seed", "model", "l2"]]
    chosen = pd.concat([chosen, chosen_fixed.assign(budget="fixed")], ignore_index=True)
    l2_of = {(r.seed, r.model, r.budget): r.l2 for r in chosen.itertuples()}
    tops = {j.labels["seed"]: art["top"] for j, art in zip(first_jobs, first.artifacts)
            if j.labels["model"] == "E-AutoRec" and l2_of[j.labels["seed"], "E-AutoRec", "early"] == j.labels["l2"]}
    sweeps = [{"hidden": k} for k in c.hidden_grid if k != c.hidden]
    sweeps_e = [{"n_neighbors": nb} for nb in c.neighbor_grid if nb != c.n_neighbors] + \
        [{"theta": th} for th in c.theta_grid if th != c.theta]
    fixed = {"epochs": c.fixed_epochs, "patience": None}
    jobs = []
    for seed in seeds:  # the fixed budget at the defaults (AutoRec's lists scored against every E, as above)
        for model in MODELS:
            jobs += _jobs([seed], [model], [{}], {**base, "l2": l2_of[seed, model, "fixed"], **fixed}, mep_settings,
                          budget="fixed")
    # the sweeps under the main protocol and under the two alternatives that retrain: Eq. 4 as a sum, fixed budget
    for seed in sweep_seeds:
        for model, budget in (("AutoRec", "early"), ("E-AutoRec", "early"), (SUM, "early"), ("AutoRec", "fixed"),
                              ("E-AutoRec", "fixed")):
            # Figures 5 and 6 and their claims read the lists at n_fixed only
            sweep_base = {**base, "l2": l2_of[seed, model, budget], "ns": [c.n_fixed]} | \
                (fixed if budget == "fixed" else {})
            jobs += _jobs([seed], [model], sweeps + (sweeps_e if model != "AutoRec" else []), sweep_base,
                          budget=budget)
    curve_jobs = [runner.Job(curve_job, dict(seed=seeds[0], model=m, hidden=c.hidden, l2=l2_of[seeds[0], m, "early"],
                                             n_neighbors=c.n_neighbors, theta=c.theta, epochs=c.curve_epochs,
                                             optimizer=c.optimizer, lr=c.lr, **source), {"seed": seeds[0], "model": m},
                             cost=c.curve_epochs / 100) for m in MODELS]
    with timer("phase 2: sweeps, fixed budget, curves"):
        second = timer.count(runner.run(jobs + curve_jobs, n_jobs=c.n_jobs, desc="E-AutoRec sweeps"))
    curves = {j.labels["model"]: art for j, art in zip(curve_jobs, second.artifacts[len(jobs):])}
    curve_frame = second.frame[second.frame["metric"] == "curve_best_epoch"]
    with timer("controls"):
        controls = [runner.Job(context_job, dict(seed=s, n_neighbors=c.n_neighbors, theta=c.theta, ns=c.list_lengths,
                                                 relevant_threshold=c.relevant_threshold,
                                                 reference_l2_grid=list(c.reference_l2_grid), **source), {"seed": s})
                    for s in seeds]
        third = timer.count(runner.run(controls, n_jobs=c.n_jobs, desc="E-AutoRec controls"))
    # the chosen lambda's runs are the main runs; the other lambdas are kept only through their RMSE and training
    # length (the sensitivity of the RMSE claims and the validation table)
    f1 = f1.merge(chosen[chosen["budget"] == "early"].assign(chosen=True), on=["seed", "model", "l2", "budget"],
                  how="left")
    f1["chosen"] = f1["chosen"].fillna(False).astype(bool)
    f1 = f1[f1["chosen"] | f1["metric"].isin(["rmse", "valid_rmse", "best_epoch", "epochs_trained"])]
    frame = pd.concat([f1, second.frame[second.frame["metric"] != "curve_best_epoch"].assign(chosen=True)],
                      ignore_index=True)
    for model, history in curves.items():
        history.attrs["best_epoch"] = int(curve_frame[curve_frame["model"] == model]["value"].iloc[0])
    split = holdout(seeds[0], "random", 0.1, **source)
    protocol = {"l2_chosen": chosen.to_dict(orient="records"), "scaling": "r/5",
                "split": "random 90/10 per seed; validation = 1/9 of the training ratings, carved per seed"}
    return ChapterResult(pd.concat([frame, third.frame.assign(chosen=True)], ignore_index=True), config,
                         timer.seconds,
                         {"chosen": chosen.reset_index(drop=True), "histories": histories, "curves": curves,
                          "tops": tops, "context": third.frame, "split": split, "data": load_data(**source),
                          "design": C.Resampling.random_splits(split.fit_train.nnz, split.test.nnz, "ratings"),
                          "protocol": protocol, "deviations": DEVIATIONS, "headline": HEADLINE})


# ---------------------------------------------------------------------------------------------------- selections


def select(result: ChapterResult, metric: str, *, n: int | None = None, evaluation: str = "main", chosen: bool = True,
           budget: str = "early", **setting: Any) -> pd.DataFrame:
    """Records of one metric at the paper's defaults except where `setting` says otherwise (hidden, n_neighbors,
    theta, l2, model); MEP is measured against the E of the run's own (neighbours, theta) unless `mep_neighbors` /
    `mep_theta` are given."""
    p = result.config
    f = result.frame
    where = {"hidden": p.hidden, "n_neighbors": p.n_neighbors, "theta": p.theta, "budget": budget} | setting
    mep_where = {"mep_neighbors": where.pop("mep_neighbors", None), "mep_theta": where.pop("mep_theta", None)}
    f = f[f["metric"] == metric]
    if chosen:
        f = f[f["chosen"]]
    for column, value in where.items():
        f = f[f[column] == value]
    if metric in ("map", "mep"):
        f = f[(f["n"] == n) & (f["evaluation"] == evaluation)]
        nb = mep_where["mep_neighbors"] if mep_where["mep_neighbors"] is not None else f["n_neighbors"]
        th = mep_where["mep_theta"] if mep_where["mep_theta"] is not None else f["theta"]
        f = f[(f["mep_neighbors"] == nb) & (f["mep_theta"] == th)]
    return f


def paired_values(result: ChapterResult, metric: str, e_model: str = "E-AutoRec", **kw: Any) -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """(E-AutoRec, AutoRec) values aligned on the seed (`e_model`: which reading of Eq. 4)."""
    f = select(result, metric, **kw)
    return C.pair(f, {"model": e_model}, {"model": "AutoRec"}, metric)


def per_run(result: ChapterResult) -> pd.DataFrame:
    """Every early-stopped run at the defaults: lambda, best epoch, epochs trained, validation and test RMSE."""
    f = result.frame
    f = f[f["metric"].isin(["best_epoch", "epochs_trained", "valid_rmse", "rmse"]) & (f["budget"] == "early") &
          (f["hidden"] == result.config.hidden) & (f["n_neighbors"] == result.config.n_neighbors) &
          (f["theta"] == result.config.theta)]
    return f.pivot_table(index=["model", "l2", "seed"], columns="metric", values="value")


# ---------------------------------------------------------------------------------------------------- tables, figures


def validation_table(result: ChapterResult) -> pd.DataFrame:
    """Per model and lambda: mean validation RMSE at the best epoch, mean best epoch and how many seeds chose it."""
    table = per_run(result).groupby(["model", "l2"])[["valid_rmse", "best_epoch", "epochs_trained"]].mean()
    early = result["chosen"][result["chosen"]["budget"] == "early"]
    counts = early.groupby(["model", "l2"]).size().rename("seeds choosing it")
    return table.join(counts).fillna({"seeds choosing it": 0}).rename(
        columns={"valid_rmse": "validation RMSE (mean)", "best_epoch": "best epoch (mean)",
                 "epochs_trained": "epochs trained (mean)"})


def figure3(result: ChapterResult) -> plt.Figure:
    """Training and validation RMSE per epoch of the first seed's run at the chosen lambda, trained on past its
    early stop; the epoch early stopping keeps and the fixed budget of the earlier protocol are marked."""
    p = result.config
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, model in enumerate(MODELS):
        h = result["curves"][model]
        color = plots.PALETTE[i]
        ax.plot(h["epoch"], h["valid"], color=color, label=f"{model}: validation")
        ax.plot(h["epoch"], h["train_rmse"], color=color, linestyle=":", label=f"{model}: training")
        stop = select(result, "best_epoch", model=model)
        best = int(stop[stop["seed"] == p.seeds[0]]["value"].iloc[0])
        ax.plot(best, h["valid"].iloc[best - 1], "o", color=color, markersize=7,
                label=f"{model}: early stopping keeps epoch {best}")
    ax.axvline(p.fixed_epochs, color="grey", linestyle="--", label=f"fixed budget ({p.fixed_epochs} epochs)")
    ax.set_ylim(0.75, 1.15)
    plots.label_axes(ax, "epoch (full batch)", "RMSE (stars)", "Figure 3: RMSE vs epochs")
    ax.legend(fontsize=8)
    return fig


def _curves(ax, result: ChapterResult, metric: str, xs, column: str | None, n: int, label_x: str, title: str):
    for model in MODELS:
        rows = []
        for x in xs:
            setting = {column: x} if column else {}
            f = select(result, metric, n=(x if column is None else n), model=model, **setting)
            rows.append(f.sort_values("seed")["value"].to_numpy())
        width = min(len(r) for r in rows)
        plots.curve_with_ci(ax, xs, np.array([r[:width] for r in rows]).T, model)
    plots.label_axes(ax, label_x, f"{metric.upper()}@{'n' if column is None else n}", title)


def figure4(result: ChapterResult) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    ns = result.config.list_lengths
    _curves(axes[0], result, "map", ns, None, 0, "n (length of the top-n list)", "Figure 4a: MAP vs n")
    _curves(axes[1], result, "mep", ns, None, 0, "n (length of the top-n list)", "Figure 4b: MEP vs n")
    axes[0].legend()
    fig.tight_layout()
    return fig


def figure5(result: ChapterResult) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    p = result.config
    for ax, metric, letter in zip(axes, ("map", "mep"), "ab"):
        _curves(ax, result, metric, p.hidden_grid, "hidden", p.n_fixed, "hidden units k",
                f"Figure 5 ({letter}): {metric.upper()}")
    axes[0].legend()
    fig.tight_layout()
    return fig


def _sweep_values(result: ChapterResult, model: str, metric: str, column: str, x: float,
                  evaluation: str = "main", budget: str = "early") -> np.ndarray:
    """A Figure 6 point on the sweep seeds. AutoRec is not retrained on another E: its runs at the defaults are
    scored against that E."""
    p = result.config
    if model == "AutoRec":
        mep = {"mep_neighbors": x if column == "n_neighbors" else p.n_neighbors,
               "mep_theta": x if column == "theta" else p.theta}
        f = select(result, metric, n=p.n_fixed, evaluation=evaluation, budget=budget, model="AutoRec", **mep)
    else:
        f = select(result, metric, n=p.n_fixed, evaluation=evaluation, budget=budget, model=model, **{column: x})
    f = f[f["seed"].isin(p.sweep_seeds)]
    return f.sort_values("seed")["value"].to_numpy()


def figure6(result: ChapterResult) -> plt.Figure:
    p = result.config
    fig, axes = plt.subplots(1, 3, figsize=(17, 4))
    for ax, metric, column, xs, title in ((axes[0], "map", "n_neighbors", p.neighbor_grid, "(a) MAP"),
                                          (axes[1], "mep", "n_neighbors", p.neighbor_grid, "(b) MEP"),
                                          (axes[2], "mep", "theta", p.theta_grid, "(c) MEP")):
        for model in MODELS:
            plots.curve_with_ci(ax, xs, np.array([_sweep_values(result, model, metric, column, x) for x in xs]).T,
                                model)
        plots.label_axes(ax, "neighbourhood size |N_u|" if column == "n_neighbors" else "threshold θ (stars)",
                         f"{metric.upper()}@{p.n_fixed}", f"Figure 6 {title}")
    axes[0].legend()
    fig.tight_layout()
    return fig


def _ci(values) -> str:
    return "{:.4f} ± {:.4f}".format(*metrics.mean_ci(values))


def protocol_table(result: ChapterResult) -> pd.DataFrame:
    """At n_fixed, MAP/MEP under each evaluation choice, mean +- CI over seeds, for both models (and Eq. 4 as a sum,
    and the fixed budget) and the ranking controls."""
    n = result.config.n_fixed
    rows = {}
    variants = [(m, m, "early") for m in MODELS + (SUM,)] + [(f"{m}, {result.config.fixed_epochs} epochs", m,
                                                             "fixed") for m in MODELS]
    for label, model, budget in variants:
        rows[label] = {f"{m}@{n} {e}": _ci(select(result, m, n=n, evaluation=e, model=model, budget=budget)["value"])
                       for e in EVALUATIONS for m in ("map", "mep")}
    ctx = result["context"]
    for model, group in ctx[ctx["metric"].isin(["map", "mep"])].groupby("model", sort=False):
        rows[model] = {f"{m}@{n} {e}": _ci(v["value"])
                       for (m, e), v in group[group["n"] == n].groupby(["metric", "evaluation"])}
    return pd.DataFrame(rows).T.fillna("–")


def rmse_table(result: ChapterResult) -> pd.DataFrame:
    """Test RMSE (stars), mean +- CI over seeds: both autoencoders (early stopped; Eq. 4 as a sum; the fixed budget)
    beside the reference points a reader needs to judge them."""
    rows = {m: _ci(select(result, "rmse", model=m)["value"]) for m in MODELS + (SUM,)}
    for m in MODELS:
        rows[f"{m}, {result.config.fixed_epochs} epochs"] = _ci(select(result, "rmse", model=m,
                                                                          budget="fixed")["value"])
    ctx = result["context"]
    for model, group in ctx[ctx["metric"] == "rmse"].groupby("model", sort=False):
        rows[model] = _ci(group["value"])
    return pd.Series(rows, name="test RMSE (stars)").to_frame()


def first_split(result: ChapterResult):
    """The first seed's split of the data set the chapter ran on."""
    return result["split"]


def example_user(result: ChapterResult) -> int:
    """The reader's example: `example_user`, or (-1) the user with the median number of training ratings."""
    train = first_split(result).fit_train
    counts = np.diff(train.indptr)
    user = result.config.example_user
    if user < 0:
        return int(np.argsort(counts, kind="stable")[len(counts) // 2])
    return check_int("example_user", user, 0, len(counts) - 1)


def explanation_table(result: ChapterResult, n: int = 5, ranker: str = "E-AutoRec") -> pd.DataFrame:
    """The top-n of `ranker` ("E-AutoRec", or "Exp score": the films ranked by Exp(u, i) itself) for the example
    user (first seed), with the neighbourhood evidence behind each film."""
    seed = result.config.seeds[0]
    split = first_split(result)
    user = example_user(result)
    if ranker == "E-AutoRec":
        items = result["tops"][seed][user][:n]
    else:
        check_choice("ranker", ranker, ("E-AutoRec", "Exp score"))
        exp = explain.explanation_scores(split.fit_train, result.config.n_neighbors, users=[user])
        items = metrics.top_k(metrics.break_ties(exp, seed), n, exclude=(split.fit_train + split.valid)[[user]])[0]
    items = items[items >= 0]
    table = explain.neighbour_evidence(split.fit_train, user, items, result.config.n_neighbors)
    data = result["data"]
    test = split.test[[user]].toarray().ravel()
    table.insert(1, "film", [data.title(i) for i in items])
    table["in the user's test ratings"] = [f"{test[i]:.0f} stars" if test[i] > 0 else "–" for i in items]
    k = result.config.n_neighbors
    table["explanation"] = [f"{c} of your {k} nearest neighbours rated it, on average {m:.1f} stars" if c else
                            f"none of your {k} nearest neighbours rated it"
                            for c, m in zip(table["neighbours who rated it"], table["their mean rating"])]
    return table.drop(columns="item").set_index("film")


# ---------------------------------------------------------------------------------------------------- claims

LABEL = "E-AutoRec - AutoRec"
# where the paper says what the claims test
EVERY = {"map": C.cite("eautorec", "Sec. 5, Fig. 4a", "E-AutoRec outperforms the baseline in terms of RMSE, "
                                                     "explainability and MAP metrics for a wide range of tested "
                                                     "parameters"),
         "mep": C.cite("eautorec", "Sec. 4.2, Fig. 4b", "MEP is higher across all tested parameter ranges")}
SHAPE = {"map": C.cite("eautorec", "Sec. 4.2, Fig. 4a", "both models appear to perform well up to a top 20 "
                                                       "recommendation list, beyond which both suffer a significant "
                                                       "drop in performance"),
         "mep": C.cite("eautorec", "Sec. 4.2, Fig. 4b", "the MEP for both models improves well beyond the top 20 "
                                                       "recommended items")}
SWEEPS = C.cite("eautorec", "Sec. 4.2, Fig. 5 and 6", "the accuracy and explainability are significantly better in "
                                                     "E-AutoRec, compared to the baseline AutoRec, across all "
                                                     "parameter ranges")
THETA_HIGHER = C.cite("eautorec", "Sec. 4.2, Fig. 6c", "E-AutoRec model maintains its higher explainability in "
                                                      "comparison with the conventional AutoRec")


def rmse_margin(result: ChapterResult) -> C.Bound:
    """The non-inferiority margin of the RMSE claims: half of what the simplest latent-factor model (biased MF)
    gains over the user + item biases model, both measured on the chapter's splits."""
    ctx = result["context"]
    gain = float(ctx[(ctx["model"] == "user + item biases") & (ctx["metric"] == "rmse")]["value"].mean() -
                 ctx[(ctx["model"] == "biased MF") & (ctx["metric"] == "rmse")]["value"].mean())
    return C.Bound(abs(gain) / 2, f"half the RMSE that biased MF gains over the user + item biases model here "
                                  f"({abs(gain):.4f} stars): losing more would undo half of what latent factors add")


def map_margin(result: ChapterResult) -> C.Bound:
    """The margin of "more neighbours lower MAP only slightly": a tenth of the MAP@n_fixed gap between EASE (the best
    control) and Random, measured on the same splits."""
    ctx, n = result["context"], result.config.n_fixed
    at = lambda model: float(ctx[(ctx["model"] == model) & (ctx["metric"] == "map") & (ctx["n"] == n) &  # noqa: E731
                                 (ctx["evaluation"] == "main")]["value"].mean())
    gap = at("EASE") - at("Random")
    return C.Bound(abs(gap) / 10, f"a tenth of the MAP@{n} gap between EASE and Random here ({abs(gap):.4f}): a "
                                  "change a reader comparing recommenders would notice")


def _every(result: ChapterResult, metric: str, column: str | None, xs, evaluation: str = "main",
           e_model: str = "E-AutoRec", budget: str = "early") -> C.Judgement:
    p = result.config
    settings = {}
    for x in xs:
        if column is None:
            a, b = paired_values(result, metric, e_model, n=x, evaluation=evaluation, budget=budget)
        elif column in ("n_neighbors", "theta"):
            a = _sweep_values(result, e_model, metric, column, x, evaluation, budget)
            b = _sweep_values(result, "AutoRec", metric, column, x, evaluation, budget)
        else:
            f = select(result, metric, n=p.n_fixed, evaluation=evaluation, budget=budget, **{column: x})
            f = f[f["seed"].isin(p.sweep_seeds)]
            a, b = C.pair(f, {"model": e_model}, {"model": "AutoRec"}, metric)
        settings[f"{column or 'n'}={x}"] = (a, b)
    return C.every(settings, design=result["design"], label=LABEL)


def _headline(judge: Callable[..., C.Judgement], ranks: bool, reads_e: bool = True) -> tuple[C.Judgement,
                                                                                           dict[str, C.Judgement]]:
    """A claim's main judgement and its sensitivity list: Eq. 4 as a sum (when the claim involves E-AutoRec,
    `reads_e`), the fixed budget and, for the ranking claims, the evaluation alternatives."""
    alternatives = {"Eq. 4 as a sum, W1 (r + e)": dict(e_model=SUM)} if reads_e else {}
    alternatives["fixed budget of 40 epochs, lambda by the last epoch's validation RMSE"] = dict(budget="fixed")
    if ranks:
        alternatives |= {name: dict(evaluation=e) for name, e in RANKING_ALTERNATIVES.items()}
    return judge(), {name: judge(**choice) for name, choice in alternatives.items()}


def _shape(result: ChapterResult, metric: str, short: int, long: int, e_model: str = "E-AutoRec", budget: str = "early",
           evaluation: str = "main") -> C.Judgement:
    """Both models' metric at n = `long` against n = `short` (a drop for MAP, a rise for MEP), for both models (an
    intersection-union test over the two)."""
    settings = {}
    for model in ("AutoRec", e_model):
        at = {n: select(result, metric, n=n, evaluation=evaluation, model=model, budget=budget)
              .sort_values("seed")["value"].to_numpy() for n in (short, long)}
        settings[model] = (at[short], at[long]) if metric == "map" else (at[long], at[short])
    return C.every(settings, design=result["design"],
                   label=f"{metric.upper()}@{short} - @{long}" if metric == "map" else
                   f"{metric.upper()}@{long} - @{short}")


def _shape_ns(ns: list[int]) -> tuple[int, int, int]:
    """The list lengths of the Figure 4 shape claims: the paper's n = 20 (else the middle one), the longest, and
    the next one after 20 (an alternative to the longest)."""
    short = 20 if 20 in ns else ns[len(ns) // 2]
    return short, max(ns), min([n for n in ns if n > short] or [max(ns)])


def claims(result: ChapterResult) -> list[C.Claim]:
    p = result.config
    n = p.n_fixed
    design = result["design"]
    out = []

    def rmse_pair(e_model: str = "E-AutoRec", budget: str = "early", **kw: Any):
        return paired_values(result, "rmse", e_model, budget=budget, **kw)

    def fixed_lambda(test):
        return {f"lambda = {l2:g} for both models (early stopped)": test(
            *C.pair(select(result, "rmse", chosen=False, l2=l2), {"model": "E-AutoRec"}, {"model": "AutoRec"},
                    "rmse")) for l2 in p.l2_grid}

    better = lambda a, b: C.paired(a, b, design=design, higher_is_better=False, label=LABEL)  # noqa: E731
    main, alt = _headline(lambda **c: better(*rmse_pair(**c)), ranks=False)
    out.append(C.claim("rmse_better", "E-AutoRec predicts ratings more accurately than AutoRec (lower test RMSE)",
                       "lower RMSE curve (Fig. 3)", main, alt | fixed_lambda(better),
                       source=C.cite("eautorec", "Sec. 5", "E-AutoRec outperforms the baseline in terms of RMSE")))
    margin = rmse_margin(result)
    ni = lambda a, b: C.noninferior(a, b, margin=margin, design=design, higher_is_better=False,  # noqa: E731
                                    label=LABEL)
    main, alt = _headline(lambda **c: ni(*rmse_pair(**c)), ranks=False)
    out.append(C.claim("rmse_at_least_as_accurate", "E-AutoRec is at least as accurate as AutoRec (test RMSE, "
                       f"non-inferiority margin {margin.value:.3f} stars)", "at least as accurate (Sec. 4.2)", main,
                       alt | fixed_lambda(ni), source=C.cite("eautorec", "Sec. 4.2", "succeeds to make predictions "
                                                              "that are at least as accurate as the baseline")))
    for metric, fig in (("map", "Fig. 4a"), ("mep", "Fig. 4b")):
        main, alt = _headline(lambda **c: _every(result, metric, None, p.list_lengths, **c), ranks=True)
        out.append(C.claim(f"{metric}_every_n", f"E-AutoRec has higher {metric.upper()}@n than AutoRec for every "
                           "list length n", fig, main, alt, source=EVERY[metric]))
    short, long, mid = _shape_ns(p.list_lengths)
    for metric, fig, what in (("map", "Fig. 4a", f"MAP@n drops beyond n = {short} (MAP@{short} > MAP@{long}), "
                                                 "for both models"),
                              ("mep", "Fig. 4b", f"MEP@n improves beyond n = {short} (MEP@{long} > MEP@{short}), "
                                                 "for both models")):
        main, alt = _headline(lambda **c: _shape(result, metric, short, long, **c), ranks=True)
        if mid != long:
            alt[f"n = {mid} instead of {long}"] = _shape(result, metric, short, mid)
        out.append(C.claim(f"{metric}_{'drops' if metric == 'map' else 'rises'}_for_long_lists", what, fig, main,
                           alt, source=SHAPE[metric]))
    for metric, fig in (("map", "Fig. 5a"), ("mep", "Fig. 5b")):
        main, alt = _headline(lambda **c: _every(result, metric, "hidden", p.hidden_grid, **c), ranks=True)
        out.append(C.claim(f"{metric}_every_k", f"E-AutoRec has higher {metric.upper()} for every number of hidden "
                           "units", fig, main, alt, source=SWEEPS))
    for metric, column, fig in (("map", "n_neighbors", "Fig. 6a"), ("mep", "n_neighbors", "Fig. 6b"),
                                ("mep", "theta", "Fig. 6c")):
        grid = p.neighbor_grid if column == "n_neighbors" else p.theta_grid
        what = "neighbourhood size" if column == "n_neighbors" else "explainability threshold"
        main, alt = _headline(lambda **c: _every(result, metric, column, grid, **c), ranks=True)
        out.append(C.claim(f"{metric}_every_{column}", f"E-AutoRec has higher {metric.upper()} for every {what}",
                           fig, main, alt, source=SWEEPS if column == "n_neighbors" else THETA_HIGHER))
    small, large = min(p.neighbor_grid), max(p.neighbor_grid)
    diff = f"|N_u|={large} - |N_u|={small}"

    def sweep_pair(metric: str, e_model: str = "E-AutoRec", evaluation: str = "main", budget: str = "early"):
        return tuple(_sweep_values(result, e_model, metric, "n_neighbors", x, evaluation, budget)
                     for x in (large, small))

    main, alt = _headline(lambda **c: C.paired(*sweep_pair("mep", **c), design=design, label=diff), ranks=True)
    out.append(C.claim("neighbours_raise_mep", f"More neighbours raise E-AutoRec's MEP@{n} (|N_u| {large} vs {small})",
                       "Fig. 6b", main, {"AutoRec scored against the same E": C.paired(
                           *sweep_pair("mep", "AutoRec"), design=design, label=diff)} | alt,
                       source=C.cite("eautorec", "Sec. 4.2, Fig. 6b", "more neighbors increases the explainability "
                                                                      "precision (MEP)")))
    map_bound = map_margin(result)

    def barely_lower(**choice: Any) -> C.Judgement:
        m_large, m_small = sweep_pair("map", **choice)
        return C.noninferior(m_large, m_small, margin=map_bound, design=design, label=diff)

    main, alt = _headline(barely_lower, ranks=True)
    out.append(C.claim("neighbours_barely_lower_map", f"More neighbours lower E-AutoRec's MAP@{n} only slightly "
                       f"(|N_u| {small} -> {large}; non-inferiority, margin {map_bound.value:.4f}: a tenth of the "
                       "EASE - Random gap)", "Fig. 6a", main, alt,
                       source=C.cite("eautorec", "Sec. 4.2, Fig. 6a", "but only slightly (and slowly) reduces MAP")))
    lo, hi = min(p.theta_grid), max(p.theta_grid)
    mid_theta = sorted(p.theta_grid)[len(p.theta_grid) // 2]
    for model in MODELS:
        def falls(top: float = hi, e_model: str = model, evaluation: str = "main", budget: str = "early"):
            return C.paired(*(_sweep_values(result, e_model, "mep", "theta", t, evaluation, budget)
                              for t in (lo, top)), design=design, label=f"θ={lo:g} - θ={top:g}")
        main, alt = _headline(falls, ranks=True, reads_e=model != "AutoRec")
        out.append(C.claim(f"mep_falls_with_theta_{model.replace('-', '').lower()}",
                           f"{model}'s MEP@{n} falls as the threshold rises (θ {lo:g} -> {hi:g})", "Fig. 6c",
                           main, {f"θ {lo:g} -> {mid_theta:g}": falls(mid_theta)} | alt,
                           source=C.cite("eautorec", "Sec. 4.2, Fig. 6c", "the explainability decreases for both "
                                                                          "methods as we impose more restrictions")))
    return out


# ---------------------------------------------------------------------------------------------------- numbers


def numbers(result: ChapterResult) -> dict:
    p, n = result.config, result.config.n_fixed
    out = {"n_seeds": len(p.seeds), "n_sweep_seeds": len(p.sweep_seeds), "hidden": p.hidden,
           "n_neighbors": p.n_neighbors, "epochs": p.epochs, "patience": p.patience, "n_fixed": n,
           "lr": p.lr, "fixed_epochs": p.fixed_epochs, "curve_epochs": p.curve_epochs,
           "l2_grid": ", ".join(f"{v:g}" for v in p.l2_grid),
           "reference_l2_grid": ", ".join(f"{v:g}" for v in p.reference_l2_grid)}
    out["shape_short"], out["shape_long"], _ = _shape_ns(p.list_lengths)
    runs = per_run(result)
    out["n_runs"] = len(runs)
    out["n_stopped_early"] = int((runs["best_epoch"] < runs["epochs_trained"]).sum())
    for model in MODELS + (SUM,):
        key = model.replace("-", "").replace(" (r + e)", "_sum")
        mean, half = metrics.mean_ci(select(result, "rmse", model=model)["value"])
        out[f"rmse_{key}"], out[f"rmse_ci_{key}"] = mean, half
        out[f"epoch_{key}"] = float(select(result, "best_epoch", model=model)["value"].mean())
        lambdas = result["chosen"]
        early = lambdas[(lambdas["model"] == model) & (lambdas["budget"] == "early")]["l2"]
        out[f"l2_{key}"] = ", ".join(f"{v:g}" for v in sorted(early.unique()))
        for e in EVALUATIONS:
            for m in ("map", "mep"):
                out[f"{key}_{e}_{m}"] = float(select(result, m, n=n, evaluation=e, model=model)["value"].mean())
        if model in MODELS:
            out[f"rmse_fixed_{key}"] = float(select(result, "rmse", model=model, budget="fixed")["value"].mean())
            fixed = lambdas[(lambdas["model"] == model) & (lambdas["budget"] == "fixed")]["l2"]
            out[f"l2_fixed_{key}"] = ", ".join(f"{v:g}" for v in sorted(fixed.unique()))
    for key, e_model, budget in (("", "E-AutoRec", "early"), ("_sum", SUM, "early"), ("_fixed", "E-AutoRec", "fixed")):
        diff = np.subtract(*paired_values(result, "rmse", e_model, budget=budget))
        out[f"rmse_diff{key}"], out[f"rmse_diff{key}_low"], out[f"rmse_diff{key}_high"] = C.interval(
            diff, result["design"])
    ties = result.frame[result.frame["metric"] == "tied_lists"]
    for e in ("main", "clipped"):
        out[f"tied_{e}"] = float(ties[(ties["evaluation"] == e) & (ties["n"] == n)]["value"].mean())
    ctx = result["context"]
    for model, key in (("Pop", "pop"), ("Exp score", "exp"), ("EASE", "ease"), ("Random", "random")):
        for m in ("map", "mep"):
            v = ctx[(ctx["model"] == model) & (ctx["metric"] == m) & (ctx["n"] == n) & (ctx["evaluation"] == "main")]
            out[f"{key}_{m}"] = float(v["value"].mean())
    for model, key in (("global mean", "global"), ("item mean", "item"), ("user + item biases", "biases"),
                       ("biased MF", "mf")):
        out[f"rmse_{key}"] = float(ctx[(ctx["model"] == model) & (ctx["metric"] == "rmse")]["value"].mean())
    out["rmse_margin"] = rmse_margin(result).value
    out["design_ratio"] = result["design"].ratio
    rmse_e, rmse_a = paired_values(result, "rmse", "E-AutoRec")
    needed = C.paired(rmse_e, rmse_a, design=result["design"], higher_is_better=False).power["runs_needed"]
    out["rmse_more_seeds"] = ("no number of seeds of this protocol would resolve a difference of this size"
                              if needed is None else f"about {needed} seeds would resolve a difference of this size "
                                                     "with 80% power")
    out["map_margin"] = map_margin(result).value
    out["bias_gap_ratio"] = (out["rmse_AutoRec"] - out["rmse_biases"]) / max(abs(out["rmse_diff"]), 1e-12)
    out["example_user"] = example_user(result)
    return out


# every choice the paper leaves open, and the one this chapter makes (the chapter's table of deviations)
DEVIATIONS = {
    "training data": "fitted on 80% of the ratings: a validation part (10% of all) carved from the paper's 90% "
                     "training split for early stopping and lambda, with no refit on training + validation "
                     "(the paper trains on its 90%)",
    "loss": "the squared error summed over each user's observed ratings only (the masked loss of AutoRec); the "
            "paper's Eq. 3 writes ||r_u - r^_u||^2 over the whole vector",
    "optimiser": "full-batch Rprop with initial step lr (the paper does not name one)",
    "epochs": "early stopping on the validation RMSE (patience), the best epoch's weights kept; the paper shows "
              "test RMSE per epoch without saying where it stops (alternative: a fixed 40-epoch budget)",
    "lambda": "chosen per seed and model from the same grid on the validation RMSE (the paper gives no value)",
    "scaling": "ratings and E divided by 5 (a 1-star rating stays distinct from a missing one); the paper says "
               "'normalized between 0 and 1'",
    "Eq. 4": "W1 (r + e) read as a concatenation [r; e] with two weight blocks, as the text's 2 x n x k weight "
             "says (alternative: one block over the sum r + e)",
    "candidate set": "every item the user has not rated in training or validation (alternative: only the user's "
                     "test items)",
    "ranking score": "the raw predicted ratings, the rare exact ties in a seeded random order (alternative: clipped "
                     "to 1-5 stars, the ties at 5 stars broken by item index)",
    "relevance": "a test rating of at least 4 stars (alternative: 5 stars only)",
    "MAP normalisation": "AP@n divides by min(n, number of relevant test items); users without a relevant test "
                         "item are left out of MAP (not of MEP)",
    "MEP": "the share of the listed items with E > theta, against the E of the run's own |N_u| and theta",
    "Figures 5 and 6": "n = n_fixed and fewer seeds (sweep_seeds) than Figures 3 and 4; AutoRec is not retrained "
                       "for another E, its lists are scored against it",
}


def _summary(frame: pd.DataFrame, name: str) -> pd.Series:
    """One run's records as the row the exercises compare: test RMSE, best epoch, MAP@n and MEP@n per evaluation."""
    row = {"test RMSE": frame.loc[frame["metric"] == "rmse", "value"].iloc[0],
           "best epoch": frame.loc[frame["metric"] == "best_epoch", "value"].iloc[0]}
    for r in frame[frame["metric"].isin(["map", "mep"])].itertuples():
        row[f"{r.metric.upper()}@{r.n:.0f} ({r.evaluation})"] = r.value
    return pd.Series(row, name=name)


def recorded_run(result: ChapterResult, model: str = "AutoRec", seed: int | None = None) -> pd.Series:
    """The chapter's own run of `model` on one seed (default the first), in the form of :func:`exercise_run`."""
    seed = result.config.seeds[0] if seed is None else seed
    p = result.config
    f = result.frame[(result.frame["seed"] == seed) & result.frame["chosen"] & (result.frame["model"] == model) &
                     (result.frame["budget"] == "early") & (result.frame["hidden"] == p.hidden) &
                     (result.frame["n_neighbors"] == p.n_neighbors) & (result.frame["theta"] == p.theta)]
    own = f["metric"].isin(["rmse", "best_epoch"]) | ((f["n"] == p.n_fixed) &
                                                     (f["mep_neighbors"] == p.n_neighbors) &
                                                     (f["mep_theta"] == p.theta))
    return _summary(f[own], f"{model}, seed {seed} (the chapter's run)")


def exercise_run(result: ChapterResult, model: str = "AutoRec", seed: int | None = None, **changes: Any) -> pd.Series:
    """One training of the chapter's protocol on one split with some choices changed (any Config parameter, e.g.
    epochs=40, patience=None, or the job's l2), through the chapter's own job: test RMSE, best epoch, MAP@n, MEP@n."""
    config = result.config.replace(**{k: v for k, v in changes.items() if k in Config.names()})
    seed = config.seeds[0] if seed is None else seed
    l2 = result["chosen"].set_index(["seed", "model", "budget"])["l2"].get((seed, model, "early"), config.l2_grid[0])
    params = {**config.base(), "l2": changes.get("l2", l2), "seed": seed, "model": model, "ns": [config.n_fixed],
              "mep_settings": [[config.n_neighbors, config.theta]], "keep": False}
    frame = pd.DataFrame(fit_and_evaluate(**params).records)
    return _summary(frame, f"{model}, seed {seed}" + "".join(f", {k}={v}" for k, v in changes.items()))
