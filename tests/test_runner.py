"""The one runner: labelled tidy records, artifacts in job order, the content-hashed cache (hit, miss on a changed
parameter, off), parallel equal to sequential, single-threaded workers, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from replication import synthetic
from replication.errors import ConfigError, DataError
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


def test_the_cache_key_follows_the_data_set_archive(tmp_path):
    """Two different downloads into the SAME folder (one replacing the other) key differently, and the data set's
    name is part of the key: a stale result is never found for another archive."""
    first = synthetic.prepare_download("ml-1m", tmp_path / "one", **SMALL)
    job = runner.Job(runner.JobOutput, {"dataset": "ml-1m", "data_dir": str(first)})
    before = runner.job_key(job)
    assert runner.job_key(job) == before
    with pytest.warns(UserWarning, match="downloading again"):  # a new download into the same place
        again = synthetic.prepare_download("ml-1m", tmp_path / "one", **SMALL | {"seed": 1})
    assert again == first and runner.job_key(job) != before
    same_dir_other_name = runner.Job(runner.JobOutput, {"dataset": "ml-100k", "data_dir": str(first)})
    with pytest.raises(DataError, match="no verified ml-100k download"):
        runner.job_key(same_dir_other_name)


def test_the_code_digest_follows_every_source_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.py", "sub/b.py"):
        (tmp_path / name).write_text("def f():\n    return 1\n")
    before = runner._code_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("not code")
    assert runner._code_digest(tmp_path) == before
    (tmp_path / "sub/b.py").write_text("def f():\n    return 2\n")  # the same size, another body
    os.utime(tmp_path / "sub/b.py", ns=(1, 10**18))
    assert runner._code_digest(tmp_path) != before


def reads_file(path: str) -> JobOutput:
    """A toy job whose result depends on the contents of a file."""
    return JobOutput([{"metric": "length", "value": float(len(Path(path).read_text()))}])


def test_a_cached_result_is_recomputed_after_the_code_changes(cache, tmp_path, monkeypatch):
    """End to end: run, run again (loaded from the cache), edit a function body of the package, run again
    (recomputed, not loaded)."""
    package = tmp_path / "package"
    package.mkdir()
    (package / "model.py").write_text("def score():\n    return 1\n")
    monkeypatch.setattr(runner, "PACKAGE", package)
    data = tmp_path / "input.txt"
    data.write_text("abc")
    job = [Job(reads_file, {"path": str(data)})]
    assert runner.run(job, n_jobs=1, progress=False).computed == 1
    assert runner.run(job, n_jobs=1, progress=False).cached == 1
    (package / "model.py").write_text("def score():\n    return 2\n")
    os.utime(package / "model.py", ns=(1, 10**18))
    assert runner.run(job, n_jobs=1, progress=False).computed == 1


def test_the_cache_key_follows_the_data_files(tmp_path, monkeypatch):
    """The offline data's digest is part of every key, and it follows the files' contents."""
    job = runner.Job(runner.JobOutput, {"seed": 0})
    before = runner.job_key(job)
    monkeypatch.setattr(runner, "_data_digest", lambda: "another data set")
    assert runner.job_key(job) != before
    data = tmp_path / "ratings.tsv"
    data.write_text("1\t2\t5\n")
    digest = runner._files_digest([data], tmp_path)
    data.write_text("1\t2\t4\n")  # one byte changed, the same size
    os.utime(data, ns=(1, 10**18))
    assert runner._files_digest([data], tmp_path) != digest
