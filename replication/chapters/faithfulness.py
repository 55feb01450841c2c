"""Chapter "Are the explanations faithful?": does a model's recommendation depend on what its explanation cites?

Protocol: the comparison chapter's per-user holdout (same seeds, same fitted training part, the models at the
comparison's default settings, its first search trial). For every user, the model's top recommendation among the
films not rated in training or validation is explained by the user's rated films ranked by their weight toward it:
the native explanation of the linear item-item models (item-kNN, EASE: x_uj * W[j, i]) and the leave-one-out
influence of Mult-VAE, a model never built to explain (how much the film's score falls when the rated film alone is
removed). Deletion test: the top m cited films are removed from what the model reads and the film is re-ranked;
necessity (PN) = the deletion drops it out of the top 10; sufficiency (PS) = the m cited films alone keep it in.
SEMAUTO's summation recommender is explained by the knowledge-graph features of the film weighted by the user's
profile (P[u, f] M[i, f]); deleting a feature zeroes it in the profile. Controls: as many random elements of the
same user (rated films, profile features); the untrained Mult-VAE explained the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import faithfulness as F
from .. import metrics, models, plots, results
from ..checks import check_seeds
from ..errors import ConfigError
from ..experiments import claims as C
from ..experiments import runner
from ..experiments.protocols import holdout, item_features, load_data, side_information
from ..splits import positives
from .common import ChapterResult, OnData, param, setup
from .comparison import DEFAULT_SETTINGS

#: explained model -> (the model fitted, how its explanation is made)
EXPLAINED = {"ItemKNN": ("ItemKNN", "native"), "EASE": ("EASE", "native"),
             "SEMAUTO-sum": ("SEMAUTO-sum", "native, features"), "Mult-VAE": ("Mult-VAE", "leave-one-out"),
             "untrained Mult-VAE": ("Mult-VAE", "leave-one-out")}
FEATURES = ("SEMAUTO-sum",)  # explained by knowledge-graph features of the user's profile, not by rated films
NATIVE_WEIGHTS = {"ItemKNN": "similarity_", "EASE": "weights_"}  # the item-item matrix of each linear model
KINDS = ("cited", "random")  # the explanation's elements, and the control: as many random rated films
KS = (10, 20)  # the list lengths necessity and sufficiency are read at (the main one first)
DEVIATIONS = {
    "settings": "the models run at the comparison's default settings (its first search trial), not at each split's "
                "searched ones",
    "elements": "this chapter tests explanations made of the user's rated films (item-kNN, EASE, and the "
                "leave-one-out explainer) and of SEMAUTO's profile features (its summation recommender); the "
                "neighbours of E-AutoRec, user-kNN and SEMAUTO-kNN, and C-VAE's condition are not tested yet",
    "deletion": "a deleted film leaves the model's input but is still never recommended (the user has seen it)",
}


def _fitted(name: str, seed: int, split, settings: dict[str, Any], source: dict[str, str]):
    """The explained model fitted as the comparison fits it, the rows of elements its explanation cites and the
    scorer of changed rows: the input rows it reads for the rated-film explanations (0/1: the linear models binarize
    every rating, the VAE reads the ratings >= 4); for SEMAUTO-sum the users' profiles over the knowledge-graph
    features, scored by summation over each film's features (score = P M^T), with M^T as the linear weights."""
    model, _ = EXPLAINED[name]
    entry = models.MODELS[model]
    params = {**({"seed": seed} if entry.seeded else {}), **DEFAULT_SETTINGS.get(model, {}), **settings}
    if name in FEATURES:
        side = side_information(entry.side, split.fit_train, **source)
        fitted = models.make(model, **{**DEFAULT_SETTINGS["SEMAUTO"], **settings}).fit(split.fit_train, side=side)
        mask_t = sp.csr_array(fitted.item_features_.T)
        return (lambda rows: np.asarray(sp.csr_array(rows @ mask_t).toarray())), sp.csr_array(fitted.profiles()), \
            mask_t
    if entry.implicit:
        train = positives(split.fit_train)
        if name.startswith("untrained"):
            fitted = models.make(model, **params).untrained(train)
        else:
            valid = metrics.Validation(positives(split.valid), metric="ndcg@100", exclude=train)
            fitted = models.make(model, **params).fit(train, valid=valid)
        return fitted.score, sp.csr_array(train, dtype=np.float64), None
    fitted = models.make(model, **params).fit(split.fit_train)
    return fitted.score, sp.csr_array((split.fit_train > 0).astype(np.float64)), getattr(fitted, NATIVE_WEIGHTS[model])


def explain_job(model: str, seed: int, ms: list[int], settings: dict[str, Any], dataset: str = "ml-100k",
                data_dir: str = "", keep_example: bool = False) -> runner.JobOutput:
    """One model on one split: its top film per user, the explanation and the random control, and for every m the
    deletion effects (users' means of necessity and sufficiency at each list length, rank and score drop)."""
    split = holdout(seed, "holdout", 0.2, valid_fraction=0.2, dataset=dataset, data_dir=data_dir)
    scorer, X, linear = _fitted(model, seed, split, settings, {"dataset": dataset, "data_dir": data_dir})
    known = split.fit_train + split.valid
    items = metrics.top_k(scorer(X), 1, exclude=known)[:, 0]
    weights = F.linear_contributions(X, linear, items) if linear is not None else F.leave_one_out(scorer, X, items)
    cited = F.ranked_entries(weights)  # the rated films with a non-zero weight toward the top film
    elements = {"cited": cited, "random": F.matched_control(X, cited, seed)}
    records, example = [], {}
    for kind, chosen in elements.items():
        effects = F.deletion_effects(scorer, X, items, chosen, ms=ms, k=KS[0], exclude=known)
        effects["log_rank_ratio"] = np.log2((effects["rank_after"] + 1) / (effects["rank_before"] + 1))
        for m, group in effects.groupby("m"):
            values = {"rank_drop": group["rank_drop"].mean(), "log_rank_ratio": group["log_rank_ratio"].mean(),
                      "score_drop": group["score_drop"].mean(), "deleted": group["deleted"].mean()}
            for k in KS:
                on_top = group["rank_before"] < k
                values[f"necessity@{k}"] = ((group["rank_after"] >= k) & on_top).sum() / max(on_top.sum(), 1)
                values[f"sufficiency@{k}"] = (group["rank_alone"] < k).mean()
            records += [{"model": model, "elements": kind, "m": int(m), "metric": name, "value": float(value)}
                        for name, value in values.items()]
        if keep_example:
            example[kind] = {"items": items, "elements": chosen[:, :max(ms)],
                             "rank_after": effects.pivot(index="user", columns="m", values="rank_after").to_numpy()}
    if keep_example:
        example["weights"] = weights
    return runner.JobOutput(records, example or None)


@dataclass(frozen=True)
class Config(OnData):
    """The deletion tests of the explanations made of rated films and of profile features."""

    chapter = "faithfulness"
    seeds: tuple[int, ...] = param([0, 1, 2, 3, 4], "the comparison's per-user holdout splits")
    models: tuple[str, ...] = param(list(EXPLAINED), "the explained models (their explanations: see EXPLAINED)")
    ms: tuple[int, ...] = param([1, 2, 5, 10], "how many cited films are deleted (the deletion curve's steps)")
    m_main: int = param(5, "the m the claims are judged at (the others are alternatives)")
    settings: dict = param({}, "hyper-parameters per model over the comparison's defaults (e.g. the VAE's epochs)")

    def validate(self) -> None:
        super().validate()
        check_seeds(self.seeds)
        unknown = sorted(set(self.models) - set(EXPLAINED))
        if unknown or not self.models:
            raise ConfigError(f"faithfulness: unknown or no models {unknown}; allowed: {list(EXPLAINED)}")
        if not self.ms or min(self.ms) < 1 or self.m_main not in self.ms:
            raise ConfigError(f"faithfulness: ms must be integers >= 1 and hold m_main ({self.m_main}), got "
                              f"{list(self.ms)}")


HEADLINE = ("ease_faithful", "vae_posthoc_faithful", "native_over_posthoc")


def run(config: Config = Config()) -> ChapterResult:
    """Every explained model x seed through the runner."""
    setup()
    c = config
    graph = c.dataset == "ml-100k" and not c.data_dir  # the knowledge graph exists for ML-100K as shipped
    names = [m for m in c.models if graph or m not in FEATURES]
    jobs = [runner.Job(explain_job, {"model": m, "seed": s, "ms": list(c.ms),
                                     "settings": dict(c.settings.get(EXPLAINED[m][0], {})),
                                     "keep_example": s == c.seeds[0], **c.source},
                       labels={"seed": s}, cost=3.0 if EXPLAINED[m][0] in ("Mult-VAE", "SEMAUTO-sum") else 1.0)
            for s in c.seeds for m in names]
    timer = results.Timer()
    with timer("fit, explain and delete"):
        outcome = timer.count(runner.run(jobs, n_jobs=c.n_jobs, desc="faithfulness"))
    examples = {job.params["model"]: found for job, found in zip(jobs, outcome.artifacts) if found}
    split = holdout(c.seeds[0], "holdout", 0.2, valid_fraction=0.2, **c.source)
    return ChapterResult(outcome.frame, config, timer.seconds,
                         {"examples": examples, "split": split,
                          "design": C.Resampling.random_splits(split.fit_train.nnz, split.test.nnz, "ratings"),
                          "protocol": {"split": "the comparison's per-user holdout", "ms": list(c.ms),
                                       "m_main": c.m_main, "ks": list(KS), "explained": EXPLAINED,
                                       "ranks": "among films not rated in training or validation; a tie counts "
                                                "against the film"},
                          "deviations": DEVIATIONS, "headline": HEADLINE})


def _values(result: ChapterResult, model: str, kind: str, metric: str, m: int) -> pd.Series:
    f = result.frame
    picked = f[(f["model"] == model) & (f["elements"] == kind) & (f["metric"] == metric) & (f["m"] == m)]
    return picked.set_index("seed")["value"].sort_index()


def curves(result: ChapterResult, metric: str = "necessity@10") -> pd.DataFrame:
    """Mean and 95% CI over seeds of `metric` per model, elements (cited / random) and m."""
    f = result.frame[result.frame["metric"] == metric]
    return C.summarise(f, ["model", "elements", "m"])


def deletion_figure(result: ChapterResult) -> plt.Figure:
    """Per model: necessity (top) and sufficiency (bottom) at the top 10 against m, the explanation's films (line)
    and as many random rated films (dashed), 95% CIs over seeds as bands."""
    names = [m for m in result.config.models if m in set(result.frame["model"])]
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 6.2), sharey="row", squeeze=False)
    for row, metric, label in ((0, "necessity@10", "necessity (out of the top 10)"),
                               (1, "sufficiency@10", "sufficiency (m films alone)")):
        table = curves(result, metric)
        for col, name in enumerate(names):
            ax = axes[row, col]
            for kind, style, color in (("cited", "-", plots.PALETTE[0]), ("random", "--", plots.PALETTE[7])):
                t = table[(table["model"] == name) & (table["elements"] == kind)].sort_values("m")
                ax.plot(t["m"], t["mean"], style, marker="o", color=color,
                        label="cited films" if kind == "cited" else "random rated films")
                ax.fill_between(t["m"], t["mean"] - t["ci"], t["mean"] + t["ci"], color=color, alpha=0.2)
            ax.set_xticks(list(result.config.ms))
            plots.label_axes(ax, "m (elements deleted / kept)" if row else "", label if col == 0 else "",
                             f"{name} ({EXPLAINED[name][1]})" if row == 0 else "")
            ax.set_ylim(-0.02, 1.02)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary(result: ChapterResult) -> pd.DataFrame:
    """At m_main: necessity, sufficiency and the mean log2 rank ratio, cited vs random, mean +- CI over seeds."""
    m = result.config.m_main
    f = result.frame[(result.frame["m"] == m) & result.frame["metric"].isin(
        ["necessity@10", "sufficiency@10", "log_rank_ratio"])]
    s = C.summarise(f, ["model", "elements", "metric"])
    s["shown"] = [f"{a:.3f} ± {b:.3f}" for a, b in zip(s["mean"], s["ci"])]
    wide = s.pivot_table(index="model", columns=["metric", "elements"], values="shown", aggfunc="first")
    return wide.loc[[n for n in result.config.models if n in wide.index]]


def worked_example(result: ChapterResult, user: int | None = None, n: int = 2) -> pd.DataFrame:
    """One user of the first split: each model's top film, the n films its explanation cites first (with their
    weights) and the film's rank after deleting them (m = n when n is one of the ms, else the nearest m)."""
    data = load_data(**result.config.source)
    title = data.items.set_index("item")["title"]
    examples = result["examples"]
    feature = pd.Series(item_features().labels()) if set(FEATURES) & set(examples) else None  # the graph's labels
    if user is None:  # the first user whose top film the models agree on most, else user 0
        tops = np.array([examples[m]["cited"]["items"] for m in examples])
        agree = (tops == tops[0]).sum(axis=0)
        user = int(np.argmax(agree))
    ms = list(result.config.ms)
    m = min(ms, key=lambda v: (abs(v - n), v))
    rows = []
    for name, ex in examples.items():
        item = int(ex["cited"]["items"][user])
        cited = [int(j) for j in ex["cited"]["elements"][user, :n] if j >= 0]
        weights = ex["weights"]
        row = weights[[user]]
        weight = dict(zip(row.indices, row.data))
        label = feature if name in FEATURES else title
        rows.append({"model": name, "recommended": title.loc[item],
                     "cited first": "; ".join(f"{label.loc[j]} [{weight.get(j, 0.0):+.3f}]" for j in cited),
                     f"rank after deleting {m}": int(ex["cited"]["rank_after"][user, ms.index(m)]),
                     f"... {m} random elements": int(ex["random"]["rank_after"][user, ms.index(m)])})
    return pd.DataFrame(rows).set_index("model")


ALTERNATIVE_MS = (1, 2, 10)


def _paired(result: ChapterResult, a: tuple[str, str], b: tuple[str, str], metric: str, m: int,
            minus: tuple[tuple[str, str], tuple[str, str]] | None = None) -> C.Judgement:
    """Paired over seeds (the corrected resampled t): metric of (model, elements) a minus b at m; with `minus`, the
    difference of two such gaps (a - b) - (c - d)."""
    first, second = _values(result, *a, metric, m), _values(result, *b, metric, m)
    if minus is not None:
        first = first - second
        second = _values(result, *minus[0], metric, m) - _values(result, *minus[1], metric, m)
    label = f"{a[0]} {a[1]} - {b[0]} {b[1]}" if minus is None else f"({a[0]} gap) - ({minus[0][0]} gap)"
    return C.paired(first.to_numpy(), second.to_numpy(), design=result["design"], label=label)


def _judged(result: ChapterResult, a, b, minus=None) -> tuple[C.Judgement, dict[str, C.Judgement]]:
    m = result.config.m_main
    main = _paired(result, a, b, "necessity@10", m, minus)
    alternatives = {f"m = {v}": _paired(result, a, b, "necessity@10", v, minus)
                    for v in ALTERNATIVE_MS if v in result.config.ms}
    alternatives |= {"top 20 instead of top 10": _paired(result, a, b, "necessity@20", m, minus),
                     "sufficiency instead of necessity": _paired(result, a, b, "sufficiency@10", m, minus),
                     "mean log2 rank ratio instead of necessity": _paired(result, a, b, "log_rank_ratio", m, minus)}
    return main, alternatives


def claims(result: ChapterResult) -> list[C.Claim]:
    present = set(result.frame["model"])
    m = result.config.m_main
    out = []
    for cid, model in (("itemknn_faithful", "ItemKNN"), ("ease_faithful", "EASE"),
                       ("semauto_faithful", "SEMAUTO-sum"), ("vae_posthoc_faithful", "Mult-VAE")):
        if model in present:
            how = "its leave-one-out explanation" if EXPLAINED[model][1] == "leave-one-out" else "its explanation"
            what = "profile features" if model in FEATURES else "rated films"
            main, alternatives = _judged(result, (model, "cited"), (model, "random"))
            out.append(C.claim(cid, f"Deleting the {m} {what} {how} cites first drops {model}'s top film out of "
                               f"the top 10 more often than deleting {m} random {what} (necessity)",
                               "- (no paper tests faithfulness)", main, alternatives, source=C.BOOK))
    if {"EASE", "Mult-VAE"} <= present:
        main, alternatives = _judged(result, ("EASE", "cited"), ("Mult-VAE", "cited"))
        out.append(C.claim("native_over_posthoc", "EASE's native explanation is more necessary to its recommendation "
                           "than the leave-one-out explanation of Mult-VAE (a black box) is to its own",
                           "- (the book's question: are explainable models' explanations more faithful?)", main,
                           alternatives, source=C.BOOK))
    if {"Mult-VAE", "untrained Mult-VAE"} <= present:
        main, alternatives = _judged(result, ("Mult-VAE", "cited"), ("Mult-VAE", "random"),
                                     minus=(("untrained Mult-VAE", "cited"), ("untrained Mult-VAE", "random")))
        out.append(C.claim("trained_over_untrained", "The leave-one-out explanation's lead over random films is larger "
                           "for the trained Mult-VAE than for the untrained network (faithfulness reflects what "
                           "training learned)", "- (a control)", main, alternatives, source=C.BOOK))
    return out


def numbers(result: ChapterResult) -> dict:
    """The values the prose quotes: at m_main, each model's necessity and sufficiency, cited and random."""
    m = result.config.m_main
    out = {"n_seeds": len(result.config.seeds), "m_main": m}
    for name in result.config.models:
        key = name.lower().replace("-", "").replace(" ", "_")
        for kind in KINDS:
            for metric in ("necessity@10", "sufficiency@10"):
                values = _values(result, name, kind, metric, m)
                if len(values):
                    out[f"{metric.split('@')[0]}_{key}_{kind}"] = float(values.mean())
    return out


def exercise_run(result: ChapterResult, model: str = "EASE", seed: int | None = None, **settings: Any
                 ) -> pd.DataFrame:
    """One model on one split with other settings (e.g. EASE's l2): necessity and sufficiency at the top 10 per m,
    cited vs random, through the chapter's own job."""
    seed = result.config.seeds[0] if seed is None else seed
    out = explain_job(model, seed, list(result.config.ms), settings, **result.config.source)
    f = pd.DataFrame(out.records)
    f = f[f["metric"].isin(["necessity@10", "sufficiency@10"])]
    return f.pivot_table(index="m", columns=["metric", "elements"], values="value")
