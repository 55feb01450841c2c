"""The one validator: every matrix fault raises DataError naming the argument; every parameter fault ConfigError."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication.checks import as_csr, check_choice, check_int, check_number, check_seeds
from replication.errors import ConfigError, DataError


def test_as_csr_canonicalises_a_copy():
    coo = sp.coo_array((np.array([1.0, 2.0, 0.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 3))
    out = as_csr(coo, "ratings")
    assert out.format == "csr" and out.nnz == 1 and out[0, 1] == 3.0  # duplicates summed, explicit zero dropped
    m = sp.csr_array(np.array([[0, 1.0]]))
    as_csr(m).data[:] = 7
    assert m[0, 1] == 1.0


@pytest.mark.parametrize("bad, kwargs, words", [
    (np.ones((2, 2)), {}, "scipy.sparse"),
    (sp.csr_array(np.ones((2, 2))), {"shape": (2, 3)}, "expected (2, 3)"),
    (sp.csr_array(np.ones((2, 2))), {"n_items": 3}, "3"),
    (sp.csr_array(np.array([[np.nan, 1.0]])), {}, "non-finite"),
    (sp.csr_array(np.array([[-1.0, 1.0]])), {"nonneg": True}, "non-negative"),
    (sp.csr_array(np.array([[6.0, 1.0]])), {"max_value": 5}, "(0, 5]"),
    (sp.csr_array(np.array([[2.0, 1.0]])), {"binary": True}, "0/1"),
])
def test_as_csr_rejects_with_one_error_type(bad, kwargs, words):
    with pytest.raises(DataError, match="my matrix") as err:
        as_csr(bad, "my matrix", **kwargs)
    assert words in str(err.value)


def test_dense_arrays_only_when_allowed():
    assert as_csr(np.eye(2), dense_ok=True).nnz == 2


def test_parameter_checks():
    assert check_int("k", 3, 1) == 3
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ConfigError, match="k"):
            check_int("k", bad, 1)
    assert check_number("lr", 0.1, 0.0, low_open=True) == 0.1
    for bad in (0.0, float("nan"), "x", float("inf")):
        with pytest.raises(ConfigError, match="lr"):
            check_number("lr", bad, 0.0, low_open=True)
    with pytest.raises(ConfigError, match="allowed|one of"):
        check_choice("loss", "l1", ("masked", "full"))
    assert check_seeds([0, 1]) == [0, 1]
    for bad in ([], [1, 1], [-1]):
        with pytest.raises(ConfigError):
            check_seeds(bad)
