"""The regression comparison itself: tolerances, skipped timing keys, verdict changes, missing metrics."""

from __future__ import annotations

import json

from replication import regression


def payload(metrics, verdicts=("holds",)):
    return {"metrics": metrics, "claims": [{"id": f"c{i}", "verdict": v} for i, v in enumerate(verdicts)]}


def test_flatten_keeps_numbers_and_skips_timings():
    flat = regression.flatten({"a": {"b": [1, 2.5]}, "train_seconds": 9, "ok": True, "name": "x"})
    assert flat == {"a.b.0": 1.0, "a.b.1": 2.5}


def test_small_noise_passes_and_real_moves_fail():
    ref = payload({"ndcg": 0.400, "rmse": 0.950, "tiny": 0.001})
    assert regression.compare(payload({"ndcg": 0.404, "rmse": 0.951, "tiny": 0.004}), ref) == []
    problems = regression.compare(payload({"ndcg": 0.380, "rmse": 0.950, "tiny": 0.001}), ref)
    assert problems == ["metric ndcg: fresh 0.38 vs reference 0.4"]


def test_verdict_change_and_missing_metric_fail():
    ref = payload({"a": 1.0, "b": 2.0}, verdicts=("holds",))
    problems = regression.compare(payload({"a": 1.0}, verdicts=("does not hold",)), ref)
    assert "metric b: present in only one of fresh / reference" in problems
    assert "claim c0: verdict 'does not hold' vs reference 'holds'" in problems


def test_compare_folder_reports_missing_fresh_file(tmp_path):
    ref_dir, fresh_dir = tmp_path / "ref", tmp_path / "fresh"
    ref_dir.mkdir(), fresh_dir.mkdir()
    (ref_dir / "x.json").write_text(json.dumps(payload({"a": 1.0})))
    (ref_dir / "y.json").write_text(json.dumps(payload({"a": 1.0})))
    (fresh_dir / "x.json").write_text(json.dumps(payload({"a": 1.0})))
    report = regression.compare_folder(fresh_dir, ref_dir)
    assert report["x"] == [] and "no fresh results file" in report["y"][0]
