"""Small problems shared by several test modules."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

SMALL = dict(n_users=60, n_items=80, n_ratings=1500)  # a synthetic GroupLens archive's size for quick tests


def problem(seed: int = 0):
    """A 40 x 30 training and test split of ratings and a score matrix with many ties."""
    rng = np.random.default_rng(seed)
    train = sp.random(40, 30, density=0.2, random_state=seed, format="csr", data_rvs=lambda n: rng.integers(1, 6, n))
    test = sp.random(40, 30, density=0.1, random_state=seed + 1, format="csr",
                     data_rvs=lambda n: rng.integers(1, 6, n))
    test = test - test.multiply(train > 0)
    scores = np.round(rng.random((40, 30)), 1)  # many ties
    return sp.csr_array(train), sp.csr_array(test), scores
