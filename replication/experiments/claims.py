"""Claims and their verdicts: what a paper states, what we measured, and a verdict computed by a stated test.

One convention for intervals (:func:`summarise`: mean and the half-width of the 95% Student-t interval over seeds)
and one set of tests, each returning a :class:`Judgement` (verdict, what was measured, which test):

* :func:`paired` -- "A is better than B" on the same splits: the per-seed paired difference with a t-interval;
* :func:`bootstrap` -- the same on a single split: a per-user paired bootstrap interval;
* :func:`noninferior` -- "A is at least as good as B": the interval of A - B must clear -margin;
* :func:`equivalent` -- "A matches B": the interval of A - B must lie inside +-margin;
* :func:`every` -- "A beats B for every setting": one-sided paired t-tests with Holm's correction, "x of y hold";
* :func:`threshold` -- "the statistic exceeds t" (or stays below): the interval must clear t;
* :func:`all_of` -- "in every seed": a count.

A :class:`Claim` carries the main judgement and a **sensitivity** list: the same claim re-judged under each
alternative protocol choice a careful replicator could make. :func:`robustness` says whether they agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from ..checks import check_number
from ..errors import ConfigError, DataError
from ..metrics import mean_ci

__all__ = ["VERDICTS", "Judgement", "Claim", "summarise", "pair", "paired", "bootstrap", "noninferior",
           "equivalent", "every", "threshold", "all_of", "holm", "claim", "robustness", "claims_table"]

VERDICTS = ("holds", "does not hold", "inconclusive")
CONFIDENCE = 0.95


@dataclass
class Judgement:
    """The outcome of one test: a verdict, a readable account of what was measured, and the test's name."""

    verdict: str
    measured: str
    test: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ConfigError(f"verdict {self.verdict!r} not in {VERDICTS}")


@dataclass
class Claim:
    """A paper's claim with its main verdict and its sensitivity list: [{choice, measured, verdict}]."""

    id: str
    statement: str
    paper_value: Any
    measured: str
    verdict: str
    test: str
    sensitivity: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ConfigError(f"claim {self.id!r}: verdict {self.verdict!r} not in {VERDICTS}")
        for alt in self.sensitivity:
            if set(alt) != {"choice", "measured", "verdict"} or alt["verdict"] not in VERDICTS:
                raise ConfigError(f"claim {self.id!r}: a sensitivity entry must be {{choice, measured, verdict}} "
                                  f"with a verdict in {VERDICTS}, got {alt}")
        if not self.sensitivity and "no alternative:" not in self.measured:
            raise ConfigError(f"claim {self.id!r} has no sensitivity list; say why with 'no alternative: <reason>'")

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


def pair(frame: pd.DataFrame, a: Mapping[str, Any], b: Mapping[str, Any], metric: str,
         on: str = "seed") -> tuple[np.ndarray, np.ndarray]:
    """The values of `metric` for the rows matching `a` and those matching `b` (column -> value), aligned on
    `on` (the seed: same split, same initialisation), from a tidy frame of records."""
    def select(where: Mapping[str, Any]) -> pd.Series:
        rows = frame[frame["metric"] == metric]
        for column, wanted in where.items():
            rows = rows[rows[column] == wanted]
        if rows[on].duplicated().any():
            raise DataError(f"more than one {metric} value per {on} for {dict(where)}: add a selecting column")
        return rows.set_index(on)["value"]

    left, right = select(a), select(b)
    common = left.index.intersection(right.index).sort_values()
    if len(common) == 0:
        raise DataError(f"no common {on} between {dict(a)} and {dict(b)} for metric {metric}")
    return left.loc[common].to_numpy(float), right.loc[common].to_numpy(float)


def _interval(diff: np.ndarray) -> tuple[float, float, float]:
    mean, half = mean_ci(diff, CONFIDENCE)
    return mean, mean - half, mean + half


def _signed(a: Any, b: Any, higher_is_better: bool) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise DataError(f"a paired test needs two equal-length 1-D arrays of >= 2 runs, got {a.shape} and {b.shape}")
    return a - b if higher_is_better else b - a


def _fmt(x: float) -> str:
    return f"{x:+.4f}" if abs(x) >= 1e-3 or x == 0 else f"{x:+.2e}"


def _account(label: str, mean: float, low: float, high: float, n: int, unit: str = "paired seeds") -> str:
    return f"{label} = {_fmt(mean)} (95% CI [{_fmt(low)}, {_fmt(high)}], {n} {unit})"


def paired(a: Any, b: Any, *, higher_is_better: bool = True, label: str = "A - B") -> Judgement:
    """"A is better than B": holds when the 95% t-interval of the per-seed difference lies on A's side of 0, does
    not hold when it lies on B's side, else inconclusive. `label` names the difference in the account (it is
    always reported as a - b)."""
    diff = _signed(a, b, higher_is_better)
    mean, low, high = _interval(diff)
    verdict = "holds" if low > 0 else "does not hold" if high < 0 else "inconclusive"
    raw = (mean, low, high) if higher_is_better else (-mean, -high, -low)
    return Judgement(verdict, _account(label, *raw, diff.size),
                     f"paired t-interval over {diff.size} seeds ({'higher' if higher_is_better else 'lower'} "
                     "is better)")


def bootstrap(a: Any, b: Any, *, higher_is_better: bool = True, n_boot: int = 2000, seed: int = 0,
              label: str = "A - B") -> Judgement:
    """"A is better than B" on one split: a paired bootstrap over users (resampling users, 95% percentile interval
    of the mean per-user difference). Users with a missing value in either array are dropped."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    diff = _signed(a[keep], b[keep], higher_is_better)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n_boot, diff.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    mean = float(diff.mean())
    verdict = "holds" if low > 0 else "does not hold" if high < 0 else "inconclusive"
    raw = (mean, low, high) if higher_is_better else (-mean, -high, -low)
    return Judgement(verdict, _account(label, *raw, diff.size, "users"),
                     f"paired bootstrap over {diff.size} users, {n_boot} resamples")


def noninferior(a: Any, b: Any, *, margin: float, higher_is_better: bool = True,
                label: str = "A - B") -> Judgement:
    """"A is at least as good as B" within `margin`: holds when the 95% interval of the paired difference (in the
    better direction) lies above -margin, does not hold when it lies entirely below -margin, else inconclusive."""
    margin = check_number("margin", margin, 0.0)
    diff = _signed(a, b, higher_is_better)
    mean, low, high = _interval(diff)
    verdict = "holds" if low > -margin else "does not hold" if high < -margin else "inconclusive"
    raw = (mean, low, high) if higher_is_better else (-mean, -high, -low)
    return Judgement(verdict, _account(label, *raw, diff.size) + f"; margin {margin:g}",
                     f"non-inferiority, paired t-interval over {diff.size} seeds, margin {margin:g}")


def equivalent(a: Any, b: Any, *, margin: float, label: str = "A - B") -> Judgement:
    """"A matches B" within `margin`: holds when the 95% interval of the paired difference lies inside
    [-margin, margin], does not hold when it lies entirely outside, else inconclusive."""
    margin = check_number("margin", margin, 0.0)
    diff = _signed(a, b, True)
    mean, low, high = _interval(diff)
    verdict = "holds" if -margin < low and high < margin else \
        "does not hold" if low > margin or high < -margin else "inconclusive"
    return Judgement(verdict, _account(label, mean, low, high, diff.size) + f"; margin +-{margin:g}",
                     f"equivalence, paired t-interval over {diff.size} seeds, margin +-{margin:g}")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _one_sided_p(diff: np.ndarray) -> float:
    """p-value of a one-sided paired t-test of H0: mean <= 0 against H1: mean > 0."""
    sd = diff.std(ddof=1)
    if sd == 0:
        return 0.0 if diff.mean() > 0 else 1.0 if diff.mean() < 0 else 0.5
    t = diff.mean() / (sd / np.sqrt(diff.size))
    return float(scipy.stats.t.sf(t, diff.size - 1))


def every(settings: Mapping[str, tuple[Any, Any]], *, higher_is_better: bool = True, alpha: float = 0.05,
          label: str = "A - B") -> Judgement:
    """"A beats B for every setting": a one-sided paired t-test per setting, Holm-corrected over the settings.
    Holds when every setting rejects at level alpha; does not hold when some setting shows B significantly better
    (Holm over the opposite one-sided tests); else inconclusive. The account says how many settings hold."""
    if not settings:
        raise ConfigError("every() needs at least one setting")
    diffs = {name: _signed(a, b, higher_is_better) for name, (a, b) in settings.items()}
    better = holm([_one_sided_p(d) for d in diffs.values()])
    worse = holm([_one_sided_p(-d) for d in diffs.values()])
    n_hold, n_opposite = int((better < alpha).sum()), int((worse < alpha).sum())
    verdict = "holds" if n_hold == len(diffs) else "does not hold" if n_opposite else "inconclusive"
    sign = 1.0 if higher_is_better else -1.0
    parts = [f"{name}: {_fmt(sign * d.mean())}" for name, d in diffs.items()]
    measured = (f"{n_hold} of {len(diffs)} settings hold, {n_opposite} significantly opposite "
                f"(mean {label} per setting: " + "; ".join(parts) + ")")
    n = min(d.size for d in diffs.values())
    return Judgement(verdict, measured, f"one-sided paired t-tests over {n} seeds per setting, Holm-corrected "
                                        f"over {len(diffs)} settings at alpha {alpha:g}")


def threshold(values: Any, *, above: float | None = None, below: float | None = None,
              label: str = "value") -> Judgement:
    """"The statistic exceeds `above`" (or stays under `below`): holds when the 95% interval over seeds clears
    the threshold, does not hold when it lies entirely on the wrong side, else inconclusive."""
    if (above is None) == (below is None):
        raise ConfigError("give exactly one of above= or below=")
    v = np.asarray(values, dtype=float)
    mean, half = mean_ci(v)
    low, high = mean - half, mean + half
    if above is not None:
        verdict = "holds" if low > above else "does not hold" if high < above else "inconclusive"
        side = f"> {above:g}"
    else:
        verdict = "holds" if high < below else "does not hold" if low > below else "inconclusive"
        side = f"< {below:g}"
    measured = f"{label} = {mean:.4g} (95% CI [{low:.4g}, {high:.4g}], {v.size} seeds); claim {side}"
    return Judgement(verdict, measured, f"95% t-interval over {v.size} seeds against the threshold {side}")


def all_of(flags: Any, *, label: str = "seeds") -> Judgement:
    """"In every seed": holds when every flag is true; one false flag is enough for it not to hold."""
    f = np.asarray(flags, dtype=bool)
    verdict = "holds" if f.all() else "does not hold"
    return Judgement(verdict, f"{int(f.sum())} of {f.size} {label}", f"count over {f.size} {label}")


# ---------------------------------------------------------------------------------------------------- claims


def claim(id: str, statement: str, paper_value: Any, main: Judgement,
          sensitivity: Mapping[str, Judgement] | None = None, no_alternative: str | None = None) -> Claim:
    """A claim judged by `main` and re-judged under each alternative protocol choice in `sensitivity`
    ({choice: judgement}); when no alternative exists, `no_alternative` says why."""
    sensitivity = dict(sensitivity or {})
    measured = main.measured
    if not sensitivity:
        if not no_alternative:
            raise ConfigError(f"claim {id!r}: give a sensitivity list or no_alternative='<reason>'")
        measured = f"{measured} (no alternative: {no_alternative})"
    return Claim(id, statement, paper_value, measured, main.verdict, main.test,
                 [{"choice": choice, "measured": j.measured, "verdict": j.verdict} for choice, j in sensitivity.items()])


def robustness(c: Claim | Mapping[str, Any]) -> str:
    """"robust" when every alternative agrees with the main verdict, "fragile" when one differs, "no alternative"
    when there is none."""
    data = c.as_dict() if isinstance(c, Claim) else dict(c)
    if not data["sensitivity"]:
        return "no alternative"
    return "robust" if all(s["verdict"] == data["verdict"] for s in data["sensitivity"]) else "fragile"


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """One row per claim: statement, paper value, verdict, robustness, what was measured, the test, and the
    verdicts of the alternatives."""
    rows = []
    for c in claims:
        rows.append({"id": c.id, "statement": c.statement, "paper": c.paper_value, "verdict": c.verdict,
                     "robustness": robustness(c), "measured": c.measured, "test": c.test,
                     "alternatives": "; ".join(f"{s['choice']}: {s['verdict']}" for s in c.sensitivity) or "-"})
    return pd.DataFrame(rows).set_index("id")
