"""A mutation check: seed one bug at a time into the package (the kind a developer could really make, each one
changing a number or a verdict without an error), run the tests that should catch it, and report whether they
did. The source is restored after every mutation (also on Ctrl-C). Do not run it while a book build or a test
session uses the same checkout: it edits the package files in place.

Usage: python bench/mutations.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    """Replace `old` (which must occur exactly once) by `new` in `path`; `tests` should then fail."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation("cache key ignores the code", "replication/experiments/runner.py",
             '"code": _code_digest(PACKAGE)}', '"code": ""}',
             ("tests/test_runner.py::test_a_cached_result_is_recomputed_after_the_code_changes",)),
    Mutation("cache key ignores the data", "replication/experiments/runner.py",
             '"data": _job_data(job.params),', '"data": None,',
             ("tests/test_runner.py::test_the_cache_key_follows_the_data_files",
              "tests/test_runner.py::test_the_cache_key_follows_the_data_set_archive")),
    Mutation("data set archive left out of the key", "replication/experiments/runner.py",
             'return [_data_digest(), grouplens.archive_digest(', 'return [_data_digest(), str(',
             ("tests/test_runner.py::test_the_cache_key_follows_the_data_set_archive",)),
    Mutation("digest read once per process", "replication/experiments/runner.py",
             "signature = tuple((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)",
             "signature = tuple((str(p.relative_to(root)), 0, 0) for p in paths)",
             ("tests/test_runner.py::test_the_code_digest_follows_every_source_file",)),
    Mutation("dropout without its 1/(1-p) rescaling", "replication/models/vae.py",
             "/ (1.0 - self.dropout_rate)", "/ 1.0",
             ("tests/test_vae.py::test_dropout_keeps_expected_scale_and_only_touches_observed_entries",)),
    Mutation("validation in training mode", "replication/models/training.py",
             "        module.eval()\n        with torch.no_grad():\n            value = float(self.evaluate())",
             "        with torch.no_grad():\n            value = float(self.evaluate())",
             ("tests/test_safety_net.py::test_validation_runs_in_evaluation_mode_without_gradients",)),
    Mutation("bootstrap at 90%", "replication/experiments/claims.py",
             "low, high = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])",
             "low, high = np.quantile(means, [0.05, 0.95])",
             ("tests/test_safety_net.py::test_every_interval_has_the_stated_coverage",)),
    Mutation("t-interval at 90%", "replication/experiments/claims.py",
             "half = float(scipy.stats.t.ppf((1 + confidence) / 2, self.n - 1)) * self.se",
             "half = float(scipy.stats.t.ppf(0.95, self.n - 1)) * self.se",
             ("tests/test_safety_net.py::test_every_interval_has_the_stated_coverage",)),
    Mutation("threshold below judged as above", "replication/experiments/claims.py",
             "verdict, side = _three_way(-high, -low, -bound.value), f\"< {bound.value:g}\"",
             "verdict, side = _three_way(low, high, bound.value), f\"< {bound.value:g}\"",
             ("tests/test_safety_net.py::test_threshold_near_its_bound_in_both_directions",)),
    Mutation("uncorrected t everywhere", "replication/experiments/claims.py",
             "return 1.0 / n_runs + self.ratio", "return 1.0 / n_runs",
             ("tests/test_claims.py::test_corrected_resampled_t_by_hand_flips_the_e_autorec_rmse_verdict",)),
    Mutation("relative tolerance read as absolute", "replication/regression.py",
             "math.isclose(a, b, rel_tol=rtol, abs_tol=atol)", "math.isclose(a, b, abs_tol=max(rtol, atol))",
             ("tests/test_safety_net.py::test_the_regression_check_flags_a_three_percent_move_of_a_small_metric",)),
    Mutation("self excluded by a zero", "replication/neighbours.py",
             "np.fill_diagonal(S, -np.inf)", "np.fill_diagonal(S, 0.0)",
             ("tests/test_safety_net.py::test_self_is_never_a_neighbour_even_when_every_similarity_is_zero",)),
    Mutation("validation split reuses the test seed", "replication/experiments/protocols.py",
             "seed=seed + 1000", "seed=seed",
             ("tests/test_safety_net.py::test_the_validation_part_is_drawn_with_its_own_seed",)),
    Mutation("neighbour cache ignores its size", "replication/explain.py",
             "key = (digest.hexdigest(), int(n_neighbors))", "key = (digest.hexdigest(), 0)",
             ("tests/test_safety_net.py::test_the_neighbour_cache_keys_on_the_neighbourhood_size",)),
    Mutation("silhouette unseeded", "replication/latent.py",
             "sample_size=size, random_state=seed)", "sample_size=size, random_state=None)",
             ("tests/test_safety_net.py::test_the_silhouette_sample_is_seeded",)),
    Mutation("Mantel p-value without its +1", "replication/latent.py",
             "float((1 + np.sum(r[1:] >= r[0] - 1e-12)) / (1 + n_perm))",
             "float((np.sum(r[1:] >= r[0] - 1e-12)) / (n_perm))",
             ("tests/test_safety_net.py::test_the_mantel_p_value_counts_the_observed_statistic",)),
    Mutation("IUT replaced by Holm", "replication/experiments/claims.py",
             "better = np.array([min(1.0, 2 * r.p_above(0.0)) for r in runs.values()])\n    worse = holm(",
             "better = holm([min(1.0, 2 * r.p_above(0.0)) for r in runs.values()])\n    worse = holm(",
             ("tests/test_claims.py::test_every_and_some_differ_from_holm_where_they_should",)),
    Mutation("empty list slot looked up as an item", "replication/metrics.py",
             "return found & (topk >= 0)", "return found",
             ("tests/test_safety_net.py::test_an_empty_list_slot_is_never_a_hit",)),
    Mutation("per-user holdout in file order", "replication/splits.py",
             "order = np.lexsort((rng.random(len(users)), users))",
             "order = np.lexsort((np.arange(len(users)), users))",
             ("tests/test_safety_net.py::test_a_per_user_holdout_is_random_not_the_file_order",)),
]


def run(mutation: Mutation) -> bool:
    """Apply one mutation, run its tests, restore the file; True when the tests caught it."""
    path = ROOT / mutation.path
    original = path.read_text()
    if original.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the text to mutate occurs {original.count(mutation.old)} times in "
                         f"{mutation.path}; update bench/mutations.py")
    try:
        path.write_text(original.replace(mutation.old, mutation.new))
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                              *mutation.tests], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original)
    return out.returncode != 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="run only the mutations with these names")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    missed = []
    for mutation in chosen:
        caught = run(mutation)
        names = ", ".join(t.split("::")[-1] for t in mutation.tests)
        print(f"{'caught' if caught else 'MISSED'}  {mutation.name}  ({names})", flush=True)
        if not caught:
            missed.append(mutation.name)
    print(f"\n{len(chosen) - len(missed)} of {len(chosen)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
