import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import backend, config

GPU = backend.cupy_available()
torch.set_num_threads(1)  # small ops on a shared 2-core machine are far faster single-threaded


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU and, when CuPy sees a GPU, again on the GPU."""
    if request.param == "cuda" and not GPU:
        pytest.skip("no CUDA device visible to CuPy")
    return request.param


@pytest.fixture
def float64():
    """Make float64 the default dtype for one test (restored afterwards)."""
    previous = config.get_default_dtype()
    mg.set_default_dtype(np.float64)
    yield
    mg.set_default_dtype(previous)


@pytest.fixture(autouse=True)
def _fresh_global_state():
    """Every test starts from the same seeds and dtype, whatever ran before it."""
    previous = config.get_default_dtype()
    mg.manual_seed(0)
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    mg.set_default_dtype(previous)
