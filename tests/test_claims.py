"""The claims module against hand-computed cases: paired t-intervals, the paired bootstrap, non-inferiority,
equivalence, Holm's correction, "for every setting" claims, thresholds, sensitivity and robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from replication.errors import ConfigError, DataError
from replication.experiments import claims as C

T4 = scipy.stats.t.ppf(0.975, 4)  # 2.776...: the t quantile for 5 paired seeds


def test_paired_interval_by_hand():
    a = np.array([0.30, 0.32, 0.31, 0.33, 0.34])
    b = np.array([0.29, 0.30, 0.30, 0.31, 0.31])  # differences 0.01, 0.02, 0.01, 0.02, 0.03
    d = a - b
    half = T4 * d.std(ddof=1) / np.sqrt(5)
    j = C.paired(a, b)
    assert j.verdict == "holds"
    assert f"{d.mean():+.4f}" in j.measured and f"{d.mean() - half:+.4f}" in j.measured
    assert C.paired(b, a).verdict == "does not hold"
    assert "5 seeds" in j.test


def test_paired_is_not_the_unpaired_overlap_rule():
    """Large split-to-split spread shared by both models: unpaired CIs overlap, the paired difference is clear."""
    base = np.array([0.20, 0.30, 0.25, 0.35, 0.22])
    a, b = base + 0.01 + np.array([0, 0.001, -0.001, 0.0005, 0]), base
    mean_a, half_a = a.mean(), T4 * a.std(ddof=1) / np.sqrt(5)
    mean_b, half_b = b.mean(), T4 * b.std(ddof=1) / np.sqrt(5)
    assert mean_a - half_a < mean_b + half_b  # the intervals overlap
    assert C.paired(a, b).verdict == "holds"


def test_lower_is_better_flips_the_direction_but_reports_a_minus_b():
    a, b = np.array([0.90, 0.91, 0.92]), np.array([0.95, 0.96, 0.97])
    j = C.paired(a, b, higher_is_better=False, label="E - A")
    assert j.verdict == "holds"
    assert "E - A = -0.0500" in j.measured


def test_inconclusive_when_the_interval_straddles_zero():
    assert C.paired([1.0, 2.0, 3.0], [2.0, 1.0, 3.0]).verdict == "inconclusive"


def test_paired_needs_two_aligned_runs():
    with pytest.raises(DataError):
        C.paired([1.0], [2.0])
    with pytest.raises(DataError):
        C.paired([1.0, 2.0], [1.0, 2.0, 3.0])


def test_noninferiority_margins():
    b = np.array([0.50, 0.52, 0.51, 0.53, 0.50])
    slightly_worse = b - np.array([0.004, 0.006, 0.005, 0.004, 0.006])  # mean -0.005, tight
    assert C.noninferior(slightly_worse, b, margin=0.01).verdict == "holds"
    assert C.noninferior(slightly_worse, b, margin=0.001).verdict == "does not hold"
    noisy = b + np.array([0.02, -0.03, 0.01, -0.02, 0.0])
    assert C.noninferior(noisy, b, margin=0.01).verdict == "inconclusive"
    # lower is better (RMSE): a slightly higher error is within a 0.01 margin
    assert C.noninferior(b + 0.005 + np.array([0, 1e-4, 0, -1e-4, 0]), b, margin=0.01,
                         higher_is_better=False).verdict == "holds"


def test_equivalence():
    b = np.array([0.40, 0.41, 0.42, 0.43, 0.44])
    assert C.equivalent(b + np.array([0.001, -0.001, 0.0, 0.002, -0.002]), b, margin=0.01).verdict == "holds"
    assert C.equivalent(b + 0.05 + np.array([0.001, -0.001, 0.0, 0.002, -0.002]), b,
                        margin=0.01).verdict == "does not hold"
    assert C.equivalent(b + np.array([0.03, -0.03, 0.02, -0.02, 0.0]), b, margin=0.01).verdict == "inconclusive"


def test_holm_by_hand():
    # p sorted: 0.01, 0.02, 0.04 -> 3*0.01 = 0.03, 2*0.02 = 0.04, 1*0.04 = 0.04 (monotone)
    np.testing.assert_allclose(C.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(C.holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(C.holm([0.03, 0.001]), [0.03, 0.002])


def test_every_setting_with_holm():
    rng = np.random.default_rng(0)
    b = rng.random(5)
    clear = {f"n={n}": (b + 0.1 + 0.001 * rng.standard_normal(5), b) for n in (5, 10, 20)}
    j = C.every(clear)
    assert j.verdict == "holds" and j.measured.startswith("3 of 3 settings hold")
    mixed = dict(clear) | {"n=50": (b + 0.001 * rng.standard_normal(5), b)}
    j = C.every(mixed)
    assert j.verdict == "inconclusive" and j.measured.startswith("3 of 4 settings hold")
    opposite = dict(clear) | {"n=50": (b - 0.1 + 0.001 * rng.standard_normal(5), b)}
    assert C.every(opposite).verdict == "does not hold"
    assert "Holm" in j.test


def test_every_uses_the_correction():
    """Each setting alone significant at 0.05 one-sided (p ~ 0.03), but not after Holm over 4 settings."""
    d = np.array([0.5, 1.5, 0.2, 1.8, 0.9])  # t = 2.65 -> one-sided p ~ 0.028
    p = scipy.stats.ttest_1samp(d, 0.0, alternative="greater").pvalue
    assert 0.01 < p < 0.05
    settings = {str(i): (d, np.zeros(5)) for i in range(4)}
    assert C.every(settings).verdict == "inconclusive"
    assert C.every({"one": (d, np.zeros(5))}).verdict == "holds"


def test_bootstrap_is_paired_and_seeded():
    rng = np.random.default_rng(1)
    base = rng.random(400)
    a = base + 0.02 + 0.01 * rng.standard_normal(400)
    j1, j2 = C.bootstrap(a, base, seed=3), C.bootstrap(a, base, seed=3)
    assert j1 == j2 and j1.verdict == "holds"
    assert C.bootstrap(base, a).verdict == "does not hold"
    assert C.bootstrap(base + 0.01 * rng.standard_normal(400), base).verdict == "inconclusive"
    with_nan = a.copy()
    with_nan[:10] = np.nan
    assert "390 users" in C.bootstrap(with_nan, base).test


def test_threshold_and_all_of():
    assert C.threshold([0.3, 0.31, 0.32], above=0.25).verdict == "holds"
    assert C.threshold([0.1, 0.11, 0.12], above=0.25).verdict == "does not hold"
    assert C.threshold([0.1, 0.4, 0.25], above=0.25).verdict == "inconclusive"
    assert C.threshold([0.1, 0.11], below=0.25).verdict == "holds"
    with pytest.raises(ConfigError):
        C.threshold([0.1, 0.2])
    assert C.all_of([True, True]).verdict == "holds"
    assert C.all_of([True, False]).verdict == "does not hold"


def test_claim_needs_sensitivity_or_a_reason():
    main = C.paired([1.0, 2.0, 3.0], [0.0, 1.0, 2.5])
    with pytest.raises(ConfigError):
        C.claim("x", "A beats B", "yes", main)
    c = C.claim("x", "A beats B", "yes", main, no_alternative="a count")
    assert "no alternative: a count" in c.measured and C.robustness(c) == "no alternative"
    alt = C.paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.5])
    c = C.claim("x", "A beats B", "yes", main, sensitivity={"budget 40": main, "candidates: test items": alt})
    assert [s["choice"] for s in c.sensitivity] == ["budget 40", "candidates: test items"]
    assert C.robustness(c) == "fragile"
    assert C.robustness(C.claim("y", "s", None, main, sensitivity={"b": main})) == "robust"
    table = C.claims_table([c])
    assert table.loc["x", "robustness"] == "fragile" and "budget 40: holds" in table.loc["x", "alternatives"]


def test_invalid_verdicts_are_rejected():
    with pytest.raises(ConfigError):
        C.Judgement("maybe", "", "")
    with pytest.raises(ConfigError):
        C.Claim("x", "s", None, "m", "holds", "t", [{"choice": "c", "verdict": "maybe", "measured": ""}])


def test_summarise_and_pair_on_a_tidy_frame():
    frame = pd.DataFrame({"model": ["A"] * 3 + ["B"] * 3, "seed": [0, 1, 2, 2, 1, 0], "metric": "ndcg",
                          "value": [1.0, 2.0, 3.0, 2.5, 1.5, 0.5]})
    a, b = C.pair(frame, {"model": "A"}, {"model": "B"}, "ndcg")
    np.testing.assert_array_equal(a - b, [0.5, 0.5, 0.5])  # aligned on the seed, not on row order
    table = C.summarise(frame, "model").set_index("model")
    assert table.loc["A", "mean"] == 2.0 and table.loc["A", "n"] == 3
    assert table.loc["A", "ci"] == pytest.approx(scipy.stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3))
    with pytest.raises(DataError):
        C.pair(pd.concat([frame, frame]), {"model": "A"}, {"model": "B"}, "ndcg")
