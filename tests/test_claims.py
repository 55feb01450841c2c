"""The claims module against hand-computed cases: the corrected resampled t (random re-splits and repeated k-fold)
against its formula, the paired bootstrap, non-inferiority and equivalence with their margins' reasons, the
intersection-union "for every" against Holm's "for some", Benjamini-Hochberg q-values, thresholds, power and the runs
needed against a simulation, sensitivity and the three outcomes of robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from replication.errors import ConfigError, DataError
from replication.experiments import claims as C

T4 = scipy.stats.t.ppf(0.975, 4)  # 2.776...: the t quantile for 5 paired runs
PLAIN = C.INDEPENDENT
SPLITS = C.Resampling.random_splits(80_000, 10_000, "ratings")  # ratio 1/8, E-AutoRec's 80/10 split
MARGIN = C.Bound(0.01, "a tenth of a reference gap measured in the chapter")
AT_25 = C.Bound(0.25, "Kaufman and Rousseeuw's lower bound of a weak structure")


def test_plain_paired_interval_by_hand():
    a = np.array([0.30, 0.32, 0.31, 0.33, 0.34])
    b = np.array([0.29, 0.30, 0.30, 0.31, 0.31])  # differences 0.01, 0.02, 0.01, 0.02, 0.03
    d = a - b
    half = T4 * d.std(ddof=1) / np.sqrt(5)
    j = C.paired(a, b, design=PLAIN)
    assert j.verdict == "holds" and j.kind == "paired"
    assert f"{d.mean():+.4f}" in j.measured and f"{d.mean() - half:+.4f}" in j.measured
    assert j.p_value == pytest.approx(scipy.stats.ttest_1samp(d, 0.0).pvalue)
    assert C.paired(b, a, design=PLAIN).verdict == "does not hold"
    assert "5 runs" in j.test


def test_corrected_resampled_t_by_hand_flips_the_e_autorec_rmse_verdict():
    """The issue's case: E-AutoRec - AutoRec RMSE over 5 re-splits of an 80/10 split. Plain: holds; corrected
    (variance x (1/5 + 10/80)): inconclusive, with the interval of the formula."""
    d = np.array([-0.00076, -0.00264, -0.00081, -0.00078, -0.00094])
    e, a = np.full(5, 0.9) + d, np.full(5, 0.9)
    plain = C.paired(e, a, design=PLAIN, higher_is_better=False, label="E - A")
    corrected = C.paired(e, a, design=SPLITS, higher_is_better=False, label="E - A")
    half = T4 * d.std(ddof=1) * np.sqrt(1 / 5 + 10_000 / 80_000)
    assert plain.verdict == "holds" and corrected.verdict == "inconclusive"
    assert f"[{C._fmt(d.mean() - half)}, {C._fmt(d.mean() + half)}]" in corrected.measured
    assert d.mean() - half == pytest.approx(-0.00248, abs=1e-5) and d.mean() + half == pytest.approx(1.05e-4, abs=1e-6)
    t = d.mean() / (d.std(ddof=1) * np.sqrt(1 / 5 + 1 / 8))
    assert corrected.p_value == pytest.approx(2 * scipy.stats.t.sf(abs(t), 4))
    assert "corrected resampled t" in corrected.test and "10,000/80,000" in corrected.test


def test_repeated_kfold_correction_is_bouckaert_and_frank():
    """Values per fold of 2 repetitions x 5 folds: variance x (1/(k r) + n_test/n_train), df = k r - 1."""
    rng = np.random.default_rng(3)
    d = 0.01 + 0.01 * rng.standard_normal(10)
    design = C.Resampling.repeated_kfold(750, 188, "users")
    j = C.paired(d, np.zeros(10), design=design)
    se = d.std(ddof=1) * np.sqrt(1 / 10 + 188 / 750)
    t = d.mean() / se
    assert j.p_value == pytest.approx(2 * scipy.stats.t.sf(abs(t), 9))
    assert "corrected repeated k-fold t" in j.test
    half = scipy.stats.t.ppf(0.975, 9) * se
    assert f"{d.mean() + half:+.4f}" in j.measured


def test_the_correction_covers_and_the_plain_interval_does_not():
    """Runs correlated as overlapping re-splits are (a shared component of variance rho / (1 - rho) = ratio):
    the corrected 95% interval covers the true mean ~95% of the time, the plain one far less often."""
    rng = np.random.default_rng(0)
    ratio, runs, trials = 0.25, 5, 4000
    rho = ratio / (1 + ratio)
    shared = np.sqrt(rho) * rng.standard_normal((trials, 1))
    d = 0.3 + shared + np.sqrt(1 - rho) * rng.standard_normal((trials, runs))
    design = C.Resampling.random_splits(100, 25, "ratings")
    covered = {"plain": 0, "corrected": 0}
    for row in d:
        for name, dz in (("plain", PLAIN), ("corrected", design)):
            low, high = C._runs(row, dz).interval()
            covered[name] += low < 0.3 < high
    assert 0.93 < covered["corrected"] / trials < 0.97
    assert covered["plain"] / trials < 0.88


def test_lower_is_better_flips_the_direction_but_reports_a_minus_b():
    a, b = np.array([0.90, 0.91, 0.92]), np.array([0.95, 0.96, 0.97])
    j = C.paired(a, b, design=PLAIN, higher_is_better=False, label="E - A")
    assert j.verdict == "holds"
    assert "E - A = -0.0500" in j.measured


def test_inconclusive_when_the_interval_straddles_zero():
    j = C.paired([1.0, 2.0, 3.0], [2.0, 1.0, 3.0], design=PLAIN)
    assert j.verdict == "inconclusive" and j.p_value > 0.05


def test_tests_need_a_design_and_aligned_runs():
    with pytest.raises(ConfigError):
        C.paired([1.0, 2.0], [0.0, 0.5], design=None)
    with pytest.raises(DataError):
        C.paired([1.0], [2.0], design=PLAIN)
    with pytest.raises(DataError):
        C.paired([1.0, 2.0], [1.0, 2.0, 3.0], design=PLAIN)
    with pytest.raises(ConfigError):
        C.Resampling.random_splits(0, 10, "ratings")


def test_noninferiority_margins_need_a_reason():
    b = np.array([0.50, 0.52, 0.51, 0.53, 0.50])
    slightly_worse = b - np.array([0.004, 0.006, 0.005, 0.004, 0.006])  # mean -0.005, tight
    j = C.noninferior(slightly_worse, b, margin=MARGIN, design=PLAIN)
    assert j.verdict == "holds" and j.bound == MARGIN and j.kind == "non-inferiority"
    tight = C.Bound(0.001, "a deliberately tiny margin for the test")
    assert C.noninferior(slightly_worse, b, margin=tight, design=PLAIN).verdict == "does not hold"
    noisy = b + np.array([0.02, -0.03, 0.01, -0.02, 0.0])
    assert C.noninferior(noisy, b, margin=MARGIN, design=PLAIN).verdict == "inconclusive"
    # lower is better (RMSE): a slightly higher error is within a 0.01 margin
    assert C.noninferior(b + 0.005 + np.array([0, 1e-4, 0, -1e-4, 0]), b, margin=MARGIN, design=PLAIN,
                         higher_is_better=False).verdict == "holds"
    with pytest.raises(ConfigError):
        C.noninferior(slightly_worse, b, margin=0.01, design=PLAIN)  # a bare number: no reason
    with pytest.raises(ConfigError):
        C.Bound(0.01, "")


def test_a_margin_below_the_run_to_run_noise_is_said():
    b = np.array([0.50, 0.60, 0.40, 0.55, 0.45])  # SD ~0.08 > margin 0.01
    j = C.noninferior(b + 0.001, b, margin=MARGIN, design=PLAIN)
    assert "below the metric's run-to-run SD" in j.measured


def test_relative_margin_states_its_share():
    m = C.relative_margin([0.40, 0.44], 0.02, "Mult-VAE's nDCG@100")
    assert m.value == pytest.approx(0.0084) and "2% of Mult-VAE's nDCG@100" in m.reason


def test_equivalence_and_its_p_value():
    b = np.array([0.40, 0.41, 0.42, 0.43, 0.44])
    inside = C.equivalent(b + np.array([0.001, -0.001, 0.0, 0.002, -0.002]), b, margin=MARGIN, design=PLAIN)
    assert inside.verdict == "holds" and inside.p_value < 0.05
    d = np.array([0.001, -0.001, 0.0, 0.002, -0.002])
    se = d.std(ddof=1) / np.sqrt(5)
    tost = max(scipy.stats.t.sf((d.mean() + 0.01) / se, 4), scipy.stats.t.cdf((d.mean() - 0.01) / se, 4))
    assert inside.p_value == pytest.approx(2 * tost)
    assert C.equivalent(b + 0.05 + d, b, margin=MARGIN, design=PLAIN).verdict == "does not hold"
    wide = C.equivalent(b + np.array([0.03, -0.03, 0.02, -0.02, 0.0]), b, margin=MARGIN, design=PLAIN)
    assert wide.verdict == "inconclusive" and wide.p_value >= 0.05


def test_holm_by_hand():
    # p sorted: 0.01, 0.02, 0.04 -> 3*0.01 = 0.03, 2*0.02 = 0.04, 1*0.04 = 0.04 (monotone)
    np.testing.assert_allclose(C.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(C.holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(C.holm([0.03, 0.001]), [0.03, 0.002])


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.5: q = min over j >= i of p_j m / j -> 0.04, 0.04, 0.04, 0.5
    np.testing.assert_allclose(C.benjamini_hochberg([0.03, 0.5, 0.01, 0.02]), [0.04, 0.5, 0.04, 0.04])
    np.testing.assert_allclose(C.benjamini_hochberg([0.01, 0.04]), [0.02, 0.04])


def test_every_is_an_intersection_union_test():
    rng = np.random.default_rng(0)
    b = rng.random(5)
    clear = {f"n={n}": (b + 0.1 + 0.001 * rng.standard_normal(5), b) for n in (5, 10, 20)}
    j = C.every(clear, design=PLAIN)
    assert j.verdict == "holds" and j.measured.startswith("3 of 3 settings hold") and j.kind == "every"
    mixed = dict(clear) | {"n=50": (b + 0.001 * rng.standard_normal(5), b)}
    j = C.every(mixed, design=PLAIN)
    assert j.verdict == "inconclusive" and j.measured.startswith("3 of 4 settings hold")
    opposite = dict(clear) | {"n=50": (b - 0.1 + 0.001 * rng.standard_normal(5), b)}
    assert C.every(opposite, design=PLAIN).verdict == "does not hold"
    assert "intersection-union" in j.test


def test_every_and_some_differ_from_holm_where_they_should():
    """Each setting alone significant (two-sided p ~ 0.03 < 0.05): "for every" holds without a correction, while
    Holm over 4 settings (the old, wrong rule for a conjunction) would not reject; "for some" with Holm over the 4
    settings does not hold either: the corrections answer different questions."""
    d = np.array([0.5, 1.5, 0.2, 1.8, 1.3])
    p = scipy.stats.ttest_1samp(d, 0.0).pvalue
    assert 0.0125 < p < 0.05  # significant alone, not after Holm over 4
    settings = {str(i): (d, np.zeros(5)) for i in range(4)}
    j = C.every(settings, design=PLAIN)
    assert j.verdict == "holds" and j.p_value == pytest.approx(p)
    assert (C.holm([p] * 4) >= 0.05).all()
    assert C.some(settings, design=PLAIN).verdict == "inconclusive"
    one = {"strong": (d + 3.0, np.zeros(5)), **{str(i): (d - d.mean(), np.zeros(5)) for i in range(3)}}
    assert C.some(one, design=PLAIN).verdict == "holds" and C.every(one, design=PLAIN).verdict == "inconclusive"


def test_bootstrap_is_paired_and_seeded():
    rng = np.random.default_rng(1)
    base = rng.random(400)
    a = base + 0.02 + 0.01 * rng.standard_normal(400)
    j1, j2 = C.bootstrap(a, base, seed=3), C.bootstrap(a, base, seed=3)
    assert j1.measured == j2.measured and j1.verdict == "holds" and j1.p_value < 0.05
    assert C.bootstrap(base, a).verdict == "does not hold"
    assert C.bootstrap(base + 0.01 * rng.standard_normal(400), base).verdict == "inconclusive"
    with_nan = a.copy()
    with_nan[:10] = np.nan
    assert "390 users" in C.bootstrap(with_nan, base).test


def test_threshold_and_all_of():
    assert C.threshold([0.3, 0.31, 0.32], above=AT_25, design=PLAIN).verdict == "holds"
    assert C.threshold([0.1, 0.11, 0.12], above=AT_25, design=PLAIN).verdict == "does not hold"
    assert C.threshold([0.1, 0.4, 0.25], above=AT_25, design=PLAIN).verdict == "inconclusive"
    below = C.threshold([0.1, 0.11], below=AT_25, design=PLAIN)
    assert below.verdict == "holds" and below.bound == AT_25
    assert C.threshold([0.26, 0.27, 0.265, 0.262], below=C.Bound(0.255, "just below both values, for the test"),
                       design=PLAIN).verdict == "does not hold"
    with pytest.raises(ConfigError):
        C.threshold([0.1, 0.2], design=PLAIN)
    with pytest.raises(ConfigError):
        C.threshold([0.1, 0.2], above=0.25, design=PLAIN)
    assert C.all_of([True, True]).verdict == "holds" and C.all_of([True, True]).p_value is None
    assert C.all_of([True, False]).verdict == "does not hold"


def test_power_and_runs_needed_against_a_simulation():
    """At the runs `runs_needed` reports, a simulated experiment with the observed effect and spread (runs
    correlated as overlapping re-splits are) detects the effect ~80% of the time, and one run fewer does not."""
    effect, sd, ratio = 0.5, 1.0, 0.01
    n = C.runs_needed(effect, sd, ratio)
    assert n is not None and C.power(effect, sd, n, ratio) >= 0.8 > C.power(effect, sd, n - 1, ratio)
    rng = np.random.default_rng(7)
    rho = ratio / (1 + ratio)
    trials = 4000
    total = np.sqrt(1 / (1 - rho))  # sd of a run, so that the within-run spread (what s estimates) is `sd`
    shared = np.sqrt(rho) * total * rng.standard_normal((trials, 1))
    d = effect + shared + np.sqrt(1 - rho) * total * rng.standard_normal((trials, n))
    design = C.Resampling.random_splits(100, 1, "ratings")
    detected = np.mean([C._runs(row, design).two_sided(0.0) < 0.05 for row in d])
    assert abs(detected - C.power(effect, sd, n, ratio)) < 0.03
    assert C.detectable(sd, n, ratio) <= effect < C.detectable(sd, n - 1, ratio)


def test_more_runs_cannot_resolve_a_difference_below_the_overlap_floor():
    """With overlapping splits the standard error stays above sd sqrt(ratio): a small effect is never resolved."""
    assert C.runs_needed(0.1, 1.0, ratio=0.125) is None
    assert C.runs_needed(0.1, 1.0, ratio=0.0) is not None


def test_claim_records_p_value_margin_and_power():
    rng = np.random.default_rng(2)
    b = 0.4 + 0.01 * rng.standard_normal(5)
    j = C.noninferior(b + 0.02 * rng.standard_normal(5), b, margin=MARGIN, design=SPLITS)
    c = C.claim("x", "A at least as good as B", None, j, {}, source=C.BOOK)
    assert c.margin == {"value": 0.01, "reason": MARGIN.reason} and c.threshold is None
    assert c.p_value == j.p_value and c.q_value is None
    choices = [s["choice"] for s in c.sensitivity]
    assert choices == [C.UNCORRECTED, "margin halved (0.005)", "margin doubled (0.02)"]
    if c.verdict == "inconclusive":
        assert c.power["runs"] == 5 and c.power["mdd"] > 0
    with pytest.raises(ConfigError):  # a non-inferiority record without its margin's reason
        C.Claim(**{**c.as_dict(), "margin": {"value": 0.01, "reason": ""}})
    with pytest.raises(ConfigError):  # a test without a p-value
        C.Claim(**{**c.as_dict(), "p_value": None})


def test_claim_needs_sensitivity_or_a_reason():
    main = C.paired([1.0, 2.0, 3.0], [0.0, 1.0, 2.5], design=PLAIN)
    with pytest.raises(ConfigError):
        C.claim("x", "A beats B", "yes", main, source=C.BOOK)
    c = C.claim("x", "A beats B", "yes", main, no_alternative="a count", source=C.BOOK)
    assert "no alternative: a count" in c.measured and C.robustness(c) == "no alternative"


def test_robust_fragile_and_reversed():
    holds = C.paired([1.0, 2.0, 3.0], [0.0, 1.0, 2.1], design=PLAIN)
    unclear = C.paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], design=PLAIN)
    opposite = C.paired([0.0, 1.0, 2.1], [1.0, 2.0, 3.0], design=PLAIN)
    assert (holds.verdict, unclear.verdict, opposite.verdict) == ("holds", "inconclusive", "does not hold")
    c = C.claim("x", "A beats B", "yes", holds, sensitivity={"budget 40": holds, "candidates: test items": unclear},
                source=C.BOOK)
    assert [s["choice"] for s in c.sensitivity] == ["budget 40", "candidates: test items"]
    assert C.robustness(c) == "fragile" == c.robustness
    assert C.robustness(C.claim("y", "s", None, holds, sensitivity={"b": holds}, source=C.BOOK)) == "robust"
    assert C.claim("z", "s", None, holds, sensitivity={"b": unclear, "c": opposite},
                   source=C.BOOK).robustness == "reversed"
    assert C.claim("w", "s", None, unclear, sensitivity={"b": holds}, source=C.BOOK).robustness == "fragile"
    table = C.claims_table([c])
    assert table.loc["x", "robustness"] == "fragile" and "budget 40: holds" in table.loc["x", "alternatives"]
    with pytest.raises(ConfigError):  # a stored robustness must follow from the verdicts
        C.Claim(**{**c.as_dict(), "robustness": "robust"})


def test_the_uncorrected_t_is_a_standard_alternative():
    d = np.array([-0.00076, -0.00264, -0.00081, -0.00078, -0.00094])
    c = C.claim("rmse", "E beats A", None, C.paired(0.9 + d, np.full(5, 0.9), design=SPLITS,
                                                     higher_is_better=False), {}, source=C.BOOK)
    assert c.verdict == "inconclusive" and c.sensitivity[0] == {
        "choice": C.UNCORRECTED, "verdict": "holds",
        "measured": C.paired(0.9 + d, np.full(5, 0.9), design=PLAIN, higher_is_better=False).measured}
    assert c.robustness == "fragile" and c.power["runs_needed"] is not None and c.power["runs_needed"] > 5


def test_invalid_verdicts_are_rejected():
    with pytest.raises(ConfigError):
        C.Judgement("maybe", "", "")
    with pytest.raises(ConfigError):
        C.Claim("x", "s", None, "m", "holds", "t", [{"choice": "c", "verdict": "maybe", "measured": ""}])


def test_summarise_and_pair_on_a_tidy_frame():
    frame = pd.DataFrame({"model": ["A"] * 3 + ["B"] * 3, "seed": [0, 1, 2, 2, 1, 0], "metric": "ndcg",
                          "value": [1.0, 2.0, 3.0, 2.5, 1.5, 0.5], "fold": 0})
    a, b = C.pair(frame, {"model": "A"}, {"model": "B"}, "ndcg")
    np.testing.assert_array_equal(a - b, [0.5, 0.5, 0.5])  # aligned on the seed, not on row order
    a2, b2 = C.pair(frame, {"model": "A"}, {"model": "B"}, "ndcg", on=["seed", "fold"])
    np.testing.assert_array_equal(a2 - b2, [0.5, 0.5, 0.5])
    table = C.summarise(frame, "model").set_index("model")
    assert table.loc["A", "mean"] == 2.0 and table.loc["A", "n"] == 3
    assert table.loc["A", "ci"] == pytest.approx(scipy.stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3))
    with pytest.raises(DataError):
        C.pair(pd.concat([frame, frame]), {"model": "A"}, {"model": "B"}, "ndcg")
