"""Fixtures every test folder shares, and the `slow` marker (`make test-fast` leaves those out)."""

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains models or runs whole commands (seconds each); "
                                       "`make test-fast` runs everything else")


def _read_only(name: str):
    """A bundled data set whose arrays are read-only, so that no test can change what the others see."""
    from gmia.data import load_bundled

    data = load_bundled(name)
    data.x.flags.writeable = False
    data.y.flags.writeable = False
    return data


@pytest.fixture(scope="session")
def cancer():
    """The bundled UCI Breast Cancer Wisconsin set (699 records), read-only."""
    return _read_only("cancer")


@pytest.fixture(scope="session")
def adult():
    """The bundled Adult set (48,842 records), read-only."""
    return _read_only("adult")


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
