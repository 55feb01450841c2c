"""Audits of the committed reference values of full executions (tests/reference/): they read committed files and
run no code, so they check what a full run recorded (every run converged, every user tested), not the code."""

from __future__ import annotations

import json

import numpy as np

from replication import regression, results


def test_reference_audit_eautorec_runs_converged_and_lambda_per_seed():
    """The committed reference of the E-AutoRec chapter (a full execution): every early-stopped run stopped before
    its budget, and lambda was chosen per seed and model (for the fixed budget too)."""
    payload = json.loads((regression.REFERENCE_DIR / "eautorec.json").read_text())
    runs = {}
    for r in payload["metrics"]:
        if r.get("budget") == "early" and r["metric"] in ("best_epoch", "epochs_trained"):
            runs.setdefault((r["model"], r["seed"], r["l2"], r["hidden"], r["n_neighbors"], r["theta"]), {})[
                r["metric"]] = r["value"]
    assert len(runs) >= 45
    assert all(run["best_epoch"] < run["epochs_trained"] <= payload["config"]["epochs"] for run in runs.values())
    chosen = payload["config"]["protocol"]["l2_chosen"]
    seeds = payload["config"]["seeds"]
    for budget, models in (("early", {"AutoRec", "E-AutoRec", "E-AutoRec (r + e)"}), ("fixed", {"AutoRec",
                                                                                                 "E-AutoRec"})):
        pairs = {(c["seed"], c["model"]) for c in chosen if c["budget"] == budget}
        assert pairs == {(s, m) for s in seeds for m in models}, budget


def test_reference_audit_cvae_tests_every_user_and_converged():
    """The committed reference of a full execution: >= 5 repetitions, every eligible user tested once in each, most
    runs stopped early, and every latent claim with >= 3 alternatives."""
    payload = json.loads((regression.REFERENCE_DIR / "cvae.json").read_text())
    assert len(payload["seeds"]) >= 5
    tested = [r["value"] for r in payload["metrics"] if r["metric"] == "users tested" and r["scope"] == "all users"]
    assert tested and set(tested) == {938.0}  # ML-100K users with >= 5 ratings >= 4
    runs = {}
    for r in payload["metrics"]:
        if r["metric"] in ("best_epoch", "epochs_trained"):
            runs.setdefault((r["model"], r["seed"], r["fold"]), {})[r["metric"]] = r["value"]
    stopped = [run["epochs_trained"] < payload["config"]["epochs"] for run in runs.values()]
    assert len(runs) >= 95 and np.mean(stopped) > 0.5
    assert all(run["best_epoch"] < run["epochs_trained"] for run in runs.values())
    latent_claims = [c for c in payload["claims"] if c["id"][0] in "GLP"]
    assert latent_claims and all(len(c["sensitivity"]) >= 3 for c in latent_claims)


def test_reference_audit_every_reference_follows_the_schema():
    """Every committed reference (full and smoke) reads back through the schema: every test has its p-value, every
    margin and threshold its reason, every robustness follows from its verdicts."""
    paths = sorted(regression.REFERENCE_DIR.glob("*.json")) + sorted(regression.SMOKE_REFERENCE_DIR.glob("*.json"))
    assert paths
    for path in paths:
        payload = results.read_results(path)
        for claim in payload["claims"]:
            assert claim["robustness"] in ("robust", "fragile", "reversed", "no alternative"), (path, claim["id"])
