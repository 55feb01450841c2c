"""The one runner: a grid of jobs (models x seeds x settings) -> one tidy long DataFrame, on both cores, cached.

    jobs = [Job(train_and_evaluate, {"model": m, "seed": s, ...}, labels={"model": m, "seed": s}) for ...]
    out = run(jobs, n_jobs=2)            # out.frame: one row per record, columns = labels + record keys
    out.artifacts[i]                     # what job i kept for figures (small, picklable)

* A job is a module-level function and JSON-able keyword arguments; it returns a :class:`JobOutput` (records
  ``{"metric": ..., "value": ..., optional columns}`` plus artifacts). The runner adds the job's labels to its
  records.
* Jobs run in `n_jobs` worker processes of one reusable pool (loky), each limited to ONE thread for torch and
  for BLAS: on a shared 2-core machine, parallel processes degrade gracefully under load where multi-threaded
  torch collapses. The costliest jobs start first. With n_jobs=1 they run in this process.
* Results are cached on disk under a key hashing the function, its arguments, the data files' SHA-256 and the
  package's source code, so re-executing a chapter whose settings did not change loads them (and says so);
  a clean checkout has no cache and computes everything. $REPLICATION_CACHE moves the cache folder; "off"
  disables it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .. import settings
from .. import grouplens
from ..datasets import FILES, default_data_dir, ensure_files
from ..profiling import release_free_memory
from ..checks import check_int
from ..errors import ConfigError

__all__ = ["Job", "JobOutput", "Outcome", "run", "limit_threads", "cache_dir", "job_key"]

PACKAGE = Path(__file__).resolve().parent.parent
POOL_IDLE_SECONDS = 600  # workers stay alive between the runs of one chapter (their data stays loaded)


@dataclass
class JobOutput:
    """What a job returns: metric records and (optionally) small artifacts for figures."""

    records: list[dict[str, Any]]
    artifacts: Any = None
    seconds: float = float("nan")


@dataclass(frozen=True)
class Job:
    """One unit of work: `fn(**params)` -> JobOutput; `labels` become columns of its records; `cost` orders work."""

    fn: Callable[..., JobOutput]
    params: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0


@dataclass
class Outcome:
    """The tidy frame of every job's records, the artifacts (in job order) and what was cached or computed."""

    frame: pd.DataFrame
    artifacts: list[Any]
    cached: int
    computed: int
    seconds: float  # wall time of the whole run
    job_seconds: list[float]  # each job's own wall time (when it was computed, else when it was cached)

    def summary(self) -> str:
        return (f"{len(self.artifacts)} jobs: {self.computed} computed, {self.cached} loaded from the cache, "
                f"{self.seconds:.1f} s")


# ---------------------------------------------------------------------------------------------------- threads


def limit_threads() -> None:
    """One thread for torch and for every BLAS/OpenMP pool of this process (parallelism comes from processes)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1)


def _worker_init() -> None:
    limit_threads()


# ---------------------------------------------------------------------------------------------------- cache


def cache_dir() -> Path | None:
    """The job cache (`settings.cache_dir`: $REPLICATION_CACHE, or _build/cache; None when it is "off")."""
    return settings.cache_dir()


def _files_digest(paths: Sequence[Path], root: Path) -> str:
    """SHA-256 over the files' relative names and contents, recomputed whenever a file's size or modification time
    changes (so a long-lived process sees an edited source or data file; otherwise it is read once)."""
    signature = tuple((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _digest_of(signature, root)


@lru_cache(maxsize=16)
def _digest_of(signature: tuple[tuple[str, int, int], ...], root: Path) -> str:
    digest = hashlib.sha256()
    for name, _, _ in signature:
        digest.update(name.encode())
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def _code_digest(package: Path = PACKAGE) -> str:
    """The package source: every .py file under the package, names and contents."""
    return _files_digest(sorted(package.rglob("*.py")), package)


def _data_digest() -> str:
    """ML-100K's files as they are on disk (verified against their pinned SHA-256 at every load)."""
    folder = ensure_files()
    return _files_digest([folder / name for name in FILES], folder)


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"job parameter {where} = {value!r} is not JSON-able (jobs take plain values so that they "
                      "can be cached and sent to worker processes)")


def _job_data(params: dict[str, Any]) -> Any:
    """The checksums of the data a job reads: ML-100K's files, and those of a larger data set it names."""
    if not params.get("dataset") or (params["dataset"] == "ml-100k" and not params.get("data_dir")):
        return _data_digest()
    return [_data_digest(), grouplens.archive_digest(params["dataset"], params.get("data_dir", "") or
                                                     str(default_data_dir()))]


def job_key(job: Job) -> str:
    """SHA-256 of the function, its canonical arguments, the data files and the package source."""
    spec = {"fn": f"{job.fn.__module__}:{job.fn.__qualname__}", "params": _jsonable(job.params, "params"),
            "data": _job_data(job.params), "code": _code_digest(PACKAGE)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _load(path: Path) -> JobOutput | None:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def _store(path: Path, output: JobOutput) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".job-")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(output, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------------------------------------------- running


def _execute(fn: Callable[..., JobOutput], params: dict[str, Any]) -> JobOutput:
    start = time.perf_counter()
    output = fn(**params)
    if not isinstance(output, JobOutput):
        raise ConfigError(f"job {fn.__qualname__} must return a JobOutput, got {type(output).__name__}")
    output.seconds = time.perf_counter() - start
    release_free_memory()  # hand the job's freed memory back, so a worker's size stays that of its data
    return output


def _pool(n_jobs: int):
    from joblib.externals.loky import get_reusable_executor

    env = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    # torch's CPU allocator on transparent huge pages: large weight gradients are fresh memory at every update, and
    # faulting in 4 kB pages cost ~30% of a VAE update at ML-20M's shape (bench/bench_speed.py --thp); no effect on
    # any number, and none where the kernel offers no huge pages
    env["THP_MEM_ALLOC_ENABLE"] = "1"
    return get_reusable_executor(max_workers=n_jobs, timeout=POOL_IDLE_SECONDS, initializer=_worker_init, env=env)


def run(jobs: Sequence[Job], *, n_jobs: int = 0, use_cache: bool = True, progress: bool = True,
        desc: str = "jobs") -> Outcome:
    """Run every job (cached ones are loaded) and return the tidy frame of their labelled records. `n_jobs` worker
    processes (0: every core this process may use); the records do not depend on it."""
    n_jobs = check_int("n_jobs", n_jobs, 0) or settings.available_cores()
    start = time.perf_counter()
    folder = cache_dir() if use_cache else None
    outputs: list[JobOutput | None] = [None] * len(jobs)
    keys = [job_key(job) for job in jobs] if folder is not None else [None] * len(jobs)
    for i, key in enumerate(keys):
        if key is not None:
            outputs[i] = _load(folder / key[:2] / f"{key}.pkl")
    cached = sum(o is not None for o in outputs)
    todo = sorted((i for i, o in enumerate(outputs) if o is None), key=lambda i: -jobs[i].cost)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=desc, disable=not progress or not todo, leave=False, file=sys.stderr)
    if n_jobs == 1 or len(todo) <= 1:
        limit_threads()
        for i in todo:
            outputs[i] = _execute(jobs[i].fn, jobs[i].params)
            bar.update()
    else:
        pool = _pool(n_jobs)
        futures = {pool.submit(_execute, jobs[i].fn, jobs[i].params): i for i in todo}
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            outputs[futures[future]] = future.result()
            bar.update()
    bar.close()
    for i in todo:
        if keys[i] is not None:
            _store(folder / keys[i][:2] / f"{keys[i]}.pkl", outputs[i])
    rows = [{**job.labels, **record} for job, output in zip(jobs, outputs) for record in output.records]
    frame = pd.DataFrame(rows)
    outcome = Outcome(frame, [o.artifacts for o in outputs], cached, len(todo), time.perf_counter() - start,
                      [o.seconds for o in outputs])
    if progress:
        print(f"[runner] {desc}: {outcome.summary()}", file=sys.stderr if not cached else sys.stdout, flush=True)
    return outcome
