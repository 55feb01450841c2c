"""The comparison's hyper-parameter search: seeded draws, the same number of trials for every model, the choice
read from the validation part alone (flipping every test rating changes the test metrics, not the choices)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from replication.chapters import comparison
from replication.errors import ConfigError
from replication.experiments import search
from replication.experiments.search import Choice, LogUniform, Uniform

def test_trials_start_with_the_defaults_and_are_seeded_per_model_and_split():
    space = {"k": Choice([20, 50, 100]), "l2": LogUniform(10.0, 5000.0), "beta": Uniform(0.0, 1.0)}
    first = {"k": 50, "l2": 500.0, "beta": 0.5, "epochs": 3}
    draws = search.trials(space, 6, seed=3, key="EASE", first=first)
    assert len(draws) == 6 and draws[0] == first
    assert draws == search.trials(space, 6, seed=3, key="EASE", first=first), "seeded: the same draws twice"
    assert draws != search.trials(space, 6, seed=4, key="EASE", first=first), "another split draws others"
    assert draws != search.trials(space, 6, seed=3, key="ItemKNN", first=first), "another model draws others"
    for d in draws[1:]:
        assert d["epochs"] == 3, "a setting outside the space keeps its default"
        assert d["k"] in (20, 50, 100) and 10.0 <= d["l2"] <= 5000.0 and 0.0 <= d["beta"] <= 1.0
    assert search.trials({}, 6, seed=0, key="Pop", first={}) == [{}], "nothing to search: one trial"
    with pytest.raises(ConfigError, match="at least one trial"):
        search.trials(space, 0, seed=0, key="EASE")


def test_log_uniform_draws_spread_over_the_logarithm():
    rng = np.random.default_rng(0)
    values = np.array([LogUniform(1.0, 10_000.0).draw(rng) for _ in range(4000)])
    assert values.min() >= 1.0 and values.max() <= 10_000.0
    share_below_100 = np.mean(values < 100.0)  # half the log-range: about half the draws (uniform: 1%)
    assert 0.45 < share_below_100 < 0.55
    with pytest.raises(ConfigError, match="low > 0"):
        LogUniform(0.0, 1.0)
    with pytest.raises(ConfigError, match="low < high"):
        Uniform(2.0, 1.0)


def test_the_choice_needs_a_clear_win_and_the_curve_never_falls():
    assert search.chosen([0.30, 0.31, 0.29]) == 1
    assert search.chosen([0.300, 0.301, 0.29], rtol=0.005) == 0, "within 0.5%: the earlier trial stays"
    assert search.chosen([0.300, 0.310, 0.29], rtol=0.005) == 1
    assert search.chosen([float("nan"), 0.2, 0.1]) == 1
    np.testing.assert_array_equal(search.best_so_far([0.2, 0.1, 0.3, 0.25]), [0.2, 0.2, 0.3, 0.3])


def _flipped(holdout):
    """The protocol's split with every test rating r replaced by 6 - r (relevant films become irrelevant)."""
    def split(*args, **kwargs):
        s = holdout(*args, **kwargs)
        test = s.test.copy()
        test.data = 6.0 - test.data
        return dataclasses.replace(s, test=test)
    return split


def _choices(result) -> dict:
    chosen = comparison.chosen_trials(result.frame)
    return {(m, int(s)): int(t) for m, s, t in chosen.itertuples(index=False)}


CHEAP = ["Pop", "EASE", "ItemKNN", "PureSVD"]
CONFIG = comparison.Config(seeds=[0, 1], models=CHEAP, trials=3, n_jobs=1, settings={"ItemKNN": {"k": 50}})


@pytest.fixture(scope="module")
def searched():
    """One search of four cheap models (two splits, three trials each), without the job cache."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("REPLICATION_CACHE", "off")
        yield comparison.run(CONFIG)


def test_no_trial_reads_the_test_ratings_and_the_search_is_deterministic(monkeypatch, searched):
    monkeypatch.setenv("REPLICATION_CACHE", "off")
    again = comparison.run(dataclasses.replace(CONFIG, n_jobs=2))
    assert _choices(again) == _choices(searched), "two runs (one and two workers), the same choices"
    assert set(_choices(searched).values()) - {0}, "the search chose a trial other than the defaults somewhere"
    monkeypatch.setattr(comparison, "holdout", _flipped(comparison.holdout))
    flipped = comparison.run(CONFIG)
    assert _choices(flipped) == _choices(searched), "flipping every test rating changes no choice"
    valid = lambda r: r.frame[r.frame["metric"] == comparison.SELECTION["metric"]].sort_values(  # noqa: E731
        ["model", "seed", "trial"])["value"].to_numpy()
    np.testing.assert_array_equal(valid(flipped), valid(searched))
    ndcg = lambda r: comparison.summary(r)["ndcg"]  # noqa: E731
    assert (ndcg(flipped)["EASE"] - ndcg(searched)["EASE"]) < -0.1, "the flip did reach the test metrics"


def test_every_model_gets_the_same_trials_and_keeps_only_its_chosen_trial(searched):
    f = searched.frame
    valid = f[f["metric"] == comparison.SELECTION["metric"]]
    counts = valid.groupby(["model", "seed"]).size()
    assert (counts.loc[["EASE", "ItemKNN", "PureSVD"]] == 3).all() and (counts.loc[["Pop"]] == 1).all()
    tested = f[f["metric"] == "ndcg"]
    assert not tested.duplicated(["model", "seed", "relevant", "candidates", "k"]).any(), "one trial per model, seed"
    for (model, seed), trial in _choices(searched).items():
        scores = valid[(valid["model"] == model) & (valid["seed"] == seed)].sort_values("trial")["value"]
        assert trial == search.chosen(scores.to_numpy(), rtol=comparison.SELECTION["rtol"])
    knn = [json.loads(x) for x in valid[valid["model"] == "ItemKNN"]["settings"]]
    assert {d["k"] for d in knn} == {50}, "a setting the reader fixes is not searched"
    assert len({d["shrink"] for d in knn}) > 1, "the rest of the space still is"
    table = comparison.search_table(searched)
    assert list(table.index) == CHEAP and table.loc["Pop", "searched"] == "-"
    assert table.loc["EASE", "trials"] == 3 and "l2 log-uniform" in table.loc["EASE", "searched"]
    assert table.loc["EASE", "chosen settings"].startswith("seed 0: l2=")
    seconds = f[f["metric"] == "search_seconds"].set_index(["model", "seed"])["value"]
    fit = f[f["metric"] == "fit_and_score_seconds"].set_index(["model", "seed"])["value"]
    assert (seconds >= fit.loc[seconds.index] - 1e-12).all(), "the search costs at least the chosen trial"
    assert comparison.search_figure(searched).axes[0].get_lines(), "a best-so-far curve per searched model"


def test_the_trials_parameter_is_checked():
    with pytest.raises(ConfigError, match="trials must be an integer >= 1"):
        comparison.Config(trials=0).validate()


def _per_user_result(values: dict[str, tuple[np.ndarray, np.ndarray]], seeds=(0, 1)):
    per_user = {(m, s): {"users": np.arange(len(mep), dtype=np.int32), "mep": mep.astype(np.float32),
                         "ndcg": ndcg.astype(np.float32)} for m, (mep, ndcg) in values.items() for s in seeds}
    return comparison.ChapterResult(None, comparison.Config(), {}, {"models": list(values), "per_user": per_user})


def test_the_bootstrap_over_users_collapses_when_every_user_agrees():
    n = 50
    same = lambda v: np.full(n, v)  # noqa: E731
    # three models, MEP rising while nDCG falls, identical for every user: every resample gives rho = -1
    result = _per_user_result({"A": (same(0.1), same(0.3)), "B": (same(0.2), same(0.2)), "C": (same(0.3), same(0.1))})
    judged = comparison.across_users(result, n_boot=200)
    assert judged.verdict == "holds" and "= -1.000" in judged.measured and "[-1.000, -1.000]" in judged.measured
    excluded = comparison.across_users(_per_user_result({"A": (same(0.1), same(0.3)), "B": (same(0.2), same(0.2))}))
    assert "across 2 models" in excluded.measured


def test_the_bootstrap_over_users_moves_with_users_who_disagree():
    rng = np.random.default_rng(1)
    n = 200
    # model B's nDCG is above A's for half the users and below for the other half: the order of A and B (the sign
    # of their correlation, +1 or -1) depends on which users are drawn, so the interval spans zero
    a_ndcg = np.full(n, 0.2)
    b_ndcg = np.where(np.arange(n) < n // 2, 0.0, 0.4) + rng.normal(0, 1e-3, n)
    result = _per_user_result({"A": (np.full(n, 0.1), a_ndcg), "B": (np.full(n, 0.2), b_ndcg)})
    judged = comparison.across_users(result, n_boot=400)
    assert judged.verdict == "inconclusive", judged.measured
    nan_users = _per_user_result({"A": (np.full(4, 0.1), np.array([0.3, np.nan, 0.3, 0.3])),
                                  "B": (np.full(4, 0.2), np.full(4, 0.2)), "C": (np.full(4, 0.3), np.full(4, 0.1))})
    assert comparison.across_users(nan_users, n_boot=100).verdict == "holds", "users without a relevant film: skipped"


def test_the_reconciliation_reads_each_chapters_verdict_and_is_kept_in_the_results(tmp_path):
    from replication import results as R
    from replication.experiments import claims as C

    def claim(cid: str, verdict: str) -> C.Claim:
        return C.Claim(cid, "a statement", "higher", "measured", verdict, "test", source=C.BOOK,
                       sensitivity=[{"choice": "another", "measured": "m", "verdict": verdict}])

    R.write_results(tmp_path, "eautorec", config={}, seeds=[0], metrics=[{"metric": "x", "value": 1.0}],
                    claims=[claim("mep_every_n", "inconclusive"), claim("map_every_n", "holds")], timings={},
                    data={})
    here = [claim("eautorec_mep", "inconclusive"), claim("eautorec_map", "does not hold"),
            claim("vae_over_dae", "holds"), claim("vae_over_ease", "holds")]
    result = comparison.ChapterResult(None, comparison.Config(), {}, {"protocol": {}})
    table = comparison.reconciliation(here, tmp_path, result)
    assert list(table.index) == ["eautorec_mep", "eautorec_map", "vae_over_dae"], "only restated claims"
    assert table.loc["eautorec_mep", "agree"] == "yes" and table.loc["eautorec_map", "agree"] == "no"
    assert table.loc["eautorec_map", "there"] == "holds"
    assert table.loc["vae_over_dae", "there"] == "not run" and table.loc["vae_over_dae", "agree"] == ""
    assert [r["claim"] for r in result["protocol"]["reconciliation"]] == list(table.index), "kept for the file"
