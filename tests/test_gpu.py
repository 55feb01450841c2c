"""Models honour `device`: "auto" picks CUDA when present; a tiny training on CUDA scores like the same training on
the CPU (run where a GPU is present, skipped elsewhere); a bad device is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from replication.errors import ConfigError
from replication.models import AutoRec, BiasedMF, MultVAE

CUDA = torch.cuda.is_available()


def small_ratings() -> sp.csr_array:
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(30, 20)) * (rng.random((30, 20)) < 0.4)
    return sp.csr_array(dense.astype(np.float64))


def trainings():
    R = small_ratings()
    binary = sp.csr_array((R > 0).astype(np.float64))
    return [(lambda device: AutoRec(hidden=4, epochs=3, seed=0, device=device), R),
            (lambda device: BiasedMF(factors=3, epochs=3, patience=None, seed=0, device=device), R),
            (lambda device: MultVAE(hidden=8, latent=3, epochs=2, seed=0, device=device), binary)]


@pytest.mark.parametrize("index", range(3))
def test_explicit_cpu_equals_auto_without_a_gpu(index):
    make, train = trainings()[index]
    if CUDA:
        pytest.skip("a GPU is present: auto means CUDA here")
    np.testing.assert_array_equal(make("cpu").fit(train).score(), make("auto").fit(train).score())


@pytest.mark.parametrize("index", range(3))
def test_a_bad_device_is_named(index):
    make, train = trainings()[index]
    with pytest.raises(ConfigError, match="device must be 'auto', 'cpu' or 'cuda"):
        make("tpu").fit(train)


@pytest.mark.skipif(not CUDA, reason="no CUDA device on this machine")
@pytest.mark.parametrize("index", range(3))
def test_training_on_cuda_scores_like_the_cpu(index):
    make, train = trainings()[index]
    on_gpu = make("auto").fit(train)
    assert next(on_gpu.network_.parameters()).device.type == "cuda"
    np.testing.assert_allclose(on_gpu.score(), make("cpu").fit(train).score(), rtol=1e-3, atol=1e-3)
