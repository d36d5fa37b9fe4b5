import os

import numpy as np
import pytest
import torch

import fakecupy
import minigrad as mg
from minigrad import backend, config

GPU = backend.cupy_available()
# Tests marked `cuda` run on a real GPU when CuPy sees one, else on the CuPy stand-in
# tests/fakecupy (device hygiene, not CUDA numerics); MINIGRAD_FAKE_CUPY=1 forces the stand-in.
STAND_IN = not GPU or os.environ.get("MINIGRAD_FAKE_CUPY") == "1"
torch.set_num_threads(1)  # small ops on a shared 2-core machine are far faster single-threaded


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """Run a test on the CPU and again on "cuda" (a GPU, or else the CuPy stand-in)."""
    return request.param


@pytest.fixture(autouse=True)
def _cupy_stand_in(request):
    """For a test marked `cuda` without a real GPU: `import cupy` gives tests/fakecupy."""
    if STAND_IN and request.node.get_closest_marker("cuda"):
        fakecupy.install(request.getfixturevalue("monkeypatch"))


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
