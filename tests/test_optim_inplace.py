"""The in-place machinery under every optimizer: BLAS axpy, scratch buffers, cache blocks."""
import numpy as np
import pytest
import torch
from optim_side_by_side import run_side_by_side

import minigrad as mg
from minigrad import optim
from minigrad.optim import inplace

CASES = [
    ("SGD", "SGD", dict(lr=0.05)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01, maximize=True)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", "Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", "AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("Adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES, ids=lambda c: str(c))
def test_optimizers_match_torch_when_parameters_span_many_blocks(monkeypatch, ours, theirs, kwargs):
    monkeypatch.setattr(inplace, "BLOCK", 5)   # 12-element parameters become blocks of 5, 5, 2
    _, a, b = run_side_by_side(lambda ps: getattr(optim, ours)(ps, **kwargs),
                               lambda ps: getattr(torch.optim, theirs)(ps, **kwargs))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_lars_and_lamb_blocks_equal_one_block(monkeypatch):
    def run(name, kwargs):
        _, params, _ = run_side_by_side(lambda ps: getattr(optim, name)(ps, **kwargs),
                                        lambda ps: torch.optim.SGD(ps, lr=0.0), num_steps=10)
        return params
    settings = [("LARS", dict(lr=1.0, weight_decay=0.01)), ("LARS", dict(lr=1.0, momentum=0.0)),
                ("LAMB", dict(lr=0.01, weight_decay=0.01))]
    whole = [run(*s) for s in settings]
    monkeypatch.setattr(inplace, "BLOCK", 5)
    for setting, reference in zip(settings, whole):
        for x, y in zip(run(*setting), reference):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1.0, -1.0, 0.37, -2.5, 0.0])
def test_axpy_updates_in_place_and_equals_numpy(dtype, alpha):
    rng = np.random.default_rng(0)
    y, x = rng.standard_normal((7, 9)).astype(dtype), rng.standard_normal((7, 9)).astype(dtype)
    expected = y + dtype(alpha) * x
    before = y.__array_interface__["data"][0]
    assert inplace.axpy_(y, alpha, x) is y
    assert y.__array_interface__["data"][0] == before
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-6)


def test_axpy_on_strided_views_falls_back_correctly():
    base = np.arange(20.0).reshape(4, 5)
    y = base[:, ::2]                                  # not contiguous: BLAS can't write it in place
    x = np.ones((4, 3))
    expected = y + 0.5 * x
    inplace.axpy_(y, 0.5, x)
    np.testing.assert_array_equal(base[:, ::2], expected)


@pytest.mark.parametrize("name, kwargs", [(c[0], c[2]) for c in CASES] + [("LARS", dict(lr=0.1, weight_decay=0.1)),
                                                                        ("LAMB", dict(weight_decay=0.1))])
def test_step_leaves_gradients_untouched_and_handles_strided_arrays(monkeypatch, name, kwargs):
    monkeypatch.setattr(inplace, "BLOCK", 4)
    rng = np.random.default_rng(1)
    p = mg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    grad = np.asfortranarray(rng.standard_normal((6, 5)))           # a column-major gradient
    p.grad = mg.tensor(grad)
    q = mg.tensor(p.data.copy(), requires_grad=True)
    q.grad = mg.tensor(np.ascontiguousarray(grad))
    assert not p.grad.data.flags.c_contiguous
    saved, start = p.grad.data.copy(), p.data.copy()
    opt_p, opt_q = getattr(optim, name)([p], **kwargs), getattr(optim, name)([q], **kwargs)
    for _ in range(3):
        opt_p.step()
        opt_q.step()
    np.testing.assert_array_equal(p.grad.data, saved)
    np.testing.assert_allclose(p.data, q.data, rtol=1e-14)
    assert not np.allclose(p.data, start)
