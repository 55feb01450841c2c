"""Results files: atomic JSON with every required key, valid verdicts, plain values; verdict helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from replication import results


def write(tmp_path, **overrides):
    kwargs = dict(config={"k": 3}, seeds=[0, 1], metrics={"rmse": np.float32(0.5), "curve": np.arange(3)},
                  claims=[results.Claim("c1", "A beats B", 0.9, 0.8, "does not hold")],
                  timings={"train": 1.5}, data={"f": "abc"})
    kwargs.update(overrides)
    return results.write_results(tmp_path, "demo", **kwargs)


def test_round_trip_has_every_key(tmp_path):
    payload = results.read_results(write(tmp_path))
    assert set(results.REQUIRED_KEYS) <= set(payload)
    assert payload["metrics"] == {"rmse": 0.5, "curve": [0, 1, 2]}
    assert payload["claims"][0]["verdict"] == "does not hold"
    assert payload["environment"]["torch"].startswith("2.13")


def test_non_finite_values_become_null(tmp_path):
    payload = json.loads(write(tmp_path, metrics={"x": float("nan"), "y": [1.0, math.inf]}).read_text())
    assert payload["metrics"] == {"x": None, "y": [1.0, None]}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write(tmp_path)
    before = path.read_text()
    with pytest.raises(TypeError):
        write(tmp_path, metrics={"bad": object()})
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]


def test_invalid_verdict_is_rejected():
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        results.Claim("c", "s", 1, 1, "maybe")


def test_read_rejects_incomplete_files(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"chapter": "x"}))
    with pytest.raises(ValueError, match="lacks keys"):
        results.read_results(tmp_path / "x.json")


@pytest.mark.parametrize("a,b,higher,expected", [
    ((0.5, 0.01), (0.4, 0.01), True, "holds"),
    ((0.4, 0.01), (0.5, 0.01), True, "does not hold"),
    ((0.45, 0.05), (0.44, 0.05), True, "inconclusive"),
    ((0.9, 0.01), (1.0, 0.01), False, "holds"),
])
def test_compare_verdict(a, b, higher, expected):
    assert results.compare_verdict(*a, *b, higher_is_better=higher) == expected


def test_verdict_mapping():
    assert [results.verdict(v) for v in (True, False, None)] == ["holds", "does not hold", "inconclusive"]


def test_timer_accumulates():
    timer = results.Timer()
    for _ in range(2):
        with timer("a"):
            pass
    assert set(timer.seconds) == {"a"} and timer.seconds["a"] >= 0


def test_digests_by_file_flags_disagreement():
    from replication import report

    same = {"a": {"data": {"f": "1", "g": "2"}}, "b": {"data": {"f": "1"}}}
    differ = {"a": {"data": {"f": "1"}}, "b": {"data": {"f": "9"}}}
    assert report.digests_by_file(same) == {"f": {"1"}, "g": {"2"}}
    assert report.digests_by_file(differ) == {"f": {"1", "9"}}
