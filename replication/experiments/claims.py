"""Claims and their verdicts: what a paper states, what we measured, and a verdict computed by a stated test.

**Runs are not independent.** The book's "seeds" re-split the same data (random re-splits, or repeated K-fold):
training sets overlap from one run to the next, so a plain t-interval over runs is too narrow. Every test over runs
therefore takes the chapter's :class:`Resampling` (the protocol's training and test sizes, passed in, never guessed)
and uses the *corrected resampled t* of Nadeau & Bengio (2003): the variance of the mean of J run differences is
s^2 (1/J + n_test/n_train) instead of s^2 / J; for repeated K-fold with one value per fold (J = repetitions x K)
this is Bouckaert & Frank's (2004) corrected repeated k-fold t. ``INDEPENDENT`` gives the plain interval, which
every claim also reports as a sensitivity choice ("uncorrected t"), so the reader sees what the correction changes.

One convention for intervals (95%, two-sided) and one set of tests, each returning a :class:`Judgement` (verdict,
what was measured, which test, its p-value, its margin or threshold with the reason for it, and its power):

* :func:`paired` -- "A is better than B" on the same runs: the corrected paired t-interval;
* :func:`bootstrap` -- the same with users as the unit: a per-user paired bootstrap interval;
* :func:`noninferior` -- "A is at least as good as B": the interval of A - B must clear -margin;
* :func:`equivalent` -- "A matches B", "the setting does not matter": the interval must lie inside +-margin;
* :func:`every` -- "A beats B for every setting": an intersection-union test (Berger 1982): each setting's paired
  test at the book's level, no correction, holds only when all hold; "does not hold" when some setting shows the
  opposite (Holm over the settings, a "for some" statement);
* :func:`some` -- "A beats B for at least one setting": Holm over the settings;
* :func:`threshold` -- "the statistic exceeds t" (or stays below): the interval must clear t;
* :func:`all_of` -- "in every seed": a count (no p-value: not a test of a null hypothesis).

A judgement's **p-value** is the smallest level at which its verdict would be decisive (holds or does not hold)
with the interval of that level: below 0.05 exactly when the 95% verdict is not "inconclusive". Those p-values are
what the reproducibility appendix adjusts over the whole book (:func:`benjamini_hochberg`, the claim's q-value).

Every **margin and threshold** carries its reason (:class:`Bound`); margins are re-judged at half and double
automatically. A :class:`Claim` carries the main judgement and a **sensitivity** list: the claim re-judged under each
alternative a careful replicator could choose; :func:`robustness` says whether they agree (robust), whether one
loses or gains significance (fragile), or whether one is significant in the opposite direction (reversed).
Inconclusive comparisons carry their **power**: the smallest difference the runs could detect (80% power) and the
number of runs that would resolve the observed one, or None when no number of re-splits can (the overlap of the
splits keeps the standard error above s sqrt(n_test/n_train)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats

from ..checks import check_int, check_number
from ..errors import ConfigError, DataError
from ..metrics import mean_ci
from ..papers import BOOK, check_source, cite

__all__ = ["VERDICTS", "ROBUSTNESS", "KINDS", "Resampling", "INDEPENDENT", "Bound", "relative_margin",
           "Judgement", "Claim", "summarise", "select", "per_run", "pair", "aligned", "ci_text", "interval",
           "paired", "bootstrap", "noninferior", "equivalent", "every", "some", "threshold", "all_of", "holm",
           "benjamini_hochberg", "claim", "robustness", "claims_table", "power", "detectable", "runs_needed", "BOOK",
           "cite"]

VERDICTS = ("holds", "does not hold", "inconclusive")
ROBUSTNESS = ("robust", "fragile", "reversed", "no alternative")
KINDS = ("paired", "bootstrap", "non-inferiority", "equivalence", "every", "some", "threshold", "count", "check")
BOUNDED = {"non-inferiority": "margin", "equivalence": "margin", "threshold": "threshold"}
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
POWER = 0.8  # the power at which the minimum detectable difference and the runs needed are stated
MAX_RUNS = 1000  # beyond this many runs "more runs" is not an answer a reader can act on
UNCORRECTED = "uncorrected t (runs treated as independent)"


# ---------------------------------------------------------------------------------------------------- designs


@dataclass(frozen=True)
class Resampling:
    """How a chapter's runs were drawn, which sets the variance of a mean over them.

    ``kind``: "independent" (plain t), "random re-splits" (each run a fresh random train/test split of the same
    data) or "repeated k-fold" (values given one per fold). ``n_train`` / ``n_test``: the sizes of one run's
    training and test parts in ``unit`` (ratings, users), read off the protocol's own split."""

    kind: str
    n_train: int = 0
    n_test: int = 0
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("independent", "random re-splits", "repeated k-fold"):
            raise ConfigError(f"resampling kind {self.kind!r} not in ('independent', 'random re-splits', "
                              "'repeated k-fold')")
        if self.kind != "independent":
            check_int("n_train", self.n_train, 1)
            check_int("n_test", self.n_test, 1)

    @classmethod
    def random_splits(cls, n_train: int, n_test: int, unit: str) -> "Resampling":
        """Runs that re-split the same data at random (one value per run)."""
        return cls("random re-splits", int(n_train), int(n_test), unit)

    @classmethod
    def repeated_kfold(cls, n_train: int, n_test: int, unit: str) -> "Resampling":
        """Repeated K-fold with one value per fold (n_train, n_test: one fold's training and test sizes)."""
        return cls("repeated k-fold", int(n_train), int(n_test), unit)

    @property
    def ratio(self) -> float:
        """n_test / n_train (0 for independent runs): the correlation term of the corrected variance."""
        return 0.0 if self.kind == "independent" else self.n_test / self.n_train

    def variance_factor(self, n_runs: int) -> float:
        """What multiplies the runs' sample variance to give the variance of their mean."""
        return 1.0 / n_runs + self.ratio

    def describe(self, n_runs: int) -> str:
        if self.kind == "independent":
            return f"plain t over {n_runs} runs"
        name = "corrected repeated k-fold t" if self.kind == "repeated k-fold" else "corrected resampled t"
        return (f"{name} over {n_runs} runs (n_test/n_train = {self.n_test:,}/{self.n_train:,} {self.unit})")


INDEPENDENT = Resampling("independent")


@dataclass(frozen=True)
class Bound:
    """A margin or a threshold and the reason it has this value (shown in the claim record)."""

    value: float
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or len(self.reason.strip()) < 10:
            raise ConfigError(f"a margin or threshold needs its reason (a sentence), got {self.reason!r}")
        if not np.isfinite(self.value):
            raise ConfigError(f"a margin or threshold must be a finite number, got {self.value!r}")

    def scaled(self, factor: float) -> "Bound":
        return Bound(self.value * factor, f"{factor:g} x the chosen margin ({self.reason})")


def relative_margin(reference: Any, share: float, what: str) -> Bound:
    """A margin of `share` of the reference model's mean value: a relative difference a reader would notice."""
    share = check_number("share", share, 0.0, 1.0, low_open=True)
    mean = float(np.nanmean(np.asarray(reference, dtype=float)))
    return Bound(share * abs(mean), f"{share:.0%} of {what}'s mean ({mean:.4g}): a relative difference a reader "
                                    "would notice in a table")


# ---------------------------------------------------------------------------------------------------- records


@dataclass
class Judgement:
    """The outcome of one test: a verdict, a readable account of what was measured, the test's name, its kind, its
    p-value (None for counts and checks), the margin or threshold it used and the power of its runs. ``again``
    re-runs the same test with some inputs changed (the design, the margin): the sensitivity lists use it."""

    verdict: str
    measured: str
    test: str
    kind: str = "check"
    p_value: float | None = None
    bound: Bound | None = None
    power: dict[str, Any] | None = None
    design: Resampling | None = None
    again: Callable[..., "Judgement"] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ConfigError(f"verdict {self.verdict!r} not in {VERDICTS}")
        if self.kind not in KINDS:
            raise ConfigError(f"test kind {self.kind!r} not in {KINDS}")


@dataclass
class Claim:
    """A paper's claim with its main verdict, p-value, margin or threshold (with its reason), power and its
    sensitivity list [{choice, measured, verdict}]; ``q_value`` is the book-wide Benjamini-Hochberg q-value, set by
    the reproducibility appendix (None until then)."""

    id: str
    statement: str
    paper_value: Any
    measured: str
    verdict: str
    test: str
    sensitivity: list[dict[str, str]] = field(default_factory=list)
    kind: str = "check"
    p_value: float | None = None
    q_value: float | None = None
    robustness: str | None = None  # None: computed from the verdicts
    margin: dict[str, Any] | None = None
    threshold: dict[str, Any] | None = None
    power: dict[str, Any] | None = None
    source: Any = None  # "book", or {paper, locator, quotation} (replication.papers.cite)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ConfigError(f"claim {self.id!r}: verdict {self.verdict!r} not in {VERDICTS}")
        check_source(self.source, f"claim {self.id!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"claim {self.id!r}: test kind {self.kind!r} not in {KINDS}")
        for alt in self.sensitivity:
            if set(alt) != {"choice", "measured", "verdict"} or alt["verdict"] not in VERDICTS:
                raise ConfigError(f"claim {self.id!r}: a sensitivity entry must be {{choice, measured, verdict}} "
                                  f"with a verdict in {VERDICTS}, got {alt}")
        if not self.sensitivity and "no alternative:" not in self.measured:
            raise ConfigError(f"claim {self.id!r} has no sensitivity list; say why with 'no alternative: <reason>'")
        for name, value in (("p_value", self.p_value), ("q_value", self.q_value)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"claim {self.id!r}: {name} {value!r} is not a probability")
        if self.kind in ("count", "check") and self.p_value is not None:
            raise ConfigError(f"claim {self.id!r}: a {self.kind} has no p-value")
        if self.kind not in ("count", "check") and self.p_value is None:
            raise ConfigError(f"claim {self.id!r}: a {self.kind} test needs its p-value")
        needed = BOUNDED.get(self.kind)
        for name in ("margin", "threshold"):
            bound = getattr(self, name)
            if name == needed and not (isinstance(bound, dict) and bound.get("reason") and "value" in bound):
                raise ConfigError(f"claim {self.id!r}: a {self.kind} claim records its {name} with a reason")
            if name != needed and bound is not None:
                raise ConfigError(f"claim {self.id!r}: a {self.kind} claim has no {name}")
        implied = _robustness(self.verdict, [s["verdict"] for s in self.sensitivity])
        if self.robustness is None:
            self.robustness = implied
        if self.robustness != implied:
            raise ConfigError(f"claim {self.id!r}: robustness {self.robustness!r} does not follow from its verdicts")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------- statistics


def summarise(frame: pd.DataFrame, by: str | Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, 95% CI half-width (Student t over the rows of each group, e.g. seeds) and count, one row per group."""
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, group in frame.groupby(by, sort=False, dropna=False):
        mean, half = mean_ci(group[value].to_numpy(dtype=float))
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "mean": mean, "ci": half,
                     "n": int(group[value].notna().sum())})
    return pd.DataFrame(rows)


def select(frame: pd.DataFrame, metric: str | None = None, **where: Any) -> pd.DataFrame:
    """The records of `metric` (any metric when None) whose columns equal the values of `where`."""
    rows = frame if metric is None else frame[frame["metric"] == metric]
    for column, wanted in where.items():
        if column not in rows:
            raise DataError(f"no column {column!r} to select on; the records have {list(frame.columns)}")
        rows = rows[rows[column] == wanted]
    return rows


def per_run(frame: pd.DataFrame, metric: str, on: str | Sequence[str] = "seed", **where: Any) -> pd.Series:
    """One value of `metric` per run (indexed by `on`: the seed, or seed and fold) for the records matching `where`;
    more than one record per run is an error (add a selecting column)."""
    on = [on] if isinstance(on, str) else list(on)
    rows = select(frame, metric, **where)
    if rows.duplicated(on).any():
        raise DataError(f"more than one {metric} value per {on} for {where}: add a selecting column")
    return rows.set_index(on)["value"].sort_index()


def pair(frame: pd.DataFrame, a: Mapping[str, Any], b: Mapping[str, Any], metric: str,
         on: str | Sequence[str] = "seed") -> tuple[np.ndarray, np.ndarray]:
    """The values of `metric` for the rows matching `a` and those matching `b` (column -> value), aligned on
    `on` (the seed, or seed and fold: same split, same initialisation), from a tidy frame of records."""
    left, right = per_run(frame, metric, on, **a), per_run(frame, metric, on, **b)
    return aligned(left, right, f"{dict(a)} and {dict(b)} for metric {metric}")


def aligned(left: pd.Series, right: pd.Series, what: str = "the two series") -> tuple[np.ndarray, np.ndarray]:
    """Two per-run series restricted to their common runs, in run order (what a paired test reads)."""
    common = left.index.intersection(right.index).sort_values()
    if len(common) == 0:
        raise DataError(f"no common runs between {what}")
    return left.loc[common].to_numpy(float), right.loc[common].to_numpy(float)


def ci_text(values: Any) -> str:
    """"mean ± half-width" of the plain 95% t-interval over runs: the spread a table shows beside a mean."""
    return "{:.4f} ± {:.4f}".format(*mean_ci(np.asarray(values, dtype=float)))


def _check_design(design: Any) -> Resampling:
    if not isinstance(design, Resampling):
        raise ConfigError(f"design must be a Resampling (the chapter's protocol sizes), got {design!r}")
    return design


@dataclass(frozen=True)
class _Runs:
    """Per-run values (differences or statistics) with the standard error of their mean under a design."""

    values: np.ndarray
    design: Resampling

    @property
    def n(self) -> int:
        return int(self.values.size)

    @property
    def mean(self) -> float:
        return float(self.values.mean())

    @property
    def sd(self) -> float:
        return float(self.values.std(ddof=1))

    @property
    def se(self) -> float:
        return self.sd * float(np.sqrt(self.design.variance_factor(self.n)))

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        half = float(scipy.stats.t.ppf((1 + confidence) / 2, self.n - 1)) * self.se
        return self.mean - half, self.mean + half

    def p_above(self, value: float) -> float:
        """One-sided p-value of H0: mean <= value (small when the runs lie clearly above `value`)."""
        if self.se == 0:
            return 0.0 if self.mean > value else 1.0 if self.mean < value else 0.5
        return float(scipy.stats.t.sf((self.mean - value) / self.se, self.n - 1))

    def p_below(self, value: float) -> float:
        """One-sided p-value of H0: mean >= value (small when the runs lie clearly below `value`)."""
        if self.se == 0:
            return 0.0 if self.mean < value else 1.0 if self.mean > value else 0.5
        return float(scipy.stats.t.cdf((self.mean - value) / self.se, self.n - 1))

    def two_sided(self, value: float) -> float:
        """The smallest level at which the (1 - level) interval excludes `value`."""
        return min(1.0, 2 * min(self.p_above(value), self.p_below(value)))

    def power(self, distance: float) -> dict[str, Any]:
        """The power summary of this many runs for the observed `distance` from the boundary the test must clear."""
        return {"runs": self.n, "sd": self.sd, "ratio": self.design.ratio, "observed": float(distance),
                "mdd": detectable(self.sd, self.n, self.design.ratio),
                "runs_needed": runs_needed(abs(distance), self.sd, self.design.ratio)}


def _runs(values: Any, design: Resampling) -> _Runs:
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2 or not np.isfinite(v).all():
        raise DataError(f"a test over runs needs a 1-D array of >= 2 finite values, got {v.shape} {v!r}")
    return _Runs(v, _check_design(design))


def interval(values: Any, design: Resampling) -> tuple[float, float, float]:
    """(mean, low, high): the 95% interval of a mean over runs under the chapter's design (for the prose)."""
    runs = _runs(values, design)
    return (runs.mean, *runs.interval())


def _signed(a: Any, b: Any, higher_is_better: bool) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise DataError(f"a paired test needs two equal-length 1-D arrays of >= 2 runs, got {a.shape} and {b.shape}")
    return a - b if higher_is_better else b - a


def _fmt(x: float) -> str:
    return f"{x:+.4f}" if abs(x) >= 1e-3 or x == 0 else f"{x:+.2e}"


def _account(label: str, mean: float, low: float, high: float, n: int, unit: str = "paired runs") -> str:
    return f"{label} = {_fmt(mean)} (95% CI [{_fmt(low)}, {_fmt(high)}], {n} {unit})"


def _three_way(low: float, high: float, bound: float) -> str:
    """holds when the interval lies above `bound`, does not hold when below, else inconclusive."""
    return "holds" if low > bound else "does not hold" if high < bound else "inconclusive"


def _noise_note(bound: Bound, reference: np.ndarray) -> str:
    """A note when a margin is smaller than the metric's own run-to-run spread (the reference model's SD)."""
    sd = float(np.std(reference, ddof=1)) if reference.size > 1 else 0.0
    return f"; the margin is below the metric's run-to-run SD ({sd:.2g})" if bound.value < sd else ""


def paired(a: Any, b: Any, *, design: Resampling, higher_is_better: bool = True, label: str = "A - B") -> Judgement:
    """"A is better than B": holds when the 95% corrected t-interval of the per-run difference lies on A's side of
    0, does not hold when it lies on B's side, else inconclusive. `label` names the difference in the account (it
    is always reported as a - b)."""
    runs = _runs(_signed(a, b, higher_is_better), design)
    low, high = runs.interval()
    raw = (runs.mean, low, high) if higher_is_better else (-runs.mean, -high, -low)
    return Judgement(_three_way(low, high, 0.0), _account(label, *raw, runs.n),
                     f"paired {design.describe(runs.n)} ({'higher' if higher_is_better else 'lower'} is better)",
                     "paired", runs.two_sided(0.0), None, runs.power(runs.mean),
                     design=design,
                     again=partial(paired, a, b, design=design, higher_is_better=higher_is_better, label=label))


def bootstrap(a: Any, b: Any, *, higher_is_better: bool = True, n_boot: int = 2000, seed: int = 0,
              label: str = "A - B") -> Judgement:
    """"A is better than B" with users as the unit: a paired bootstrap over users (resampling users, 95% percentile
    interval of the mean per-user difference; each user's value already averaged over the runs). Users with a
    missing value in either array are dropped."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    diff = _signed(a[keep], b[keep], higher_is_better)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n_boot, diff.size))].mean(axis=1)
    low, high = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    mean = float(diff.mean())
    raw = (mean, low, high) if higher_is_better else (-mean, -high, -low)
    p = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())) + 1.0 / n_boot)
    return Judgement(_three_way(low, high, 0.0), _account(label, *raw, diff.size, "users"),
                     f"paired bootstrap over {diff.size} users, {n_boot} resamples", "bootstrap", p)


def noninferior(a: Any, b: Any, *, margin: Bound, design: Resampling, higher_is_better: bool = True,
                label: str = "A - B") -> Judgement:
    """"A is at least as good as B" within `margin`: holds when the 95% interval of the paired difference (in the
    better direction) lies above -margin, does not hold when it lies entirely below -margin, else inconclusive."""
    margin = _check_bound(margin, "margin", positive=True)
    runs = _runs(_signed(a, b, higher_is_better), design)
    low, high = runs.interval()
    raw = (runs.mean, low, high) if higher_is_better else (-runs.mean, -high, -low)
    reference = np.asarray(b, dtype=float)
    return Judgement(_three_way(low, high, -margin.value),
                     _account(label, *raw, runs.n) + f"; margin {margin.value:.3g}" + _noise_note(margin, reference),
                     f"non-inferiority, paired {design.describe(runs.n)}, margin {margin.value:.3g}",
                     "non-inferiority", runs.two_sided(-margin.value), margin, runs.power(runs.mean + margin.value),
                     design=design,
                     again=partial(noninferior, a, b, margin=margin, design=design, higher_is_better=higher_is_better,
                                   label=label))


def equivalent(a: Any, b: Any, *, margin: Bound, design: Resampling, label: str = "A - B") -> Judgement:
    """"A matches B" within `margin` (also "the setting does not matter"): holds when the 95% interval of the paired
    difference lies inside [-margin, margin], does not hold when it lies entirely outside, else inconclusive."""
    margin = _check_bound(margin, "margin", positive=True)
    runs = _runs(_signed(a, b, True), design)
    low, high = runs.interval()
    m = margin.value
    verdict = "holds" if -m < low and high < m else "does not hold" if low > m or high < -m else "inconclusive"
    p_inside = min(1.0, 2 * max(runs.p_above(-m), runs.p_below(m)))
    p_outside = min(1.0, 2 * min(runs.p_above(m), runs.p_below(-m)))
    return Judgement(verdict, _account(label, runs.mean, low, high, runs.n) + f"; margin +-{m:.3g}" +
                     _noise_note(margin, np.asarray(b, dtype=float)),
                     f"equivalence, paired {design.describe(runs.n)}, margin +-{m:.3g}", "equivalence",
                     min(p_inside, p_outside), margin, runs.power(m - abs(runs.mean)),
                     design=design, again=partial(equivalent, a, b, margin=margin, design=design, label=label))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values (scipy's false discovery control): the smallest FDR at which each is kept."""
    p = np.asarray(pvalues, dtype=float)
    return scipy.stats.false_discovery_control(p, method="bh") if p.size else p


def _settings(settings: Mapping[str, tuple[Any, Any]], design: Resampling,
              higher_is_better: bool) -> dict[str, _Runs]:
    if not settings:
        raise ConfigError("a test over settings needs at least one setting")
    return {name: _runs(_signed(a, b, higher_is_better), design) for name, (a, b) in settings.items()}


def _per_setting(runs: dict[str, _Runs], higher_is_better: bool, label: str) -> str:
    sign = 1.0 if higher_is_better else -1.0
    return f"mean {label} per setting: " + "; ".join(f"{name}: {_fmt(sign * r.mean)}" for name, r in runs.items())


def every(settings: Mapping[str, tuple[Any, Any]], *, design: Resampling, higher_is_better: bool = True,
          label: str = "A - B") -> Judgement:
    """"A beats B for every setting", an intersection-union test: each setting's paired test at the book's level
    (its 95% corrected interval), no correction; holds when every setting holds. Does not hold when some setting
    shows B significantly better (Holm over the settings: a "for some" statement); else inconclusive. The account
    says how many settings hold. p-value: the largest per-setting p (holds) or the smallest Holm-adjusted opposite p
    (does not hold)."""
    runs = _settings(settings, design, higher_is_better)
    better = np.array([min(1.0, 2 * r.p_above(0.0)) for r in runs.values()])
    worse = holm([min(1.0, 2 * r.p_below(0.0)) for r in runs.values()])
    n_hold, n_opposite = int((better < ALPHA).sum()), int((worse < ALPHA).sum())
    verdict = "holds" if n_hold == len(runs) else "does not hold" if n_opposite else "inconclusive"
    weakest = list(runs.values())[int(np.argmax(better))]
    n = min(r.n for r in runs.values())
    return Judgement(verdict, f"{n_hold} of {len(runs)} settings hold, {n_opposite} significantly opposite "
                              f"({_per_setting(runs, higher_is_better, label)})",
                     f"intersection-union over {len(runs)} settings: each a paired {design.describe(n)}; opposite "
                     "settings Holm-corrected", "every", float(min(better.max(), worse.min())), None,
                     weakest.power(weakest.mean),
                     design=design,
                     again=partial(every, settings, design=design, higher_is_better=higher_is_better, label=label))


def some(settings: Mapping[str, tuple[Any, Any]], *, design: Resampling, higher_is_better: bool = True,
         label: str = "A - B") -> Judgement:
    """"A beats B for at least one setting": Holm over the settings' paired tests; holds when one survives. Does not
    hold when every setting shows B significantly better (intersection-union of the opposite); else inconclusive."""
    runs = _settings(settings, design, higher_is_better)
    better = holm([min(1.0, 2 * r.p_above(0.0)) for r in runs.values()])
    worse = np.array([min(1.0, 2 * r.p_below(0.0)) for r in runs.values()])
    n_hold, n_opposite = int((better < ALPHA).sum()), int((worse < ALPHA).sum())
    verdict = "holds" if n_hold else "does not hold" if n_opposite == len(runs) else "inconclusive"
    best = list(runs.values())[int(np.argmin(better))]
    n = min(r.n for r in runs.values())
    return Judgement(verdict, f"{n_hold} of {len(runs)} settings hold after Holm, {n_opposite} significantly "
                              f"opposite ({_per_setting(runs, higher_is_better, label)})",
                     f"Holm over {len(runs)} settings, each a paired {design.describe(n)}", "some",
                     float(min(better.min(), worse.max())), None, best.power(best.mean),
                     design=design,
                     again=partial(some, settings, design=design, higher_is_better=higher_is_better, label=label))


def _check_bound(bound: Any, name: str, positive: bool = False) -> Bound:
    if not isinstance(bound, Bound):
        raise ConfigError(f"{name} must be a Bound(value, reason): every margin and threshold says why, "
                          f"got {bound!r}")
    if positive:
        check_number(name, bound.value, 0.0, low_open=True)
    return bound


def threshold(values: Any, *, design: Resampling, above: Bound | None = None, below: Bound | None = None,
              label: str = "value") -> Judgement:
    """"The statistic exceeds `above`" (or stays under `below`): holds when the 95% corrected interval over runs
    clears the threshold, does not hold when it lies entirely on the wrong side, else inconclusive."""
    if (above is None) == (below is None):
        raise ConfigError("give exactly one of above= or below=")
    bound = _check_bound(above if above is not None else below, "threshold")
    runs = _runs(values, design)
    low, high = runs.interval()
    if above is not None:
        verdict, side = _three_way(low, high, bound.value), f"> {bound.value:g}"
    else:
        verdict, side = _three_way(-high, -low, -bound.value), f"< {bound.value:g}"
    measured = f"{label} = {runs.mean:.4g} (95% CI [{low:.4g}, {high:.4g}], {runs.n} runs); claim {side}"
    return Judgement(verdict, measured, f"{design.describe(runs.n)} against the threshold {side}", "threshold",
                     runs.two_sided(bound.value), bound, runs.power(runs.mean - bound.value),
                     design=design,
                     again=partial(threshold, values, design=design, above=above, below=below, label=label))


def all_of(flags: Any, *, label: str = "seeds") -> Judgement:
    """"In every seed": holds when every flag is true; one false flag is enough for it not to hold (a count)."""
    f = np.asarray(flags, dtype=bool)
    verdict = "holds" if f.all() else "does not hold"
    return Judgement(verdict, f"{int(f.sum())} of {f.size} {label}", f"count over {f.size} {label}", "count")


# ---------------------------------------------------------------------------------------------------- power


def power(effect: float, sd: float, runs: int, ratio: float = 0.0) -> float:
    """Power of the two-sided 95% corrected t-test over `runs` runs to detect a true `effect`, when per-run values
    spread with `sd` and the design's n_test/n_train is `ratio` (the noncentral t)."""
    runs = check_int("runs", runs, 2)
    if sd <= 0:
        return 1.0 if effect != 0 else ALPHA
    df = runs - 1
    nc = abs(effect) / (sd * np.sqrt(1.0 / runs + ratio))
    crit = scipy.stats.t.ppf(1 - ALPHA / 2, df)
    value = float(scipy.stats.nct.sf(crit, df, nc) + scipy.stats.nct.cdf(-crit, df, nc))
    return value if np.isfinite(value) else 1.0  # scipy's noncentral t gives nan far in the tail, where power is 1


def detectable(sd: float, runs: int, ratio: float = 0.0) -> float:
    """The smallest true difference the test detects with 80% power at `runs` runs (the minimum detectable
    difference)."""
    if sd <= 0:
        return 0.0
    hi = sd
    while power(hi, sd, runs, ratio) < POWER:
        hi *= 2
    return float(scipy.optimize.brentq(lambda e: power(e, sd, runs, ratio) - POWER, 0.0, hi, xtol=sd * 1e-6))


def runs_needed(effect: float, sd: float, ratio: float = 0.0, limit: int = MAX_RUNS) -> int | None:
    """The fewest runs at which the observed `effect` would be detected with 80% power; None when no number up to
    `limit` does (with overlapping splits the standard error never falls below sd sqrt(ratio))."""
    if effect == 0:
        return None
    if sd <= 0:
        return 2
    if power(effect, sd, limit, ratio) < POWER:
        return None
    lo, hi = 2, limit
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power(effect, sd, mid, ratio) >= POWER else (mid + 1, hi)
    return lo


# ---------------------------------------------------------------------------------------------------- claims


def _robustness(verdict: str, alternatives: Sequence[str]) -> str:
    """robust: every alternative agrees; reversed: one is decisive the other way; fragile: one differs otherwise."""
    if not alternatives:
        return "no alternative"
    opposite = {"holds": "does not hold", "does not hold": "holds"}.get(verdict)
    if opposite and opposite in alternatives:
        return "reversed"
    return "robust" if all(v == verdict for v in alternatives) else "fragile"


def _standard_alternatives(main: Judgement) -> dict[str, Judgement]:
    """What every claim is re-judged under: the plain t (when its runs overlap) and half and double its margin."""
    if main.again is None:
        return {}
    out = {}
    if main.design is not None and main.design.kind != "independent":
        out[UNCORRECTED] = main.again(design=INDEPENDENT)
    if main.kind in ("non-inferiority", "equivalence") and main.bound is not None:
        out[f"margin halved ({main.bound.value / 2:.3g})"] = main.again(margin=main.bound.scaled(0.5))
        out[f"margin doubled ({main.bound.value * 2:.3g})"] = main.again(margin=main.bound.scaled(2.0))
    return out


def claim(id: str, statement: str, paper_value: Any, main: Judgement,
          sensitivity: Mapping[str, Judgement] | None = None, no_alternative: str | None = None, *,
          source: Any) -> Claim:
    """A claim judged by `main` and re-judged under each alternative protocol choice in `sensitivity`
    ({choice: judgement}) and under the standard alternatives (the uncorrected t; half and double the margin);
    when no alternative exists, `no_alternative` says why. `source`: where the claim comes from, ``BOOK`` or
    ``cite(paper, locator, quotation)``."""
    sensitivity = {**dict(sensitivity or {}), **_standard_alternatives(main)}
    measured = main.measured
    if not sensitivity:
        if not no_alternative:
            raise ConfigError(f"claim {id!r}: give a sensitivity list or no_alternative='<reason>'")
        measured = f"{measured} (no alternative: {no_alternative})"
    entries = [{"choice": choice, "measured": j.measured, "verdict": j.verdict} for choice, j in sensitivity.items()]
    bound = None if main.bound is None else {"value": float(main.bound.value), "reason": main.bound.reason}
    return Claim(id, statement, paper_value, measured, main.verdict, main.test, entries, kind=main.kind,
                 p_value=None if main.p_value is None else float(main.p_value),
                 robustness=_robustness(main.verdict, [e["verdict"] for e in entries]),
                 margin=bound if BOUNDED.get(main.kind) == "margin" else None,
                 threshold=bound if BOUNDED.get(main.kind) == "threshold" else None,
                 power=main.power if main.verdict == "inconclusive" else None, source=source)


def robustness(c: Claim | Mapping[str, Any]) -> str:
    """"robust" when every alternative agrees with the main verdict, "reversed" when one is significant in the
    opposite direction, "fragile" when one differs otherwise, "no alternative" when there is none."""
    data = c.as_dict() if isinstance(c, Claim) else dict(c)
    return _robustness(data["verdict"], [s["verdict"] for s in data["sensitivity"]])


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """One row per claim: statement, paper value, verdict, p-value, robustness, what was measured, the test, and
    the verdicts of the alternatives."""
    rows = []
    for c in claims:
        rows.append({"id": c.id, "statement": c.statement, "paper": c.paper_value, "verdict": c.verdict,
                     "p": "-" if c.p_value is None else f"{c.p_value:.2g}", "robustness": robustness(c),
                     "measured": c.measured, "test": c.test,
                     "alternatives": "; ".join(f"{s['choice']}: {s['verdict']}" for s in c.sensitivity) or "-"})
    return pd.DataFrame(rows).set_index("id")
