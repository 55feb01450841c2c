"""Chapter "C-VAE": a conditioned Mult-VAE with genre conditions (Carraro, Polato & Aiolli 2020); accuracy under
Liang et al.'s strong generalization with every user tested, conditioned recommendation against post-hoc genre
filters, and the paper's PCA readings of the latent space turned into verdicts with sensitivity lists.

Protocol: per repetition (seed), K-fold strong generalization over users (ratings >= 4 are interactions): fold f's
users are the test users, 100 other users validate, the rest train; every eligible user is tested exactly once per
repetition, so per-repetition metrics are means over all users. Every network stops early on validation nDCG@100
(C-VAE also on conditioned validation rows, as rectorch does); EASE's l2 is chosen on the same validation users.
The variants (beta 0.008, unconditioned validation, full expansion) and the latent study run on the first fold of
every repetition; the latent study encodes every eligible user (whole history) under every condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import latent, metrics, models, plots, results, splits
from ..checks import check_int, check_seeds
from ..errors import ConfigError
from ..experiments import claims as C
from ..experiments import runner
from ..experiments.protocols import (STRONG_METRICS, conditioned_eval, conditioned_validation, fold_in_scorer,
                                     load_data, strong_per_user)
from .common import ChapterResult, OnData, param, setup

#: The compared networks (every fold) and the variants trained on the first fold of every repetition.
NETWORKS = {"Mult-DAE": {"variational": False}, "Mult-VAE": {}, "C-VAE": {"conditioned": True}}
VARIANTS = {"C-VAE annealed": {"conditioned": True, "beta_cap": "search"},
            "Mult-VAE beta 0.008": {"beta_cap": "alternative"},
            "C-VAE beta 0.008": {"conditioned": True, "beta_cap": "alternative"},
            "C-VAE (unconditioned validation)": {"conditioned": True, "conditioned_validation": False},
            "C-VAE full": {"conditioned": True, "cond_per_epoch": None},
            "C-VAE annealed, batch 500": {"conditioned": True, "beta_cap": "search", "batch_size": "alternative"}}
FIRST_REPETITION = ("C-VAE annealed, batch 500",)  # variants trained on the first repetition only
#: the paper's beta procedure (Liang et al.'s linear annealing, the beta at the validation peak): the latent study's
#: main network; the other studied networks are its alternatives
LATENT_MAIN = "C-VAE annealed"
STUDIED = (LATENT_MAIN, "C-VAE", "C-VAE beta 0.008", "C-VAE annealed, batch 500")  # networks whose latent space
ALTERNATIVE_NETWORKS = {"beta cap 0.2 network": "C-VAE", "beta 0.008 network": "C-VAE beta 0.008"}  # is studied
ONE_REPETITION = {"batch 500 (first repetition)": "C-VAE annealed, batch 500"}
TWIN = "C-VAE (unconditioned validation)"  # not a training of its own: the C-VAE run judged on another validation
UNTRAINED = "untrained C-VAE"
SPACES = latent.SPACES
CENTRES = ("unconditioned centroid", "mean of all points", "latent origin")
RELATIONS = ("co-consumption", "co-labelling")


def _folds(seed: int, n_folds: int, n_valid_users: int, dataset: str = "ml-100k",
           data_dir: str = "") -> list[splits.StrongSplit]:
    data = load_data(dataset, data_dir)
    return splits.strong_generalization_folds(data.ratings, n_folds=n_folds, n_valid_users=n_valid_users, seed=seed,
                                              n_items=data.n_items)


def _all_users(split: splits.StrongSplit) -> tuple[sp.csr_array, np.ndarray]:
    """Every eligible user with their whole history (the folds partition them, so any fold's split holds all), and
    their user ids (so that repetitions' latent spaces can be compared user by user)."""
    X = sp.csr_array(sp.vstack([split.train, split.valid_in + split.valid_out, split.test_in + split.test_out]))
    return X, np.concatenate([split.train_users, split.valid_users, split.test_users])


def _per_user(model, split: splits.StrongSplit, name: str) -> pd.DataFrame:
    """The test users' strong-generalization metrics, indexed by their original user id."""
    out = strong_per_user(fold_in_scorer(model, split.test_in), split.test_in, split.test_out)
    out.index = np.asarray(split.test_users)[out.index.to_numpy()]
    out.index.name = "user"
    return out.assign(model=name).reset_index()


def _conditioned(label: str, scorer, split: splits.StrongSplit, G: np.ndarray, k: int, post_filter: bool) -> list:
    table = conditioned_eval(scorer, split.test_in, split.test_out, G, k=k, post_filter=post_filter)
    return [{"model": label, "condition": int(r.condition), "metric": m, "value": float(getattr(r, m)),
             "users": int(r.users)} for r in table.itertuples() for m in ("share", "ndcg")]


def network_job(seed: int, fold: int, network: str, n_folds: int, n_valid_users: int, settings: dict[str, Any],
                beta_alternative: float, k_cond: int, n_perm: int, silhouette_sample: int, latent_study: bool,
                keep_figures: bool, dataset: str = "ml-100k", data_dir: str = "", twin: bool = False,
                beta_search: float = 1.0, batch_alternative: int = 500) -> runner.JobOutput:
    """Train one network (or variant) on one fold: per-user test metrics, the conditioned evaluation, the training
    history and, for a studied C-VAE on the first fold, the latent study (with the untrained network as control).
    `twin` (C-VAE): the same training also judged on unconditioned validation, which gives the TWIN variant exactly
    as its own run would (the weights follow the same trajectory; only where it stops and which epoch it keeps
    differ), at no extra training."""
    split = _folds(seed, n_folds, n_valid_users, dataset, data_dir)[fold]
    data = load_data(dataset, data_dir)
    G = data.genre_matrix()
    spec = {**NETWORKS, **VARIANTS}[network].copy()
    conditioned = spec.pop("conditioned", False)
    validate_conditioned = spec.pop("conditioned_validation", conditioned)
    spec["beta_cap"] = {"alternative": beta_alternative, "search": beta_search}.get(spec.get("beta_cap"),
                                                                                    settings["beta_cap"])
    if spec.get("batch_size") == "alternative":  # the same budget and patience in updates, not in epochs
        factor = max(1, round(batch_alternative / settings["batch_size"]))
        spec |= {"batch_size": batch_alternative, "epochs": settings["epochs"] * factor,
                 "patience": None if settings["patience"] is None else settings["patience"] * factor}
    model = models.MultVAE(seed=seed, **{**settings, **spec})
    unconditioned = metrics.Validation(split.valid_out, fold_in=split.valid_in, metric="ndcg@100")
    if validate_conditioned:
        valid, valid_conditions = conditioned_validation(split.valid_in, split.valid_out, G)
    else:
        valid, valid_conditions = unconditioned, None
    model.fit(split.train, valid=valid, side=G if conditioned else None, valid_conditions=valid_conditions,
              monitor=unconditioned if twin else None)
    records, artifacts = _network_outputs(model, network, conditioned, split, G, k_cond)
    if twin:
        more, extra = _network_outputs(model.monitored(), TWIN, True, split, G, k_cond)
        records += more
        artifacts |= {"per_user": pd.concat([artifacts["per_user"], extra["per_user"]], ignore_index=True),
                      "twin history": extra["history"]}
    if latent_study:
        X, user_ids = _all_users(split)
        names = list(data.genres)
        studied_models = [(network, model)]
        if network == "C-VAE":  # the control: the same network with its initial weights
            studied_models.append((UNTRAINED, models.MultVAE(seed=seed, **settings).untrained(split.train, side=G)))
        for label, studied in studied_models:
            measured, figures = latent.study_latent_space(studied, X, G, names, n_perm, silhouette_sample, seed)
            records += [{"model": label, **r} for r in measured]
            artifacts[f"stability {label}"] = {"users": user_ids, **figures.pop("stability")}
            if keep_figures:
                artifacts[f"latent {label}"] = figures
        if keep_figures and network == "C-VAE":
            artifacts["worked user"] = latent.worked_user(model, split, data)
    return runner.JobOutput(records, artifacts)


def _network_outputs(model: models.MultVAE, network: str, conditioned: bool, split: splits.StrongSplit,
                     G: np.ndarray, k_cond: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A trained network's records (training length, conditioned evaluation) and artifacts (per-user test metrics,
    history) on one fold."""
    history = model.history_
    best = history.attrs["best_epoch"]
    records = [{"model": network, "metric": "best_epoch", "value": best},
               {"model": network, "metric": "epochs_trained", "value": len(history)},
               {"model": network, "metric": "train_seconds", "value": float(history["seconds"].sum())}]
    if "weight" in history:  # (the twin's history holds its validation only)
        updates = np.ceil(history["weight"].to_numpy() / model.batch_size)  # optimizer steps per epoch
        records.append({"model": network, "metric": "updates to the best epoch", "value": float(updates[:best].sum())})
    if "beta" in history:  # the mean KL weight of the kept epoch: the beta an annealing run selects
        records.append({"model": network, "metric": "beta at the best epoch",
                        "value": float(history["beta"].iloc[best - 1])})
    base = fold_in_scorer(model, split.test_in)
    if conditioned:
        scorer = lambda c: fold_in_scorer(model, split.test_in, c)  # noqa: E731
        records += _conditioned(f"{network} conditioned", scorer, split, G, k_cond, False)
        records += _conditioned(f"{network} conditioned + filter", scorer, split, G, k_cond, True)
    elif network == "Mult-VAE":
        records += _conditioned("Mult-VAE unconditioned", lambda c: base, split, G, k_cond, False)
        records += _conditioned("Mult-VAE + genre filter", lambda c: base, split, G, k_cond, True)
    shown = [c for c in ("epoch", "valid", "loss", "beta") if c in history]
    return records, {"per_user": _per_user(model, split, network), "history": history[shown]}


def baselines_job(seed: int, fold: int, n_folds: int, n_valid_users: int, ease_l2_grid: list[float], k_cond: int,
                  dataset: str = "ml-100k", data_dir: str = "") -> runner.JobOutput:
    """Random, popularity and EASE (l2 chosen on the validation users) on one fold, and EASE + genre filter."""
    split = _folds(seed, n_folds, n_valid_users, dataset, data_dir)[fold]
    G = load_data(dataset, data_dir).genre_matrix()
    per_user = [_per_user(m.fit(split.train), split, name)
                for name, m in (("Random", models.Random(seed=seed)), ("Popularity", models.Popularity()))]
    fitted = [models.EASE(l2).fit(split.train) for l2 in ease_l2_grid]
    valid = [strong_per_user(fold_in_scorer(m, split.valid_in), split.valid_in, split.valid_out)["ndcg@100"].mean()
             for m in fitted]
    best = fitted[int(np.argmax(valid))]
    per_user.append(_per_user(best, split, "EASE"))
    records = [{"model": "EASE", "metric": "l2 chosen", "value": ease_l2_grid[int(np.argmax(valid))]}]
    base = fold_in_scorer(best, split.test_in)
    records += _conditioned("EASE + genre filter", lambda c: base, split, G, k_cond, True)
    return runner.JobOutput(records, {"per_user": pd.concat(per_user, ignore_index=True)})


# ---------------------------------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Config(OnData):
    """C-VAE and its baselines at the paper's settings where it gives them (the beta variant: its best beta)."""

    chapter = "cvae"
    seeds: tuple[int, ...] = param([0, 1, 2, 3, 4], "repetitions: each draws its own folds and initialisations")
    n_folds: int = param(5, "every eligible user is a test user in exactly one fold per repetition")
    n_valid_users: int = param(100, "validation users per fold, drawn from the other folds")
    epochs: int = param(100, "the paper's epoch budget; training stops after `patience` epochs without a better "
                             "validation")
    patience: int = param(10, "the paper's early stopping (the best epoch's weights are kept)")
    batch_size: int = param(64, "rows per update (the paper does not give one; Liang et al. use 500)")
    lr: float = param(1e-3, "Adam's learning rate (Liang et al.)")
    beta_cap: float = param(0.2, "Liang's cap on the KL weight")
    beta_alternative: float = param(0.008, "the paper's best beta, trained as a variant")
    beta_search: float = param(1.0, "the paper's beta procedure (Liang et al.): beta annealed towards this cap at the "
                                    "same rate, the beta (and weights) of the validation peak kept")
    batch_alternative: int = param(500, "Liang et al.'s batch size, trained on the first repetition (same lr; the "
                                        "epoch budget and patience scaled by 500 / 64 to keep them in updates)")
    anneal_fraction: float = param(0.5, "beta grows by 1 / (anneal_fraction x the budget's updates) per update")
    cond_per_epoch: float = param(3.0, "conditioned rows per epoch, as a multiple of the training users")
    balance: bool = param(True, "draw every genre equally often in that sample")
    variants: tuple[str, ...] = param(list(VARIANTS), "networks trained on the first fold of every repetition")
    ease_l2_grid: tuple[float, ...] = param([100.0, 500.0, 2000.0], "EASE's l2, chosen on validation nDCG@100")
    k_cond: int = param(10, "cut-off of the conditioned evaluation")
    n_perm: int = param(1999, "permutations of each Mantel test")
    silhouette_sample: int = param(4000, "points drawn for each silhouette score")
    exercise_epochs: int = param(20, "the fixed budget of the exercise on early stopping")

    def validate(self) -> None:
        super().validate()
        check_seeds(self.seeds)
        check_int("n_folds", self.n_folds, 2)
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ConfigError(f"variants: unknown {unknown}; allowed: {list(VARIANTS)}")

    @property
    def settings(self) -> dict[str, Any]:
        """The training settings every network gets."""
        return dict(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size, lr=self.lr,
                    beta_cap=self.beta_cap, anneal_fraction=self.anneal_fraction,
                    cond_per_epoch=self.cond_per_epoch, balance=self.balance)

    def network_params(self, seed: int, fold: int, network: str, latent_study: bool = False,
                       keep_figures: bool = False, **changes: Any) -> dict[str, Any]:
        """One network's job on one fold (`changes`: training settings an exercise changes); the C-VAE job of a
        first fold also gives the TWIN variant when it is asked for."""
        twin = {"twin": True} if network == "C-VAE" and fold == 0 and TWIN in self.variants and not changes else {}
        return {"seed": seed, "fold": fold, "network": network, "settings": {**self.settings, **changes}, **twin,
                "beta_alternative": self.beta_alternative, "beta_search": self.beta_search,
                "batch_alternative": self.batch_alternative, "n_perm": self.n_perm,
                "silhouette_sample": self.silhouette_sample, "latent_study": latent_study,
                "keep_figures": keep_figures, "n_folds": self.n_folds, "n_valid_users": self.n_valid_users,
                "k_cond": self.k_cond, **self.source}


# the claims of the headline box at the top of the chapter (and of the findings page)
HEADLINE = ("A2", "A3", "G1", "L1", "L2", "L5")


def run(config: Config = Config()) -> ChapterResult:
    """Every network on every fold of every repetition, the variants and latent studies on the first folds."""
    setup()
    c = config
    folds = _folds(c.seeds[0], c.n_folds, c.n_valid_users, **c.source)  # a bad fold count fails here, with its reason
    cost = {"C-VAE full": 12.0, "Mult-DAE": 1.0, "Mult-VAE": 1.0, "Mult-VAE beta 0.008": 1.0,
            "C-VAE annealed, batch 500": 8.0}

    def trained(seed: int, fold: int) -> list[str]:
        """The networks of one fold: the compared ones, and on a first fold the variants."""
        if fold:
            return list(NETWORKS)
        return [*NETWORKS, *[v for v in c.variants if v != TWIN and (v not in FIRST_REPETITION or seed == c.seeds[0])]]

    shown = (LATENT_MAIN, "C-VAE")  # the first repetition's pictures: the main latent network, the untrained one
    jobs = [runner.Job(network_job, c.network_params(s, f, n, latent_study=f == 0 and n in STUDIED,
                                                     keep_figures=f == 0 and s == c.seeds[0] and n in shown),
                       {"seed": s, "fold": f}, cost=cost.get(n, 4.0))
            for s in c.seeds for f in range(c.n_folds) for n in trained(s, f)]
    jobs += [runner.Job(baselines_job, {"seed": s, "fold": f, "ease_l2_grid": list(c.ease_l2_grid),
                                        "n_folds": c.n_folds, "n_valid_users": c.n_valid_users, "k_cond": c.k_cond,
                                        **c.source}, {"seed": s, "fold": f}, cost=0.5)
             for s in c.seeds for f in range(c.n_folds)]
    timer = results.Timer()
    with timer("all runs"):
        outcome = timer.count(runner.run(jobs, n_jobs=c.n_jobs, desc="C-VAE"))
    per_user, histories, figures, spaces = [], {}, {}, {}
    for job, art in zip(jobs, outcome.artifacts):
        spaces |= {(k.removeprefix("stability "), job.params["seed"]): v for k, v in art.items()
                   if k.startswith("stability ")}
        per_user.append(art["per_user"].assign(seed=job.params["seed"], fold=job.params["fold"]))
        if "history" in art:
            histories[job.params["seed"], job.params["fold"], job.params["network"]] = art["history"]
        if "twin history" in art:
            histories[job.params["seed"], job.params["fold"], TWIN] = art["twin history"]
        figures |= {k: v for k, v in art.items() if k.startswith("latent") or k == "worked user"}
    per_user = pd.concat(per_user, ignore_index=True)
    data = load_data(**c.source)
    users, _ = models.vae.expand_conditions(folds[0].train, data.genre_matrix())
    split_table = pd.DataFrame([{"fold": f, "train users": s.train.shape[0], "validation users": s.valid_in.shape[0],
                                 "test users": s.test_in.shape[0], "test interactions": s.test_in.nnz + s.test_out.nnz}
                                for f, s in enumerate(folds)]).set_index("fold")
    n_train, n_test = folds[0].train.shape[0], folds[0].test_in.shape[0]
    design = {"all users": C.Resampling.repeated_kfold(n_train, n_test, "users"),
              "fold 0": C.Resampling.random_splits(n_train, n_test, "users")}
    frame = pd.concat([_aggregate(outcome.frame, per_user), stability(spaces)], ignore_index=True)
    return ChapterResult(frame, config, timer.seconds,
                         {"per_user": per_user, "histories": histories, "figures": figures, "runs": outcome.frame,
                          "genres": list(data.genres), "split_table": split_table,
                          "expansion": len(users) / folds[0].train.shape[0], "design": design,
                          "deviations": DEVIATIONS, "headline": HEADLINE})


def stability(spaces: dict[tuple[str, int], dict[str, Any]]) -> pd.DataFrame:
    """Does another repetition draw the same latent space? For every pair of repetitions and every studied network
    (and the untrained one): linear CKA and Procrustes disparity between the two repetitions' unconditioned latent
    means of the same users, and the agreement of their genre orders on PC2, PC3 and PC5; the pair (a, b) of
    models compares a from one repetition with b from the other. Records with scope "stability"."""
    rows = []
    models_seen = sorted({m for m, _ in spaces if m not in ONE_REPETITION.values()})
    seeds = sorted({s for _, s in spaces})
    pairs = [(m, m) for m in models_seen if m != UNTRAINED] + [(m, UNTRAINED) for m in models_seen if m != UNTRAINED]
    pairs += [(UNTRAINED, UNTRAINED)] if UNTRAINED in models_seen else []
    for i, s1 in enumerate(seeds):
        for s2 in seeds[i + 1:]:
            for a, b in pairs:
                if (a, s1) not in spaces or (b, s2) not in spaces:
                    continue
                x, y = spaces[a, s1], spaces[b, s2]
                common, ix, iy = np.intersect1d(x["users"], y["users"], return_indices=True)
                measured = {"cka": latent.linear_cka(x["mu"][ix], y["mu"][iy]),
                            "procrustes": latent.procrustes_distance(x["mu"][ix], y["mu"][iy]),
                            "genre order": latent.genre_order_agreement(x["centroids"][1:], y["centroids"][1:])}
                rows += [{"model": a, "versus": b, "seed": s1, "seed_b": s2, "metric": metric, "value": value,
                          "users": len(common), "scope": "stability"} for metric, value in measured.items()]
    return pd.DataFrame(rows)


DEVIATIONS = {
    "data": "MovieLens-100K with 18 genres instead of ML-20M; PCA keeps the first component",
    "protocol": "K-fold strong generalization over users (every user tested once per repetition) instead of 10,000 "
                "validation and 10,000 test users",
    "beta": "annealed linearly by 1/A per update, A = anneal_fraction x the epoch budget's updates; the accuracy "
            "networks stop at Liang's cap 0.2; the latent study's main network follows the paper's procedure (annealed "
            "towards 1 at the same rate, the beta and weights of the validation peak kept), with the cap 0.2 and the "
            "paper's best 0.008 (chosen on ML-20M) as alternatives",
    "batch and layers": "batch size 64 instead of 500 (500 trained on the first repetition as an alternative); "
                        "Mult-DAE with the same 600-200-600 layers as Mult-VAE, no weight decay",
    "conditioned rows": "a genre-balanced sample of conditioned rows per epoch instead of the paper's full expansion "
                        "(compared)",
    "latent study": "every eligible user encoded for the latent study instead of 2,000 random users; the paper's "
                    "visual readings replaced by statistics with our thresholds, each statement's form judged against "
                    "its chance rate; the neutral genre's reading is not scored (ML-100K has no such condition)",
}


def _aggregate(jobs: pd.DataFrame, per_user: pd.DataFrame) -> pd.DataFrame:
    """One value per repetition: accuracy over all users (every fold) and over the first fold's users (where the
    variants ran), conditioned metrics per genre weighted by the users each fold judged, and how many users each
    model tested; the training records of every run (fold) and the latent records (one study per repetition) as
    they are."""
    tidy = per_user.melt(id_vars=["seed", "fold", "model", "user"], value_vars=list(STRONG_METRICS),
                         var_name="metric")
    accuracy = [tidy.groupby(["seed", "model", "metric"], as_index=False)["value"].mean().assign(scope="all users"),
                tidy[tidy["fold"] == 0].groupby(["seed", "model", "metric"], as_index=False)["value"].mean()
                .assign(scope="fold 0")]
    cond = jobs[jobs["condition"].notna()] if "condition" in jobs else jobs.iloc[:0]
    cond = cond[cond["value"].notna()]
    weighted = (cond.assign(w=cond["value"] * cond["users"]).groupby(["seed", "model", "condition", "metric"])
                [["w", "users"]].sum())
    conditioned = (weighted["w"] / weighted["users"]).rename("value").reset_index()
    from_variant = conditioned["model"].map(lambda m: any(m.startswith(v) for v in VARIANTS))
    conditioned["scope"] = np.where(from_variant, "fold 0", "all users")
    rest = jobs[jobs["condition"].isna()] if "condition" in jobs else jobs
    training = rest[rest["metric"].isin(["best_epoch", "epochs_trained", "train_seconds", "l2 chosen",
                                         "updates to the best epoch", "beta at the best epoch"])]
    training = training.drop(columns=["condition", "users", "space", "centre"], errors="ignore")
    training = training.assign(scope="per run")
    tested = (per_user.groupby(["seed", "model"], as_index=False)["user"].nunique()
              .rename(columns={"user": "value"}).assign(metric="users tested"))
    tested["scope"] = np.where(tested["model"].isin(list(VARIANTS)), "fold 0", "all users")
    studies = rest[rest["space"].notna()] if "space" in rest else rest.iloc[:0]
    studies = studies.drop(columns=["fold", "condition", "users"], errors="ignore").assign(scope="fold 0 model")
    return pd.concat([*accuracy, conditioned, training, tested, studies], ignore_index=True)


# ---------------------------------------------------------------------------------------------------- selections


def values(result: ChapterResult, model: str, metric: str, scope: str = "all users", **where: Any) -> pd.Series:
    """Per-repetition values of one model's metric (conditioned metrics averaged over the genres first)."""
    return C.select(result.frame, metric, model=model, scope=scope, **where).groupby("seed")["value"].mean()


def study(result: ChapterResult, metric: str, space: str = "full latent", centre: str = "",
          model: str = LATENT_MAIN) -> pd.Series:
    """Per-repetition values of one latent measurement."""
    return values(result, model, metric, "fold 0 model", space=space, centre=centre)


def _pair(result: ChapterResult, a: str, b: str, metric: str, scope: str = "all users"
          ) -> tuple[np.ndarray, np.ndarray]:
    return C.aligned(values(result, a, metric, scope), values(result, b, metric, scope), f"{a} and {b}")


def _per_user_pair(result: ChapterResult, a: str, b: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Each user's metric averaged over the repetitions, for models a and b (same users)."""
    wide = result["per_user"].groupby(["model", "user"])[metric].mean().unstack(0)
    return wide[a].to_numpy(), wide[b].to_numpy()


ACCURACY = list(STRONG_METRICS)
ACCURACY_MODELS = ["Random", "Popularity", "EASE", "Mult-DAE", "Mult-VAE", "C-VAE"]
CONDITIONED = ["C-VAE conditioned", "C-VAE conditioned + filter", "Mult-VAE + genre filter", "EASE + genre filter",
               "Mult-VAE unconditioned"]


def accuracy_table(result: ChapterResult) -> pd.DataFrame:
    """Mean ± 95% CI over repetitions (all users), the paired difference to Mult-VAE, and the networks' epochs."""
    table = pd.DataFrame({m: [C.ci_text(values(result, r, m)) for r in ACCURACY_MODELS]
                          for m in ACCURACY}, index=ACCURACY_MODELS)
    design = result["design"]["all users"]

    def versus_vae(model: str) -> str:
        mean, low, _ = C.interval(np.subtract(*_fold_pair(result, model, "Mult-VAE", "ndcg@100")), design)
        return f"{mean:.4f} ± {mean - low:.4f}"
    table["nDCG@100 - Mult-VAE (paired, corrected)"] = ["" if r == "Mult-VAE" else versus_vae(r)
                                                        for r in ACCURACY_MODELS]
    table["best epoch"] = [f"{values(result, r, 'best_epoch', 'per run').mean():.0f}" if r in NETWORKS else ""
                           for r in ACCURACY_MODELS]
    return table


def variants_table(result: ChapterResult) -> pd.DataFrame:
    """The first fold of every repetition: the main networks next to their variants."""
    rows = ["Mult-VAE", *[v for v in VARIANTS if v.startswith("Mult-VAE")], "C-VAE",
            *[v for v in VARIANTS if v.startswith("C-VAE")]]
    rows = [r for r in rows if len(values(result, r, "ndcg@100", "fold 0"))]
    table = pd.DataFrame({m: [C.ci_text(values(result, r, m, "fold 0")) for r in rows]
                          for m in ("ndcg@100", "recall@20")}, index=rows)
    table[f"conditioned nDCG@{result.config.k_cond}"] = [
        C.ci_text(values(result, f"{r} conditioned", "ndcg", "fold 0" if r in VARIANTS else "all users"))
        if r.startswith("C-VAE") else "" for r in rows]
    table["best epoch"] = [f"{values(result, r, 'best_epoch', 'per run').mean():.0f}" for r in rows]
    updates = {r: values(result, r, "updates to the best epoch", "per run") for r in rows}
    table["updates to the best epoch"] = [f"{u.mean():.0f}" if len(u) else "" for u in updates.values()]
    table["train s"] = [f"{values(result, r, 'train_seconds', 'per run').mean():.0f}" for r in rows]
    return table


def conditioned_table(result: ChapterResult) -> pd.DataFrame:
    k = result.config.k_cond
    return pd.DataFrame({f"share of the genre in the top-{k}": [C.ci_text(values(result, r, "share"))
                                                                 for r in CONDITIONED],
                         f"nDCG@{k} on the genre's held-out items": [C.ci_text(values(result, r, "ndcg"))
                                                                     for r in CONDITIONED]}, index=CONDITIONED)


def training_figure(result: ChapterResult) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name in NETWORKS:
        curves = [h["valid"].to_numpy() for (s, f, n), h in result["histories"].items() if n == name]
        length = min(len(c) for c in curves)
        plots.curve_with_ci(ax, np.arange(1, length + 1), np.array([c[:length] for c in curves]), name, marker="")
    ax.legend()
    plots.label_axes(ax, "epoch", "validation nDCG@100", "Training curves (mean ± 95% CI over runs)")
    return fig


def genre_figure(result: ChapterResult) -> plt.Figure:
    shown = ["Mult-VAE unconditioned", "Mult-VAE + genre filter", "EASE + genre filter", "C-VAE conditioned"]
    f = result.frame[(result.frame["metric"] == "ndcg") & result.frame["model"].isin(shown)]
    by_genre = f.groupby(["condition", "model"])["value"].mean().unstack()[shown]
    by_genre.index = [genre_names(result)[int(c)] for c in by_genre.index]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    by_genre.plot.bar(ax=ax, width=0.8)
    plots.label_axes(ax, "condition (genre)", f"nDCG@{result.config.k_cond} on the genre's held-out items",
                     "Conditioned ranking quality per genre (mean over repetitions)")
    ax.legend(fontsize=8)
    return fig


def geometry_table(result: ChapterResult) -> pd.DataFrame:
    """Per genre (first repetition, full latent space): the mean shift's length, how much users deviate from it,
    the cosine of a user's shift with it, the conditioned cloud's spread relative to the unconditioned one."""
    g = result["figures"][f"latent {LATENT_MAIN}"]["geometry"].set_index("genre")
    g["interactions"] = result["figures"][f"latent {LATENT_MAIN}"]["popularity"].astype(int)
    return g.sort_values("interactions", ascending=False).round(3)


def geometry_summary(result: ChapterResult) -> pd.DataFrame:
    """Over repetitions, for every studied network (the batch 500 one: first repetition only) and the untrained
    one: how translation-like conditioning is and how much of the latent variance the condition explains."""
    rows = {}
    for model in [*STUDIED, UNTRAINED]:
        if not len(study(result, "silhouette", model=model)):
            continue
        label = model if model not in ONE_REPETITION.values() else f"{model} (first repetition)"
        rows[label] = {name: C.ci_text(study(result, metric, space, model=model))
                       for name, metric, space in (("mean cosine (full)", "mean cosine", "full latent"),
                                                   ("median deviation (full)", "median deviation", "full latent"),
                                                   ("spread ratio (full)", "mean spread ratio", "full latent"),
                                                   ("condition share (full)", "condition share", "full latent"),
                                                   ("condition share (5 PCs)", "condition share", "5 PCs"),
                                                   ("silhouette (full)", "silhouette", "full latent"),
                                                   ("silhouette (5 PCs)", "silhouette", "5 PCs"))}
    return pd.DataFrame(rows).T


def shift_figure(result: ChapterResult) -> plt.Figure:
    """Left: the paper's PC2 x PC5 view with each genre's mean shift drawn as an arrow from the unconditioned
    centroid; right: each shift's length against how far individual users deviate from it."""
    f = result["figures"][f"latent {LATENT_MAIN}"]
    names = genre_names(result)
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.0))
    latent.plot_view(axes[0], f["coords"], f["labels"], names, 1, 4, annotate=False)
    start = f["centroids"][0]
    for c, shift in enumerate(f["shifts"]):
        axes[0].annotate("", xy=(start[1] + shift[1], start[4] + shift[4]), xytext=(start[1], start[4]),
                         arrowprops=dict(arrowstyle="->", lw=0.9, color="0.2"))
        axes[0].annotate(names[c], (start[1] + shift[1], start[4] + shift[4]), fontsize=7)
    axes[0].set_title("Mean shift of each condition from the unconditioned centroid (PC2 x PC5)", fontsize=10)
    g = f["geometry"]
    axes[1].scatter(g["shift"], g["deviation"])
    for _, row in g.iterrows():
        axes[1].annotate(row["genre"], (row["shift"], row["deviation"]), fontsize=7, xytext=(2, 2),
                         textcoords="offset points")
    plots.label_axes(axes[1], "length of the mean shift (full latent space)",
                     "per-user deviation / shift length", "Is each condition one translation?")
    fig.tight_layout()
    return fig


def views_figure(result: ChapterResult) -> plt.Figure:
    """The paper's two views for the trained C-VAE and, below, the same views of the untrained network."""
    names = genre_names(result)
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 10.5))
    for row, label in enumerate((LATENT_MAIN, UNTRAINED)):
        f = result["figures"][f"latent {label}"]
        for ax, (i, j) in zip(axes[row], ((1, 4), (2, 4))):
            latent.plot_view(ax, f["coords"], f["labels"], names, i, j)
            ax.set_title(f"{label}: PC{i + 1} x PC{j + 1} ({100 * f['explained'][i]:.1f}% and "
                         f"{100 * f['explained'][j]:.1f}% of variance)", fontsize=9)
    fig.tight_layout()
    return fig


def centrality_figure(result: ChapterResult) -> plt.Figure:
    """Spearman rho(popularity, distance from the centre) in every space from every centre, mean over repetitions:
    the sensitivity of "popular genres are central" drawn as one heat map."""
    grid = pd.DataFrame({centre: [study(result, "popularity rho", space, centre).mean() for space in SPACES]
                         for centre in CENTRES}, index=SPACES)
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    im = ax.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(CENTRES)), [c.replace(" ", "\n", 1) for c in CENTRES])
    ax.set_yticks(range(len(SPACES)), SPACES)
    for (i, j), v in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=9, color="white" if abs(v) > 0.5 else "black")
    fig.colorbar(im, ax=ax, label="mean Spearman rho")
    ax.set_title("Popularity vs distance from the centre (negative: popular genres central)")
    return fig


def statements_table(result: ChapterResult) -> pd.DataFrame:
    """The paper's statements one by one: in how many repetitions each holds where it is judged first (Fig. 2's in
    the full latent space, Fig. 3's in its PC3 x PC5 view), its chance rate there, and the same count in the other
    spaces, for the other studied networks and for the untrained one."""
    n = len(result.config.seeds)
    details = result["figures"][f"latent {LATENT_MAIN}"]["details"]
    rows = []
    for s in latent.PAPER_STATEMENTS:
        if s.id not in details:
            continue
        count = lambda space, model=LATENT_MAIN: (  # noqa: E731
            lambda v: f"{int(v.sum())}/{len(v)}" if len(v) else "")(study(result, f"statement {s.id}", space,
                                                                          model=model))
        row = {"statement": s.text.split(":")[0], "form": s.kind, "judged in": s.space, "holds": count(s.space),
               "chance rate": f"{study(result, f'chance {s.id}', s.space).mean():.2f}"}
        row |= {space: count(space) for space in ("full latent", "5 PCs", "PC2 x PC5", "PC3 x PC5")}
        row |= {label: count(s.space, model) for label, model in ALTERNATIVE_NETWORKS.items()}
        row["untrained"] = count(s.space, UNTRAINED)
        row["first repetition"] = details[s.id]
        rows.append(row)
    return pd.DataFrame(rows).set_index("statement").rename_axis(f"holds in k of {n} repetitions")


def stability_table(result: ChapterResult) -> pd.DataFrame:
    """Over the pairs of repetitions: linear CKA and Procrustes disparity of the unconditioned latent means of the
    same users, and the agreement of the genre order on PC2, PC3, PC5 (mean |Spearman|): mean [min, max]."""
    f = result.frame[result.frame["scope"] == "stability"]
    if f.empty:
        return pd.DataFrame()
    rows = {}
    for (a, b), group in f.groupby(["model", "versus"], sort=False):
        label = f"{a} vs {b}" if a != b else f"{a}, two repetitions"
        rows[label] = {m: f"{g['value'].mean():.3f} [{g['value'].min():.3f}, {g['value'].max():.3f}]"
                       for m, g in group.groupby("metric", sort=False)}
        rows[label]["pairs"] = len(group) // group["metric"].nunique()
    return pd.DataFrame(rows).T


def beta_selection_table(result: ChapterResult) -> pd.DataFrame:
    """The paper's beta procedure per repetition: the beta at the validation peak of the annealing run (the paper
    reports 0.008 on ML-20M), its epoch and updates, and its accuracy next to the cap-0.2 network's on the same
    fold."""
    rows = {}
    for seed in result.config.seeds:
        pick = lambda model, metric, scope="per run": C.select(  # noqa: E731
            result.frame, metric, model=model, scope=scope, seed=seed)["value"]
        beta = pick(LATENT_MAIN, "beta at the best epoch")
        if beta.empty:
            continue
        base = result["per_user"]
        base = base[(base["seed"] == seed) & (base["fold"] == 0) & (base["model"] == "C-VAE")]
        rows[seed] = {"selected beta": float(beta.iloc[0]),
                      "best epoch": float(pick(LATENT_MAIN, "best_epoch").iloc[0]),
                      "updates": float(pick(LATENT_MAIN, "updates to the best epoch").iloc[0]),
                      "nDCG@100 (annealed)": float(pick(LATENT_MAIN, "ndcg@100", "fold 0").iloc[0]),
                      "nDCG@100 (cap 0.2)": float(base["ndcg@100"].mean())}
    return pd.DataFrame(rows).T.rename_axis("repetition").round(4)


def worked_user_tables(result: ChapterResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    w = result["figures"]["worked user"]
    shares = w["shares"][w["shares"] > 0].round(2).rename("share of the user's films").to_frame()
    return shares, w["lists"]


# ---------------------------------------------------------------------------------------------------- claims


MARGIN_SHARE = 0.02  # non-inferiority and equivalence margins: 2% of the reference model's mean
NEARLY_PARALLEL = C.Bound(0.9, "a cosine of 0.9 is an angle of about 26 degrees: nearly the same direction")
SMALL_DEVIATION = C.Bound(0.5, "a user's shift departs from the genre's mean shift by less than half its length")
MOST_VARIANCE = C.Bound(0.5, "'most of the variance': more than half of it")
WEAK_STRUCTURE = C.Bound(0.25, "Kaufman and Rousseeuw (1990): below 0.25 a silhouette shows no substantial "
                               "structure")
REASONABLE_STRUCTURE = C.Bound(0.5, "Kaufman and Rousseeuw (1990): above 0.5 a silhouette shows a reasonable "
                                    "structure")
ANY_STRUCTURE = C.Bound(0.1, "a lenient reading: any structure clearly above a silhouette of 0.1")
POSITIVE = C.Bound(0.0, "the claim is an association: only its sign matters")
HALF_THE_GENRES = C.Bound(0.5, "'a position tells the tastes': for at least half of the genres")
QUARTER_OF_GENRES = C.Bound(0.25, "a lenient reading: for a quarter of the genres")


def fold_values(result: ChapterResult, model: str, metric: str, condition: float | None = None) -> pd.Series:
    """One value per (repetition, fold): a strong metric's mean over the fold's test users, or a conditioned
    metric's mean over the genres (or of one `condition`) in that fold."""
    if metric in STRONG_METRICS:
        users = result["per_user"][result["per_user"]["model"] == model]
        return users.groupby(["seed", "fold"])[metric].mean()
    jobs = result["runs"]
    f = jobs[(jobs["model"] == model) & (jobs["metric"] == metric) & jobs["value"].notna()]
    if condition is not None:
        f = f[f["condition"] == condition]
    return f.groupby(["seed", "fold"])["value"].mean()


def _fold_pair(result: ChapterResult, a: str, b: str, metric: str, condition: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    x, y = fold_values(result, a, metric, condition), fold_values(result, b, metric, condition)
    common = x.index.intersection(y.index).sort_values()
    return x.loc[common].to_numpy(), y.loc[common].to_numpy()


def counted(flags: pd.Series, label: str, unit: str = "repetitions") -> C.Judgement:
    """"Holds in every repetition": holds when it holds in all, does not hold in none, inconclusive when mixed."""
    f = np.asarray(flags, dtype=bool)
    verdict = "holds" if f.all() else "does not hold" if not f.any() else "inconclusive"
    return C.Judgement(verdict, f"{label}: {int(f.sum())} of {f.size} {unit}", f"count over {f.size} {unit}", "count")


def _threshold(result: ChapterResult, metric: str, space: str, above: C.Bound | None = None,
               below: C.Bound | None = None, centre: str = "", model: str = "C-VAE", label: str = "") -> C.Judgement:
    return C.threshold(study(result, metric, space, centre, model), above=above, below=below,
                       design=result["design"]["fold 0"], label=label or metric)


def _paired(result: ChapterResult, a: str, b: str, metric: str, scope: str = "all users") -> C.Judgement:
    """A paired comparison: per fold over every fold ("all users"), per repetition on the first folds ("fold 0")."""
    pair = _fold_pair(result, a, b, metric) if scope == "all users" else _pair(result, a, b, metric, scope)
    return C.paired(*pair, design=result["design"][scope], label=f"{a} - {b}")


def _equivalent(result: ChapterResult, a: str, b: str, metric: str, scope: str = "all users") -> C.Judgement:
    """"a matches b" within 2% of b's mean (per fold over every fold, or per repetition on the first folds)."""
    x, y = _fold_pair(result, a, b, metric) if scope == "all users" else _pair(result, a, b, metric, scope)
    return C.equivalent(x, y, margin=C.relative_margin(y, MARGIN_SHARE, b), design=result["design"][scope],
                        label=f"{a} - {b}")


# where the paper says what each claim tests ("book": the book's own question)
SOURCES = {
    "A1": C.cite("liang2018", "Table 2 (ML-20M nDCG@100: Mult-VAE 0.426, Mult-DAE 0.419)"),
    "A2": C.cite("cvae", "Sec. 2, Conditioned VAE", "C-VAE is equivalent to Mult-VAE"),
    "A3": C.cite("cvae", "Sec. 2, Conditioned VAE", "the recommender must push comedy movies on top of the "
                                                    "recommended list"),
    "A4": C.cite("cvae", "Sec. 2, Conditioned VAE", "a training user appears in the training set conditioned on "
                                                    "every watched genre"),
    "A5": C.cite("cvae", "Sec. 3", "has been selected via linear annealing"),
    "G1": C.BOOK, "G2": C.BOOK,
    "L1": C.cite("cvae", "Sec. 3.1, Fig. 2 and 3", "C-VAE learns how to cluster the genres"),
    "L2": C.cite("cvae", "Abstract", "conditions on correlated genres map users in close clusters"),
    "L2u": C.cite("cvae", "Sec. 1", "they are learned by the model through the user profiles"),
    "L3": C.cite("cvae", "Sec. 3.1, Fig. 2", "the not conditioned latent representations (depicted in black) are "
                                             "placed at the center of the space"),
    "L4": C.cite("cvae", "Sec. 3.1, Fig. 2", "popular and common genres (e.g., Action, Comedy, Drama, Romance) are "
                                             "placed near the center of the space"),
    "L5": C.cite("cvae", "Sec. 3.1.1", "the latent space can also be explored as a mean to profile the user"),
}
SOURCES |= {"L1u": SOURCES["L1"], "L5u": SOURCES["L5"]}


def claims(result: ChapterResult) -> list[C.Claim]:
    out = []
    k = result.config.k_cond
    design = result["design"]
    p = lambda a, b, m, scope="all users": _paired(result, a, b, m, scope)  # noqa: E731
    eq = lambda a, b, m, scope="all users": _equivalent(result, a, b, m, scope)  # noqa: E731
    out.append(C.claim(
        "A1", "Mult-VAE is more accurate than Mult-DAE (nDCG@100)", "ML-20M: 0.426 vs 0.419 (Liang et al. 2018)",
        p("Mult-VAE", "Mult-DAE", "ndcg@100"),
        {"Recall@20": p("Mult-VAE", "Mult-DAE", "recall@20"), "Recall@50": p("Mult-VAE", "Mult-DAE", "recall@50"),
         "unit = user (bootstrap)": C.bootstrap(*_per_user_pair(result, "Mult-VAE", "Mult-DAE", "ndcg@100"),
                                                label="Mult-VAE - Mult-DAE")}, source=SOURCES["A1"]))
    a2 = {"Recall@20": eq("C-VAE", "Mult-VAE", "recall@20")}
    if len(values(result, "C-VAE (unconditioned validation)", "ndcg@100", "fold 0")) > 1:
        a2["C-VAE validated unconditioned only (fold 0)"] = eq("C-VAE (unconditioned validation)", "Mult-VAE",
                                                               "ndcg@100", "fold 0")
    out.append(C.claim(
        "A2", f"C-VAE used without a condition is as accurate as Mult-VAE (nDCG@100 within {MARGIN_SHARE:.0%} of "
        "Mult-VAE's)", "with c = 0 C-VAE is Mult-VAE", eq("C-VAE", "Mult-VAE", "ndcg@100"), a2, source=SOURCES["A2"]))
    genres = sorted(result.frame.loc[result.frame["model"] == "C-VAE conditioned", "condition"].dropna().unique())
    per_genre = {genre_names(result)[int(g)]: _fold_pair(result, "C-VAE conditioned", "Mult-VAE + genre filter",
                                                          "ndcg", condition=g) for g in genres}
    per_genre = {g: ab for g, ab in per_genre.items() if len(ab[0]) > 1}
    out.append(C.claim(
        "A3", f"Conditioning ranks a genre's held-out items better than Mult-VAE + genre filter (nDCG@{k}, mean over "
        "genres)", "C-VAE's purpose; not measured in the paper",
        p("C-VAE conditioned", "Mult-VAE + genre filter", "ndcg"),
        {"C-VAE with the filter too": p("C-VAE conditioned + filter", "Mult-VAE + genre filter", "ndcg"),
         "against EASE + genre filter": p("C-VAE conditioned", "EASE + genre filter", "ndcg"),
         "for every genre": C.every(per_genre, design=design["all users"], label="C-VAE - Mult-VAE + filter"),
         "for at least one genre (Holm)": C.some(per_genre, design=design["all users"],
                                                 label="C-VAE - Mult-VAE + filter")}, source=SOURCES["A3"]))
    if len(values(result, "C-VAE full", "ndcg@100", "fold 0")) > 1:
        full = _conditioned_fold0(result, "C-VAE full")
        out.append(C.claim(
            "A4", f"Our genre-balanced sample of conditioned rows is as accurate as the paper's full expansion "
            f"(nDCG@100 within {MARGIN_SHARE:.0%} of the full expansion's, first folds)",
            "the paper trains on every (user, genre) row", eq("C-VAE", "C-VAE full", "ndcg@100", "fold 0"),
            {"Recall@20": eq("C-VAE", "C-VAE full", "recall@20", "fold 0"),
             f"conditioned nDCG@{k}": C.equivalent(_conditioned_fold0(result, "C-VAE"), full,
                                                   margin=C.relative_margin(full, MARGIN_SHARE, "C-VAE full"),
                                                   design=design["fold 0"], label="sample - full")},
            source=SOURCES["A4"]))
    if len(values(result, "C-VAE beta 0.008", "ndcg@100", "fold 0")) > 1:
        def ni(a: str, b: str, m: str) -> C.Judgement:
            x, y = _pair(result, a, b, m, "fold 0")
            return C.noninferior(x, y, margin=C.relative_margin(y, MARGIN_SHARE, b), design=design["fold 0"],
                                 label=f"{a} - {b}")
        out.append(C.claim(
            "A5", f"The paper's best beta (0.008) is at least as accurate as our cap 0.2 for C-VAE (nDCG@100, "
            f"margin {MARGIN_SHARE:.0%} of C-VAE's, first folds)", "beta = 0.008 best on ML-20M",
            ni("C-VAE beta 0.008", "C-VAE", "ndcg@100"),
            {"Recall@20": ni("C-VAE beta 0.008", "C-VAE", "recall@20"),
             "Mult-VAE instead of C-VAE": ni("Mult-VAE beta 0.008", "Mult-VAE", "ndcg@100")}, source=SOURCES["A5"]))
    out += latent_claims(result)
    return out


def _conditioned_fold0(result: ChapterResult, network: str) -> np.ndarray:
    """Conditioned nDCG on the first fold: the variants only ran there, so the main model is re-read on fold 0."""
    if network in VARIANTS:
        return values(result, f"{network} conditioned", "ndcg", "fold 0").to_numpy()
    jobs = result["runs"]
    f = jobs[(jobs["model"] == f"{network} conditioned") & (jobs["metric"] == "ndcg") & (jobs["fold"] == 0)]
    return f.groupby("seed")["value"].mean().sort_index().to_numpy()


def _one_run(on_the_claimed_side: bool, main: C.Judgement, measured: str) -> C.Judgement:
    """An alternative with one repetition (batch 500): no test is possible, so it can agree with the main verdict
    or leave the claim inconclusive, never reverse it."""
    agrees = main.verdict != "inconclusive" and on_the_claimed_side == (main.verdict == "holds")
    verdict = main.verdict if agrees else "inconclusive"
    return C.Judgement(verdict, f"{measured} (one repetition: {'agrees with' if agrees else 'does not confirm'} the "
                                f"main verdict)", "one repetition, no test", "count")


FORM_TEXT = {"close": "'A is close to B' (B among A's k nearest)", "far": "'A is far from B' (among A's 5 farthest)",
             "nearest_set": "'A's nearest genres are ...' (Film-Noir: 3 of its 4 nearest named)",
             "between": "'A lies between B and C'", "isolated": "'A is far from every genre' / 'A is offside'"}
ABOVE_CHANCE = C.Bound(0.0, "a statement of this form about random genres holds at its chance rate: the paper's "
                            "readings tell something only if they hold more often")
OWN_SPACE = "the space each statement is judged in"


def latent_claims(result: ChapterResult) -> list[C.Claim]:
    """The latent-space readings on the main latent network (the paper's beta procedure), each re-judged in the
    other spaces, from the other centres, with other statistics, on the cap-0.2 and the beta 0.008 networks, at
    batch 500 (first repetition) and, where it is a control, on the untrained network."""
    out = []
    design = result["design"]["fold 0"]
    present = lambda model: len(study(result, "silhouette", model=model)) > 0  # noqa: E731
    networks = {label: m for label, m in ALTERNATIVE_NETWORKS.items() if len(study(result, "silhouette", model=m)) > 1}
    single = {label: m for label, m in ONE_REPETITION.items() if present(m)}

    def thr(metric: str, space: str = "full latent", model: str = LATENT_MAIN, **kw) -> C.Judgement:
        return _threshold(result, metric, space, model=model, **kw)

    def beta(metric: str, space: str = "full latent", **kw) -> dict[str, C.Judgement]:
        """The other networks' verdicts on the same threshold claim."""
        main = thr(metric, space, **kw)
        out = {label: thr(metric, space, model=m, **kw) for label, m in networks.items()}
        for label, m in single.items():
            value = float(study(result, metric, space, kw.get("centre", ""), m).iloc[0])
            bound = kw.get("above") or kw.get("below")
            side = value > bound.value if kw.get("above") is not None else value < bound.value
            out[label] = _one_run(side, main, f"{kw.get('label', metric)} = {value:.4g}")
        return out

    def trained_vs(metric: str, space: str, model: str = LATENT_MAIN) -> C.Judgement:
        x, y = C.aligned(study(result, metric, space, model=model), study(result, metric, space, model=UNTRAINED),
                         f"{model} and {UNTRAINED}")
        return C.paired(x, y, design=design, label="trained - untrained")

    def beta_vs(metric: str, space: str = "full latent") -> dict[str, C.Judgement]:
        main = trained_vs(metric, space)
        out = {label: trained_vs(metric, space, m) for label, m in networks.items()}
        for label, m in single.items():
            seed = result.config.seeds[0]
            diff = float(study(result, metric, space, model=m).loc[seed] - study(result, metric, space,
                                                                                   model=UNTRAINED).loc[seed])
            out[label] = _one_run(diff > 0, main, f"trained - untrained = {diff:+.4g}")
        return out

    def counts(flags_of, label: str) -> dict[str, C.Judgement]:
        """The other networks' verdicts on a claim counted over repetitions (`flags_of(model)` -> per-repetition
        flags)."""
        main = counted(flags_of(LATENT_MAIN), label)
        out = {name: counted(flags_of(m), label) for name, m in networks.items()}
        for name, m in single.items():
            flag = bool(np.asarray(flags_of(m))[0])
            out[name] = _one_run(flag, main, f"{label}: {'yes' if flag else 'no'}")
        return out

    out.append(C.claim(
        "G1", "A condition moves every user by nearly the same vector (mean cosine between a user's shift and the "
        "genre's mean shift > 0.9)", "not in the paper: our account of its pictures",
        thr("mean cosine", above=NEARLY_PARALLEL),
        {"5 PCs": thr("mean cosine", "5 PCs", above=NEARLY_PARALLEL),
         "statistic: median deviation < 0.5": thr("median deviation", below=SMALL_DEVIATION),
         "untrained network": thr("mean cosine", model=UNTRAINED, above=NEARLY_PARALLEL),
         **beta("mean cosine", above=NEARLY_PARALLEL)}, source=SOURCES["G1"]))
    out.append(C.claim(
        "G2", "The condition explains most of the latent variance (share of the variance between conditions > 0.5)",
        "not in the paper", thr("condition share", above=MOST_VARIANCE),
        {s: thr("condition share", s, above=MOST_VARIANCE) for s in ("5 PCs", "10 PCs", "PC2 x PC5")}
        | beta("condition share", above=MOST_VARIANCE), source=SOURCES["G2"]))
    out.append(C.claim(
        "L1", "Conditions form clusters (silhouette by condition > 0.25)", "visual (Fig. 2, 3)",
        thr("silhouette", above=WEAK_STRUCTURE),
        {**{s: thr("silhouette", s, above=WEAK_STRUCTURE) for s in ("5 PCs", "10 PCs", "PC2 x PC5")},
         "threshold 0.5": thr("silhouette", above=REASONABLE_STRUCTURE),
         "threshold 0.1": thr("silhouette", above=ANY_STRUCTURE),
         **beta("silhouette", above=WEAK_STRUCTURE)}, source=SOURCES["L1"]))
    out.append(C.claim(
        "L1u", "The clusters are learned: tighter than in the untrained network (silhouette, paired)",
        "implied by 'C-VAE learns how to cluster the genres'", trained_vs("silhouette", "full latent"),
        {"5 PCs": trained_vs("silhouette", "5 PCs"), "PC2 x PC5": trained_vs("silhouette", "PC2 x PC5"),
         "statistic: condition share": trained_vs("condition share", "full latent"), **beta_vs("silhouette")},
        source=SOURCES["L1u"]))
    mantel = {f"{relation}, {space}": thr(f"mantel r ({relation})", space, above=POSITIVE, label="Mantel r")
              for relation in RELATIONS for space in ("full latent", "5 PCs", "PC2 x PC5", "PC3 x PC5")}
    main = mantel.pop("co-consumption, full latent")
    out.append(C.claim(
        "L2", "Related genres lie close: centroid distances grow with the genres' dissimilarity in user profiles "
        "(Mantel r > 0, co-consumption)", "visual; 'learned through the user profiles'", main,
        {**mantel, "p < 0.05 in every repetition": C.all_of(
            study(result, "mantel p (co-consumption)", "full latent") < 0.05, label="repetitions"),
         **beta("mantel r (co-consumption)", above=POSITIVE, label="Mantel r")}, source=SOURCES["L2"]))
    out.append(C.claim(
        "L2u", "The genre neighbourhoods are learned: centroid distances follow co-consumption more closely than in "
        "the untrained network (Mantel r, paired)", "'learned by the model through the user profiles'",
        trained_vs("mantel r (co-consumption)", "full latent"),
        {"5 PCs": trained_vs("mantel r (co-consumption)", "5 PCs"),
         "PC2 x PC5": trained_vs("mantel r (co-consumption)", "PC2 x PC5"),
         "co-labelling": trained_vs("mantel r (co-labelling)", "full latent"),
         **beta_vs("mantel r (co-consumption)")}, source=SOURCES["L2u"]))
    ranks = lambda space, centre, model=LATENT_MAIN: counted(  # noqa: E731
        study(result, "rank of unconditioned", space, centre, model) == 1, "nearest of 19 to the centre")
    out.append(C.claim(
        "L3", "Unconditioned users sit at the centre (their centroid is the nearest of 19 to the mean of all "
        "points)", "visual (Fig. 2)", ranks("full latent", "mean of all points"),
        {**{f"{space}, {centre}": ranks(space, centre) for space in ("full latent", "5 PCs", "PC2 x PC5")
            for centre in ("mean of all points", "latent origin") if (space, centre) != ("full latent",
                                                                                        "mean of all points")},
         "among the 3 nearest (full latent)": counted(
             study(result, "rank of unconditioned", "full latent", "mean of all points") <= 3, "among 3 nearest"),
         **counts(lambda m: study(result, "rank of unconditioned", "full latent", "mean of all points", m) == 1,
                  "nearest of 19 to the centre")},
        source=SOURCES["L3"]))
    negative = C.Bound(0.0, "the claim is a direction (popular genres nearer the centre): only the sign matters")
    centrality = {f"{space}, {centre}": thr("popularity rho", space, below=negative, centre=centre, label="rho")
                  for space in SPACES for centre in CENTRES}
    main = centrality.pop("full latent, unconditioned centroid")
    centrality |= beta("popularity rho", below=negative, centre="unconditioned centroid", label="rho")
    out.append(C.claim(
        "L4", "Popular genres are central, rare ones peripheral (Spearman rho(interactions, distance of the genre's "
        "centroid from the unconditioned centroid) < 0)", "visual", main, centrality, source=SOURCES["L4"]))
    out.append(C.claim(
        "L5", "An unconditioned user's position tells their genre tastes (significant positive association, "
        "Bonferroni over genres, for at least half of the genres)", "visual (Sec. 3.1.1)",
        thr("profiling share", above=HALF_THE_GENRES, label="share of genres"),
        {**{s: thr("profiling share", s, above=HALF_THE_GENRES, label="share of genres")
            for s in ("5 PCs", "PC2 x PC5", "PC3 x PC5")},
         "at least a quarter of the genres": thr("profiling share", above=QUARTER_OF_GENRES, label="share of genres"),
         **beta("profiling share", above=HALF_THE_GENRES, label="share of genres")}, source=SOURCES["L5"]))
    out.append(C.claim(
        "L5u", "Profiling is learned: more genres show the association than in the untrained network (paired)",
        "implied by Sec. 3.1.1", trained_vs("profiling share", "full latent"),
        {**{s: trained_vs("profiling share", s) for s in ("5 PCs", "PC2 x PC5", "PC3 x PC5")},
         **beta_vs("profiling share")}, source=SOURCES["L5u"]))
    axis = lambda where, model=LATENT_MAIN: study(  # noqa: E731
        result, "profiling axis holds", f"{where} axis", model=model) > 0.5
    if len(axis("PC5")):
        light, serious = (" and ".join(g) for g in latent.PROFILE_AXIS)
        out.append(C.claim(
            "L6", f"The unconditioned cloud has a taste axis: along Fig. 2's vertical axis (PC5) the share of "
            f"{light} and the share of {serious} in a user's history correlate with opposite signs (both Spearman "
            "p < 0.05)", "visual (Sec. 3.1.1)", counted(axis("PC5"), "holds"),
            {"axis: PC3 (the paper's 'first three principal components')": counted(axis("PC3"), "holds"),
             "axis: the unconditioned cloud's own first component": counted(axis("unconditioned PC1"), "holds"),
             "untrained network": counted(axis("PC5", UNTRAINED), "holds"),
             **counts(lambda m: axis("PC5", m), "holds")},
            source=C.cite("cvae", "Sec. 3.1.1", "Users who lie in the bottom of the cluster are more inclined "
                                                "toward light entertainment")))
    stretch = lambda metric, model=LATENT_MAIN: study(result, metric, "10 PCs", model=model)  # noqa: E731
    if len(stretch("PC4 stretch rank")):
        out.append(C.claim(
            "L7", "The fourth component stretches the clusters: of the first five components, PC4 carries the largest "
            "share of within-condition variance", "stated, figure not shown (Sec. 3.1)",
            counted(stretch("PC4 stretch rank") == 1, "PC4 first of 5"),
            {"PC4 among the 2 most stretched of 5": counted(stretch("PC4 stretch rank") <= 2, "PC4 in the top 2"),
             "PC4 first of the first 10 components": counted(stretch("PC4 stretch rank of 10") == 1,
                                                              "PC4 first of 10"),
             "untrained network": counted(stretch("PC4 stretch rank", UNTRAINED) == 1, "PC4 first of 5"),
             **counts(lambda m: stretch("PC4 stretch rank", m) == 1, "PC4 first of 5")},
            source=C.cite("cvae", "Sec. 3.1", "The fourth principal component (not illustrated here) stretches the "
                                              "clusters")))
    out += statement_claims(result, networks, single)
    out += stability_claims(result)
    return out


def form_shares(result: ChapterResult, kind: str, model: str = LATENT_MAIN, space: str | None = None
                ) -> tuple[pd.Series, pd.Series, int]:
    """Per repetition, the share of the paper's statements of one form that hold and their mean chance rate, each
    statement in its own space (or all in `space`); and the number of statements."""
    ids = [s for s in latent.PAPER_STATEMENTS if s.kind == kind
           and len(study(result, f"statement {s.id}", s.space, model=LATENT_MAIN))]
    held = pd.concat([study(result, f"statement {s.id}", space or s.space, model=model) for s in ids], axis=1)
    chance = pd.concat([study(result, f"chance {s.id}", space or s.space, model=model) for s in ids], axis=1)
    return held.mean(axis=1), chance.mean(axis=1), len(ids)


def _exact_above_chance(held: np.ndarray, chance: np.ndarray) -> float:
    """One-sided exact p-value of k statements holding when each holds at its own chance rate (Poisson-binomial)."""
    pmf = np.array([1.0])
    for r in chance:
        pmf = np.convolve(pmf, [1.0 - r, r])
    return float(pmf[int(round(held.sum())):].sum())


def statement_claims(result: ChapterResult, networks: dict[str, str], single: dict[str, str]) -> list[C.Claim]:
    """One claim per form of the paper's statements: its statements hold more often than the same form about random
    genres (share held - chance rate > 0 over repetitions); each statement is listed in :func:`statements_table`."""
    design = result["design"]["fold 0"]
    out = []
    for kind in latent.STATEMENT_KINDS:
        held, chance, n = form_shares(result, kind)
        if not n:
            continue
        judge = lambda h, c: C.threshold((h - c).to_numpy(), above=ABOVE_CHANCE, design=design,  # noqa: E731
                                         label="share held - chance rate")
        main = judge(held, chance)
        alternatives = {space: judge(*form_shares(result, kind, space=space)[:2])
                        for space in ("full latent", "5 PCs", "PC2 x PC5", "PC3 x PC5")}
        alternatives["more often than chance in every repetition"] = counted(held > chance, "above chance")
        statements = [s for s in latent.PAPER_STATEMENTS if s.kind == kind]
        first = result.config.seeds[0]
        flags = np.array([study(result, f"statement {s.id}", s.space).loc[first] for s in statements])
        rates = np.array([study(result, f"chance {s.id}", s.space).loc[first] for s in statements])
        p = _exact_above_chance(flags, rates)
        alternatives["exact test, first repetition (Poisson-binomial)"] = C.Judgement(
            "holds" if p < 0.05 else "inconclusive", f"{int(flags.sum())} of {n} hold; chance {rates.mean():.2f}; "
            f"p = {p:.3g}", "one-sided exact test against the chance rates", "check", p)
        alternatives |= {label: judge(*form_shares(result, kind, m)[:2]) for label, m in networks.items()}
        for label, m in single.items():
            h, c, _ = form_shares(result, kind, m)
            alternatives[label] = _one_run(bool(h.iloc[0] > c.iloc[0]), main,
                                           f"share held {h.iloc[0]:.2f}, chance {c.iloc[0]:.2f}")
        alternatives["untrained network"] = judge(*form_shares(result, kind, UNTRAINED)[:2])
        where = sorted({s.where for s in statements})
        out.append(C.claim(
            f"P_{kind}", f"The paper's statements of the form {FORM_TEXT[kind]} hold more often than the same form "
            f"about random genres ({n} statement{'s' if n > 1 else ''}: "
            f"{'; '.join(s.text.split(':')[0] for s in statements)})",
            f"{n} visual reading{'s' if n > 1 else ''} ({', '.join(where)})", main, alternatives,
            source=C.cite("cvae", " and ".join(where), statements[0].text.split('"')[1].split(" ... ")[0])))
    return out


def stability_claims(result: ChapterResult) -> list[C.Claim]:
    """Does another seed draw the same picture? Counted over the pairs of repetitions."""
    f = result.frame[result.frame["scope"] == "stability"]
    if f.empty:
        return []

    def per_pair(a: str, b: str, metric: str) -> pd.Series:
        g = f[(f["model"] == a) & (f["versus"] == b) & (f["metric"] == metric)]
        return g.set_index(["seed", "seed_b"])["value"]

    def beats_control(model: str, metric: str, lower_is_closer: bool = False) -> pd.Series:
        same, control = per_pair(model, model, metric), per_pair(model, UNTRAINED, metric)
        common = same.index.intersection(control.index)
        diff = same.loc[common] - control.loc[common]
        return diff < 0 if lower_is_closer else diff > 0

    order = per_pair(LATENT_MAIN, LATENT_MAIN, "genre order")
    pairs = "pairs of repetitions"
    return [C.claim(
        "S1", "Another repetition draws the same latent space: two repetitions' networks are closer (linear CKA of the "
        "same users' latent means) than a trained and an untrained network", "not in the paper: it reads one model",
        counted(beats_control(LATENT_MAIN, "cka"), "closer than the control", pairs),
        {"statistic: Procrustes disparity": counted(beats_control(LATENT_MAIN, "procrustes", True),
                                                    "closer than the control", pairs),
         "the genre order of the views repeats (mean |Spearman| over PC2, PC3, PC5 > 0.5)": counted(
             order > 0.5, "order repeats", pairs),
         **{label: counted(beats_control(m, "cka"), "closer than the control", pairs)
            for label, m in ALTERNATIVE_NETWORKS.items() if not per_pair(m, m, "cka").empty}},
        source=C.BOOK)]


# ---------------------------------------------------------------------------------------------------- numbers


def numbers(result: ChapterResult) -> dict:
    """Everything the prose quotes, computed."""
    p = result.config
    users = result["per_user"]
    out = {"n_seeds": len(p.seeds), "n_folds": p.n_folds, "n_valid": p.n_valid_users, "epochs": p.epochs,
           "patience": p.patience, "cond_per_epoch": p.cond_per_epoch, "k_cond": p.k_cond,
           "n_perm": p.n_perm, "beta_cap": p.beta_cap, "beta_alternative": p.beta_alternative,
           "n_test_users": int(users.loc[users["seed"] == p.seeds[0], "user"].nunique())}
    for name, model in (("main", LATENT_MAIN), ("cap", "C-VAE"), ("beta", "C-VAE beta 0.008"),
                        ("untrained", UNTRAINED)):
        silhouettes = study(result, "silhouette", model=model)
        out[f"silhouette_{name}"] = float(silhouettes.mean()) if len(silhouettes) else float("nan")
    selected = C.select(result.frame, "beta at the best epoch", model=LATENT_MAIN, scope="per run")["value"]
    out |= {"beta_search": p.beta_search, "batch_alternative": p.batch_alternative,
            "selected_beta": float(selected.mean()), "selected_beta_min": float(selected.min()),
            "selected_beta_max": float(selected.max())}
    key = lambda m: m.replace("-", "").replace(" ", "_").lower()  # noqa: E731
    for m in ACCURACY_MODELS:
        for metric in ("ndcg@100", "recall@20"):
            mean, half = metrics.mean_ci(values(result, m, metric))
            out[f"{metric.split('@')[0]}_{key(m)}"] = mean
            out[f"{metric.split('@')[0]}_{key(m)}_ci"] = half
    ease, vae = _fold_pair(result, "EASE", "Mult-VAE", "ndcg@100")
    mean, low, _ = C.interval(ease - vae, result["design"]["all users"])  # per fold, corrected repeated k-fold t
    out["ease_minus_vae"], out["ease_minus_vae_ci"] = mean, mean - low
    runs = result["runs"]
    runs = runs[runs["metric"].isin(["best_epoch", "epochs_trained"])].pivot_table(
        index=["seed", "fold", "model"], columns="metric", values="value")
    out["runs"] = len(runs)
    out["stopped_early"] = float((runs["epochs_trained"] < p.epochs).mean())
    out["max_best_epoch"] = float(runs["best_epoch"].max())
    for m in NETWORKS:
        out[f"epoch_{key(m)}"] = float(values(result, m, "best_epoch", "per run").mean())
    for m, k in zip(CONDITIONED, ("cvae", "cvaef", "vaef", "easef", "vae")):
        out[f"cond_share_{k}"] = float(values(result, m, "share").mean())
        out[f"cond_ndcg_{k}"] = float(values(result, m, "ndcg").mean())
    fig = result["figures"][f"latent {LATENT_MAIN}"]
    out |= {f"explained_pc{i + 1}": float(v) for i, v in enumerate(fig["explained"][:5])}
    out["explained_5"] = float(fig["explained"][:5].sum())
    for model, k in ((UNTRAINED, "untrained"), (LATENT_MAIN, "trained"), ("C-VAE", "cap")):
        for metric in ("silhouette", "condition share", "mean cosine", "median deviation", "mean spread ratio"):
            out[f"{key(metric)}_{k}"] = float(study(result, metric, model=model).mean())
        out[f"silhouette_5_{k}"] = float(study(result, "silhouette", "5 PCs", model=model).mean())
    for relation in RELATIONS:
        out[f"mantel_{key(relation)}"] = float(study(result, f"mantel r ({relation})").mean())
    for centre in CENTRES:
        for space in ("full latent", "5 PCs"):
            out[f"rho_{key(space)}_{key(centre)}"] = float(study(result, "popularity rho", space, centre).mean())
    out["mantel_coconsumption_untrained"] = float(study(result, "mantel r (co-consumption)", model=UNTRAINED).mean())
    out["popular_central_choices"] = sum(
        _threshold(result, "popularity rho", space, below=C.Bound(0.0, "the sign of rho"), centre=centre).verdict
        == "holds"
        for space in SPACES for centre in CENTRES)
    out["n_centrality_choices"] = len(SPACES) * len(CENTRES)
    out["profile_share"] = float(study(result, "profiling share").mean())
    out["profile_share_untrained"] = float(study(result, "profiling share", model=UNTRAINED).mean())
    g = fig["geometry"].set_index("genre")
    out |= {"shortest_shift": g["shift"].idxmin(), "longest_shift": g["shift"].idxmax(),
            "shortest_shift_length": float(g["shift"].min()), "longest_shift_length": float(g["shift"].max()),
            "most_popular": g.index[int(np.argmax(fig["popularity"]))]}
    w = result["figures"]["worked user"]
    out |= {"worked_user": w["user"], "worked_history": w["n_history"], "worked_held_out": w["n_held_out"],
            "worked_favourite": w["favourite"], "worked_rare": w["rare"]}
    lists = w["lists"].apply(lambda column: column.str.removesuffix(" ✓"))
    plain = set(lists.iloc[:, 0])
    out |= {"worked_overlap_favourite": len(plain & set(lists.iloc[:, 1])),
            "worked_overlap_rare": len(plain & set(lists.iloc[:, 2])),
            "worked_hits": [int(w["lists"][c].str.endswith("✓").sum()) for c in w["lists"]]}
    out |= {f"worked_hits_{i}": hits for i, hits in enumerate(out.pop("worked_hits"))}
    out |= {"n_train_users": int(result["split_table"].loc[0, "train users"]), "expansion": result["expansion"]}
    return out


def genre_names(result: ChapterResult) -> list[str]:
    """The genres (conditions) of the data set the chapter ran on, in the order of its genre matrix."""
    return result["genres"]


def split_table(result: ChapterResult) -> pd.DataFrame:
    """The first repetition's folds: training, validation and test users, test interactions."""
    return result["split_table"]


# ---------------------------------------------------------------------------------------------------- exercises


def try_setting(result: ChapterResult, **changes: Any) -> pd.DataFrame:
    """C-VAE retrained on the first repetition's first fold with some settings changed (e.g. ``beta_cap=1.0`` or
    ``epochs=20, patience=None``) through the chapter's own job, next to the chapter's C-VAE on the same fold:
    accuracy, training length, conditioning and the latent study's main statistics."""
    allowed = set(result.config.settings)
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"try_setting: cannot change {unknown}; allowed: {', '.join(sorted(allowed))}")
    config = result.config
    seed = config.seeds[0]
    job = runner.Job(network_job, config.network_params(seed, 0, "C-VAE", latent_study=True, **changes),
                     {"seed": seed, "fold": 0})
    outcome = runner.run([job], n_jobs=1, desc="exercise")
    changed = outcome.frame.assign(scope="")
    main = result["runs"]
    main = main[(main["seed"] == seed) & ((main["fold"] == 0))].assign(scope="")
    users = result["per_user"]
    users = users[(users["seed"] == seed) & (users["fold"] == 0) & (users["model"] == "C-VAE")]
    rows = {}
    for label, frame, per_user in (("chapter's C-VAE", main, users),
                                   (", ".join(f"{k}={v}" for k, v in changes.items()) or "unchanged", changed,
                                    outcome.artifacts[0]["per_user"])):
        def pick(metric: str, model: str = "C-VAE", space: str | None = None, centre: str = "") -> float:
            f = frame[(frame["model"] == model) & (frame["metric"] == metric)]
            if space is not None:
                f = f[(f["space"] == space) & (f["centre"] == centre)]
            return float(f["value"].mean())

        rows[label] = {"nDCG@100": per_user["ndcg@100"].mean(), "Recall@20": per_user["recall@20"].mean(),
                       "best epoch": pick("best_epoch"), "epochs trained": pick("epochs_trained"),
                       f"conditioned nDCG@{config.k_cond}": pick("ndcg", "C-VAE conditioned"),
                       "silhouette (full)": pick("silhouette", space="full latent"),
                       "condition share (full)": pick("condition share", space="full latent"),
                       "mean cosine of shifts": pick("mean cosine", space="full latent"),
                       "popularity rho (unconditioned centroid)": pick("popularity rho", space="full latent",
                                                                      centre="unconditioned centroid"),
                       "profiling share": pick("profiling share", space="full latent")}
    return pd.DataFrame(rows).round(4)


def centrality_by_seed(result: ChapterResult, space: str, centres: list[str]) -> pd.DataFrame:
    """Spearman rho(popularity, distance from each of `centres`) and its p-value per repetition, in `space`."""
    bad = [c for c in centres if c not in CENTRES]
    if space not in SPACES or bad or not centres:
        raise ValueError(f"space must be one of {list(SPACES)} and centres from {list(CENTRES)}, got {space!r}, "
                         f"{list(centres)!r}")
    return pd.DataFrame({f"{name} ({centre})": study(result, f"popularity {name}", space, centre)
                         for centre in centres for name in ("rho", "p")}).round(3)
