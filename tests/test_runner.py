"""The one runner: labelled tidy records, artifacts in job order, the content-hashed cache (hit, miss on a changed
parameter, off), parallel equal to sequential, single-threaded workers, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from replication import synthetic
from replication.errors import ConfigError
from replication.experiments import runner
from replication.experiments.runner import Job, JobOutput
from tests.helpers import SMALL


def square(x: float, seed: int = 0) -> JobOutput:
    """A toy job: deterministic records plus an artifact."""
    noise = np.random.default_rng(seed).random()
    return JobOutput([{"metric": "square", "value": x * x}, {"metric": "noise", "value": noise}],
                     artifacts={"x": x})


def threads() -> JobOutput:
    import torch
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info()]
    return JobOutput([{"metric": "torch_threads", "value": torch.get_num_threads()},
                      {"metric": "max_blas_threads", "value": max(blas) if blas else 1}])


def not_an_output() -> dict:
    return {"metric": "x", "value": 1}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATION_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def jobs(values=(1.0, 2.0, 3.0)):
    return [Job(square, {"x": x, "seed": i}, labels={"model": f"m{i}", "seed": i}, cost=x)
            for i, x in enumerate(values)]


def test_records_are_labelled_and_artifacts_keep_job_order(cache):
    out = runner.run(jobs(), n_jobs=1, progress=False)
    assert list(out.frame.columns) == ["model", "seed", "metric", "value"]
    squares = out.frame[out.frame.metric == "square"].set_index("model")["value"]
    assert squares.to_dict() == {"m0": 1.0, "m1": 4.0, "m2": 9.0}
    assert [a["x"] for a in out.artifacts] == [1.0, 2.0, 3.0]
    assert (out.computed, out.cached) == (3, 0)


def test_cache_hits_misses_and_off(cache, monkeypatch):
    first = runner.run(jobs(), n_jobs=1, progress=False)
    again = runner.run(jobs(), n_jobs=1, progress=False)
    assert (again.computed, again.cached) == (0, 3)
    assert again.frame.equals(first.frame) and again.artifacts == first.artifacts
    changed = runner.run(jobs((1.0, 2.0, 4.0)), n_jobs=1, progress=False)
    assert (changed.computed, changed.cached) == (1, 2)
    monkeypatch.setenv("REPLICATION_CACHE", "off")
    assert runner.run(jobs(), n_jobs=1, progress=False).computed == 3
    assert runner.cache_dir() is None


def test_cache_key_depends_on_parameters_and_function():
    a = Job(square, {"x": 1.0})
    assert runner.job_key(a) == runner.job_key(Job(square, {"x": 1.0}, labels={"other": 1}))
    assert runner.job_key(a) != runner.job_key(Job(square, {"x": 1.5}))
    assert runner.job_key(a) != runner.job_key(Job(threads, {}))
    assert runner.job_key(Job(square, {"x": np.float64(1.0)})) == runner.job_key(a)


def test_parallel_equals_sequential(cache, monkeypatch):
    monkeypatch.setenv("REPLICATION_CACHE", "off")
    seq = runner.run(jobs(), n_jobs=1, progress=False)
    par = runner.run(jobs(), n_jobs=2, progress=False)
    assert par.frame.equals(seq.frame) and par.artifacts == seq.artifacts


def test_workers_run_single_threaded(cache, monkeypatch):
    monkeypatch.setenv("REPLICATION_CACHE", "off")
    out = runner.run([Job(threads, {}), Job(threads, {})], n_jobs=2, progress=False)
    assert set(out.frame["value"]) == {1}


def test_bad_jobs_fail_clearly(cache):
    with pytest.raises(ConfigError, match="JSON-able"):
        runner.run([Job(square, {"x": object()})], n_jobs=1, progress=False)
    with pytest.raises(ConfigError, match="JobOutput"):
        runner.run([Job(not_an_output, {})], n_jobs=1, progress=False, use_cache=False)
    with pytest.raises(ConfigError, match="n_jobs"):
        runner.run(jobs(), n_jobs=-1)


def test_the_cache_key_follows_the_data(tmp_path):
    a = synthetic.prepare_download("ml-1m", tmp_path / "a", **SMALL)
    b = synthetic.prepare_download("ml-1m", tmp_path / "b", **SMALL | {"seed": 1})
    job = lambda d: runner.Job(runner.JobOutput, {"dataset": "ml-1m", "data_dir": str(d)})  # noqa: E731
    assert runner.job_key(job(a)) != runner.job_key(job(b))
    assert runner.job_key(job(a)) == runner.job_key(job(a))
