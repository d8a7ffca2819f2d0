import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of models so small that they train no faster on two threads, and much slower
    on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def blobs():
    """Two Gaussian classes in 6 dimensions: small, fast, learnable."""
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)).astype(np.float32) + y[:, None].astype(np.float32) * 1.5
    return x, y.astype(np.int64)
